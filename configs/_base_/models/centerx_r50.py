_base_ = './centerx_r18.py'
# CenterNet R50: same neck and head, ResNet-50 backbone (2048 channels out).
model = dict(
    backbone=dict(depth=50),
    neck=dict(in_channels=2048))
