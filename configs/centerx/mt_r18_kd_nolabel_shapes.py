# Multi-teacher distillation without labels (design notes, "多模型蒸馏",
# resdcn18_KD_woGT_scratch): an R18 student (random init) learns ring/star
# from teacher A and cross/triangle from teacher B on the images of both
# parts; no annotation is used (use_gt=False). Train the teachers first:
#   python tools/train.py configs/centerx/mt_teacher_a_r50_shapes.py
#   python tools/train.py configs/centerx/mt_teacher_b_r50_shapes.py
#   python tools/train.py configs/centerx/mt_r18_kd_nolabel_shapes.py \
#       [--cfg-options model.teachers.0.checkpoint=A.pth \
#                      model.teachers.1.checkpoint=B.pth]
# Checkpoints hold the student only: test them with the plain config, e.g.
#   python tools/test.py \
#       configs/centerx/mt_r18_ignore_unlabelled_shapes.py CKPT
_base_ = ['./mt_r18_ignore_unlabelled_shapes.py']
model = dict(
    type='MultiTeacherDistiller',
    classes=_base_.metainfo.classes,  # teachers are mapped onto these by name
    # {{fileDirname}}: this file's folder, so the teacher configs are found
    # from any working directory (checkpoints: relative to it, as work_dirs)
    teachers=[
        dict(
            config='{{fileDirname}}/mt_teacher_a_r50_shapes.py',
            checkpoint='work_dirs/mt_teacher_a_r50_shapes/iter_2000.pth',
            classes=('ring', 'star')),
        dict(
            config='{{fileDirname}}/mt_teacher_b_r50_shapes.py',
            checkpoint='work_dirs/mt_teacher_b_r50_shapes/iter_2000.pth',
            classes=('cross', 'triangle')),
    ],
    use_gt=False,
    conflict='max',  # most confident teacher's wh/offset where peaks meet
    distill_loss=dict(
        type='KDLoss',
        # 'prob': a student heatmap at its -2.19 init logit gets no gradient
        # from the 'logits' (ReLU) reading; without GT it could not start.
        heatmap_mode='prob',
        mask='peaks',
        # as kd_r18.py: the heatmap MSE is a mean over B*C*H*W cells (same
        # 4 x 32 x 32 maps), 1000 puts its gradient at the GT focal loss's
        # order (docs/experiments_kd.md, "Loss scales")
        loss_heatmap_weight=1000.0,
        loss_wh_weight=0.1,
        loss_offset_weight=1.0))
