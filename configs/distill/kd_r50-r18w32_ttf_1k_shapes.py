# Knowledge distillation + GT on the fast-training recipe (docs/
# experiments_kd.md, "CenterX-TTF"): half-width R18 CenterX-TTF student
# (configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py, 1000 iterations) and
# a full-width R50 CenterX-TTF teacher trained for 2000 iterations. Both
# heads are CenterXTTFHead: KD on the heatmap (per teacher peak) and on the
# l-t-r-b distances at the teacher's confident peaks. Train with --amp:
#   python tools/train.py configs/centerx_ttf/centerx-ttf_r50_2k_shapes.py --amp
#   python tools/train.py configs/distill/kd_r50-r18w32_ttf_1k_shapes.py --amp \
#       [--cfg-options model.teachers.0.checkpoint=TEACHER.pth]
# The checkpoints hold the student only: test them with the plain config,
#   python tools/test.py configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py CKPT
_base_ = ['../centerx_ttf/centerx-ttf_r18w32_1k_shapes.py']
model = dict(
    type='CenterXDistiller',
    classes=_base_.metainfo.classes,  # student classes, matched by name
    teachers=[
        dict(
            config='{{fileDirname}}/../centerx_ttf/centerx-ttf_r50_2k_shapes.py',
            checkpoint='work_dirs/centerx-ttf_r50_2k_shapes/iter_2000.pth'),
    ],
    use_gt=True,  # GT losses + KD losses
    kd_on_labelled=True,
    # KDLoss defaults (written out in ./kd_r50-r18_shapes.py): 'prob' heatmap
    # per confident teacher peak (score >= 0.1, top-K), L1 l-t-r-b at those
    # peaks with the GT GIoU term's weight scale (loss_ltrb_weight 0.1)
    distill_loss=dict(type='KDLoss'))
