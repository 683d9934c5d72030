# CenterX-TTF R50 on the fast schedule for 2000 iterations (twice the
# students'): the teacher of the distillation experiments
# (docs/experiments_kd.md). Train with --amp.
_base_ = [
    '../_base_/models/centerx-ttf_r50.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_fast_1k.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
max_iters = 2000
train_cfg = dict(max_iters=max_iters, val_interval=500)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        end=max_iters,
        T_max=max_iters - _base_.warmup_iters)
]
default_hooks = dict(checkpoint=dict(interval=500))
