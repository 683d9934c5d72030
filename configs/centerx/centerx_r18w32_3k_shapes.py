# Classic CenterX (half-width R18, plain CTResNetNeck, wh/offset head) on
# the recipe the quickstart used before the fast-training search: AdamW
# 1e-3, 100-iteration warm-up, LR steps at 75% / 90%, 3000 iterations,
# validated every 250: the classic curve of the convergence plot
# (docs/experiments.md, "Fast training").
_base_ = [
    '../_base_/models/centerx_r18w32.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_3k.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
train_cfg = dict(val_interval=250)
default_hooks = dict(checkpoint=dict(interval=500))
