# CenterX R50 on COCO 2017 (mmdet's CenterNet recipe without DCN).
_base_ = './centerx_r18_140e_coco.py'
model = dict(
    backbone=dict(
        depth=50,
        init_cfg=dict(type='Pretrained', checkpoint='data/resnet50.pth')),
    neck=dict(in_channels=2048))
