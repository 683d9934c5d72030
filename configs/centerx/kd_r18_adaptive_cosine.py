# kd_r18.py (R18 student, R50 teacher, GT + KD losses) with the adaptive loss
# ("共产主义loss", docs/adaptive_loss.md) and the cosine schedule of
# centerx_r18_1k_cosine_shapes.py: every GT and KD term is held at a target,
# so the KDLoss weights of kd_r18.py (= configs/distill/kd_r50-r18_shapes.py)
# cancel out and no "run 300 iterations, look at the losses, restart" is
# needed.
#   python tools/train.py configs/centerx/kd_r18_adaptive_cosine.py \
#       [--cfg-options model.teachers.0.checkpoint=PATH/TO/TEACHER.pth]
_base_ = ['./kd_r18.py']
train_cfg = dict(val_interval=250)
# == configs/_base_/schedules/schedule_shapes_1k_cosine.py (a second schedule
# base would clash with the one kd_r18.py inherits)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR',
         by_epoch=False,
         begin=50,
         end=1000,
         T_max=950,
         eta_min_ratio=0.01)
]
randomness = dict(seed=0)
custom_hooks = [
    dict(
        type='AdaptiveLossHook',
        # GT terms as centerx_r18_1k_cosine_adaptive_shapes.py; KD terms with
        # the same heatmap : wh : offset ratio.
        targets={
            'loss_heatmap': 1.0,
            'loss_wh': 0.2,
            'loss_offset': 0.2,
            'loss_kd_heatmap': 1.0,
            'loss_kd_*': 0.2
        },
        momentum=0.0,
        warmup_iters=0)
]
