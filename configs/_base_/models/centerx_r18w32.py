_base_ = './centerx_r18.py'
# Half-width CenterNet R18: ResNet-18 depth with base_channels=32 (256
# channels out), neck 128-64-32, head 32. 3-4x cheaper per step than the
# full-width R18 on CPU (docs/experiments.md): the model of the quickstart and of the experiments
# that need many runs (docs/experiments.md).
model = dict(
    backbone=dict(base_channels=32),
    neck=dict(in_channels=256, num_deconv_filters=(128, 64, 32)),
    bbox_head=dict(in_channels=32, feat_channels=32))
