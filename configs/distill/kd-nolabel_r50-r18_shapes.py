# Distillation without labels (design notes, "模型蒸馏" point 7): the R18
# student sees the train images as an unlabelled folder (no JSON) and learns
# from the R50 teacher only (use_gt=False). Same schedule and teacher as
# kd_r50-r18_shapes.py.
#   python tools/train.py configs/distill/kd-nolabel_r50-r18_shapes.py \
#       [--cfg-options model.teachers.0.checkpoint=TEACHER.pth]
_base_ = ['./kd_r50-r18_shapes.py']
model = dict(use_gt=False)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='UnlabeledImageDataset',
        data_root=_base_.data_root,
        metainfo=_base_.metainfo,
        data_prefix=dict(img='train/'),
        pipeline=_base_.train_pipeline))
