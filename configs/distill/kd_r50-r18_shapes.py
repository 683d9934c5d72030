# Knowledge distillation + GT (design notes, "模型蒸馏"; docs/distillation.md):
# R18 student trained with its GT losses plus the KD losses of a frozen R50
# teacher, on the same 1000-iteration schedule as the R18 baseline
# (configs/centerx/centerx_r18_1k_shapes.py). Train the teacher first (R50,
# twice the student's schedule):
#   python tools/train.py configs/centerx/centerx_r50_2k_shapes.py
#   python tools/train.py configs/distill/kd_r50-r18_shapes.py \
#       [--cfg-options model.teachers.0.checkpoint=TEACHER.pth]
# The checkpoints hold the student only: test them with the plain config,
#   python tools/test.py configs/centerx/centerx_r18_1k_shapes.py CKPT
_base_ = ['../centerx/centerx_r18_1k_shapes.py']
model = dict(
    type='CenterXDistiller',
    classes=_base_.metainfo.classes,  # student classes, matched by name
    teachers=[
        # owns every student class it knows (here all four)
        dict(
            config='{{fileDirname}}/../centerx/centerx_r50_2k_shapes.py',
            checkpoint='work_dirs/centerx_r50_2k_shapes/iter_2000.pth'),
    ],
    use_gt=True,  # GT losses + KD losses
    kd_on_labelled=True,  # KD also where GT exists (classic KD + GT)
    # Scale-free KD (docs/distillation.md): the heatmap term is summed over
    # the cells and divided by the number of the teacher's confident peaks
    # (score >= 0.1, top-K = the student's test_cfg.topk), like the focal
    # loss's avg_factor, so these weights are meant to carry over to other
    # datasets; the regressions are L1 at those peaks, with the GT losses'
    # weights (wh 0.1, offset 1; ltrb 0.1 for a CenterXTTFHead).
    distill_loss=dict(
        type='KDLoss',
        heatmap_mode='prob',
        heatmap_norm='peaks',
        mask='peaks',
        peak_thr=0.1,
        loss_heatmap_weight=1.0,
        loss_wh_weight=0.1,
        loss_offset_weight=1.0,
        loss_ltrb_weight=0.1))
