# Multi-teacher distillation without labels on the fast-training recipe
# (design notes, "多模型蒸馏"): a CenterX-TTF half-width R18 student (random
# init, 1000 iterations) learns ring/star from teacher A and cross/triangle
# from teacher B (CenterX-TTF half-width R18s, 3000 + 3000 iterations on one
# partially labelled 400-image half of data/shapes_800 each) on the images of
# both halves; no annotation is used (use_gt=False). Train the teachers first, then (--amp):
#   for i in 0 1; do
#     python tools/train.py configs/distill/teachers/centerx-ttf_r18w32_3k_shapes800-part$i.py --amp
#     python tools/train.py configs/distill/teachers/centerx-ttf_r18w32_3k-ft3k_shapes800-part$i.py --amp
#   done
#   python tools/train.py configs/distill/mtkd-nolabel_2xr18w32-r18w32_ttf_1k_partial_shapes800.py --amp \
#       [--cfg-options model.teachers.0.checkpoint=A.pth model.teachers.1.checkpoint=B.pth]
# Checkpoints hold the student only: test them with
#   python tools/test.py configs/centerx_ttf/centerx-ttf_r18w32_1k_partial-ignore_shapes800.py CKPT
_base_ = ['../centerx_ttf/centerx-ttf_r18w32_1k_partial-ignore_shapes800.py']
teachers_dir = '{{fileDirname}}/teachers/'
model = dict(
    type='CenterXDistiller',
    classes=_base_.metainfo.classes,  # teachers are mapped onto these by name
    teachers=[
        dict(
            config=teachers_dir + 'centerx-ttf_r18w32_3k-ft3k_shapes800-part0.py',
            checkpoint='work_dirs/centerx-ttf_r18w32_3k-ft3k_shapes800-part0/'
            'iter_3000.pth',
            classes=('ring', 'star')),
        dict(
            config=teachers_dir + 'centerx-ttf_r18w32_3k-ft3k_shapes800-part1.py',
            checkpoint='work_dirs/centerx-ttf_r18w32_3k-ft3k_shapes800-part1/'
            'iter_3000.pth',
            classes=('cross', 'triangle')),
    ],
    use_gt=False,
    heatmap_merge='max',  # a class several teachers own: their max
    conflict='max',  # most confident teacher's regression where peaks meet
    distill_loss=dict(type='KDLoss'))  # defaults: see ./kd_r50-r18_shapes.py
