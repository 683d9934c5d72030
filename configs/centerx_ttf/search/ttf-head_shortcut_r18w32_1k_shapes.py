# TTF head (CenterXTTFHead) on the half-width R18 with TTFNet's neck
# shortcuts (CTResNetShortcutNeck), 1000 iterations, AdamW + cosine
# (docs/experiments.md, "Fast training").
_base_ = [
    '../../_base_/models/centerx-ttf_r18w32.py',
    '../../_base_/datasets/shapes.py',
    '../../_base_/schedules/schedule_shapes_1k_cosine.py',
    '../../_base_/default_runtime.py'
]
# GIoU weight 5 (TTFNet's), as searched; the recipe uses 1.0.
model = dict(
    bbox_head=dict(num_classes=4, loss_bbox=dict(loss_weight=5.0)))
randomness = dict(seed=0)
