# The quickstart BEFORE the fast-training recipe (kept so that the issue-2
# rows of docs/experiments.md reproduce; tools/quickstart.sh now trains
# configs/centerx_ttf/centerx-ttf_r18w32_quickstart_shapes.py): a half-width
# CenterX R18 (ResNet-18 depth, base_channels=32, neck 128-64-32, head 32)
# for 2500 iterations on the embedded shapes dataset.
_base_ = [
    '../_base_/models/centerx_r18w32.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_3k.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
max_iters = 2500
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(_base_.param_scheduler[0], end=50),
    dict(_base_.param_scheduler[1], end=max_iters, milestones=[2000, 2350])
]
default_hooks = dict(checkpoint=dict(interval=500))
