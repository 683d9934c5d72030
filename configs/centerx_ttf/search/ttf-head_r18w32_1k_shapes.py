# Half-width CenterX R18 with the training-time-friendly head alone
# (CenterXTTFHead, plain CTResNetNeck; configs/_base_/models/
# centerx_r18w32_ttf.py), 1000 iterations, batch 16, AdamW + cosine: the
# head alone in the fast-training recipe search (docs/experiments.md, "Fast training").
_base_ = [
    '../../_base_/models/centerx_r18w32_ttf.py', '../../_base_/datasets/shapes.py',
    '../../_base_/schedules/schedule_shapes_1k_cosine.py',
    '../../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
