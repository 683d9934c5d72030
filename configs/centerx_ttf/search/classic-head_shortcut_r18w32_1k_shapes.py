# Classic wh/offset head on the half-width R18 with TTFNet's neck shortcuts
# (CTResNetShortcutNeck), 1000 iterations, AdamW + cosine: the neck alone in
# the fast-training recipe search (docs/experiments.md, "Fast training").
_base_ = [
    '../../_base_/models/centerx_r18w32_shortcut.py',
    '../../_base_/datasets/shapes.py',
    '../../_base_/schedules/schedule_shapes_1k_cosine.py',
    '../../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
