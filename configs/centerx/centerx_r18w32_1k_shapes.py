# Half-width CenterX R18, classic wh/offset head, 1000 iterations, batch 16,
# AdamW 1e-3 with LR steps at 75% / 90% (the quickstart's recipe before the
# fast-training search): the classic reference of docs/experiments.md,
# "Fast training".
_base_ = [
    '../_base_/models/centerx_r18w32.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_1k.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
train_cfg = dict(val_interval=250)
