# 1000 iterations (40 epochs of the 400-image train split at batch 16) with
# a 50-iteration linear warm-up and cosine decay to 1% of the base LR: the
# schedule the design notes pair with the adaptive loss ("共产主义loss").
# Optimizer and gradient clipping as the 3k baseline (AdamW, lr 1e-3).
_base_ = './schedule_shapes_3k.py'
max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=250)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR',
         by_epoch=False,
         begin=50,
         end=max_iters,
         T_max=max_iters - 50,
         eta_min_ratio=0.01)
]
