# Short schedule for the quickstart and smoke runs: 600 iterations.
_base_ = './schedule_shapes_3k.py'
max_iters = 600
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(_base_.param_scheduler[0], end=50),
    dict(_base_.param_scheduler[1], end=max_iters, milestones=[450, 550])
]
