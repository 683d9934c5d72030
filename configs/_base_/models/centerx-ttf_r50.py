_base_ = './centerx-ttf_r18.py'
# CenterX-TTF, ResNet-50: the stages give 256/512/1024/2048 channels.
model = dict(
    backbone=dict(depth=50),
    neck=dict(in_channels=2048, shortcut_in_channels=(1024, 512, 256)))
