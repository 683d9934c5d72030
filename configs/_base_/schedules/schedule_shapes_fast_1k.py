# The fast-training schedule (docs/experiments.md, "Fast training"): 1000
# iterations at batch 16 (40 epochs of the 400 train images), AdamW at
# 4e-3 (4x the classic 1e-3), a 200-iteration linear warm-up, then cosine
# decay to 1% of the base LR. Children change `max_iters` with the
# scheduler: see configs/centerx_ttf/*_3k_shapes.py.
max_iters = 1000
warmup_iters = 200
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=250)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters,
        T_max=max_iters - warmup_iters,
        eta_min_ratio=0.01)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
