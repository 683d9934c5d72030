# Short schedule for the quickstart and smoke runs: 600 iterations.
_base_ = './schedule_shapes_3k.py'
max_iters = 600
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[450, 550],
        gamma=0.1)
]
