# CenterX-TTF recipe (centerx-ttf_r18w32_1k_shapes.py) for 3000 iterations,
# validated every 250: the new-recipe curve of the convergence plot
# (docs/experiments.md, "Fast training"; classic reference:
# configs/centerx/centerx_r18w32_3k_shapes.py).
_base_ = './centerx-ttf_r18w32_1k_shapes.py'
max_iters = 3000
train_cfg = dict(max_iters=max_iters, val_interval=250)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        end=max_iters,
        T_max=max_iters - _base_.warmup_iters)
]
default_hooks = dict(checkpoint=dict(interval=500))
