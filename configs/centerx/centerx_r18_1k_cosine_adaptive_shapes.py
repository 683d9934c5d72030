# centerx_r18_1k_cosine_shapes.py with the adaptive loss ("共产主义loss",
# AdaptiveLossHook, docs/adaptive_loss.md): every head loss is held at a
# fixed target value; the cosine LR shapes the step size.
_base_ = './centerx_r18_1k_cosine_shapes.py'
custom_hooks = [
    dict(
        type='AdaptiveLossHook',
        # Targets = the plain run's loss values around mid-training, so the
        # balance between heads starts out as in the baseline.
        targets=dict(loss_heatmap=1.0, loss_wh=0.2, loss_offset=0.2),
        momentum=0.0,
        warmup_iters=0)
]
