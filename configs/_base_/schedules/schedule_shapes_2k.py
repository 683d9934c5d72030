# 2000 iterations, batch 16 (80 epochs): the teacher schedule of the
# distillation experiments, twice the students' (docs/experiments_kd.md).
# Same optimizer, warm-up and LR steps (at 75% and 90%) as the 3k schedule.
_base_ = './schedule_shapes_3k.py'
max_iters = 2000
train_cfg = dict(max_iters=max_iters, val_interval=1000)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_iters, milestones=[1500, 1800])
]
