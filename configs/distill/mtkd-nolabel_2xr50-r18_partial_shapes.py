# Multi-teacher distillation without labels (design notes, "多模型蒸馏",
# resdcn18_KD_woGT_scratch): an R18 student (random init) learns ring/star
# from teacher A and cross/triangle from teacher B on the images of both
# partially labelled parts; no annotation is used (use_gt=False). Train the
# teachers first:
#   python tools/train.py configs/distill/teachers/centerx_r50_2k_shapes-part0.py
#   python tools/train.py configs/distill/teachers/centerx_r50_2k_shapes-part1.py
#   python tools/train.py configs/distill/mtkd-nolabel_2xr50-r18_partial_shapes.py \
#       [--cfg-options model.teachers.0.checkpoint=A.pth \
#                      model.teachers.1.checkpoint=B.pth]
# Checkpoints hold the student only: test them with the plain config, e.g.
#   python tools/test.py \
#       configs/centerx/mt_r18_ignore_unlabelled_shapes.py CKPT
_base_ = ['../centerx/mt_r18_ignore_unlabelled_shapes.py']
teachers_dir = '{{fileDirname}}/teachers/'
model = dict(
    type='CenterXDistiller',
    classes=_base_.metainfo.classes,  # teachers are mapped onto these by name
    teachers=[
        dict(
            config=teachers_dir + 'centerx_r50_2k_shapes-part0.py',
            checkpoint='work_dirs/centerx_r50_2k_shapes-part0/iter_2000.pth',
            classes=('ring', 'star')),
        dict(
            config=teachers_dir + 'centerx_r50_2k_shapes-part1.py',
            checkpoint='work_dirs/centerx_r50_2k_shapes-part1/iter_2000.pth',
            classes=('cross', 'triangle')),
    ],
    use_gt=False,
    heatmap_merge='max',  # a class several teachers own: their max
    conflict='max',  # most confident teacher's regression where peaks meet
    # KDLoss's defaults, written out in ./kd_r50-r18_shapes.py: 'prob' heatmap
    # per confident teacher peak, L1 regression at those peaks
    distill_loss=dict(type='KDLoss'))
