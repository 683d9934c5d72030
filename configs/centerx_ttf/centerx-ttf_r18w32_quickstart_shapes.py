# Quickstart (tools/quickstart.sh): the CenterX-TTF recipe
# (centerx-ttf_r18w32_1k_shapes.py: half-width R18, neck shortcuts, TTF
# head, AdamW 4e-3, 200-iteration warm-up, cosine) for 1500 iterations at
# batch 16, trained with --amp. Validated at the end only; the log prints an
# ETA every 50 iterations.
_base_ = './centerx-ttf_r18w32_1k_shapes.py'
max_iters = 1500
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        end=max_iters,
        T_max=max_iters - _base_.warmup_iters)
]
default_hooks = dict(
    checkpoint=dict(interval=500), logger=dict(interval=50))
