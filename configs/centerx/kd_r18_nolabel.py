# Distillation without labels (design notes, "模型蒸馏" point 7): the R18
# student sees the train images as an unlabelled folder (no JSON) and learns
# from the R50 teacher only (use_gt=False). Random init (no ImageNet
# weights available here). Same schedule as kd_r18.py.
_base_ = ['./kd_r18.py']
model = dict(use_gt=False)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='UnlabeledImageDataset',
        data_root=_base_.data_root,
        metainfo=_base_.metainfo,
        data_prefix=dict(img='train/'),
        pipeline=_base_.train_pipeline))
