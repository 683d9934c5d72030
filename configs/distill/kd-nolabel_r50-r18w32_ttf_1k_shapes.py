# Distillation without labels on the fast-training recipe (design notes,
# "模型蒸馏" point 7): the half-width R18 CenterX-TTF student sees the train
# images as an unlabelled folder (no JSON) and learns from the R50 CenterX-TTF
# teacher only (use_gt=False). Same schedule and teacher as
# kd_r50-r18w32_ttf_1k_shapes.py; train with --amp:
#   python tools/train.py configs/distill/kd-nolabel_r50-r18w32_ttf_1k_shapes.py \
#       --amp [--cfg-options model.teachers.0.checkpoint=TEACHER.pth]
# Test with the plain config,
#   python tools/test.py configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py CKPT
_base_ = ['./kd_r50-r18w32_ttf_1k_shapes.py']
model = dict(use_gt=False)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='UnlabeledImageDataset',
        data_root=_base_.data_root,
        metainfo=_base_.metainfo,
        data_prefix=dict(img='train/'),
        pipeline=_base_.train_pipeline))
