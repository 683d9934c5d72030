# A tiny CenterX for tests: same pipeline/dataset/runtime as the quickstart,
# an 8-channel-wide ResNet-18 so that a train step takes milliseconds.
# Tests point data_root at a generated dataset with --cfg-options.
_base_ = ['../../configs/centerx/centerx_r18_quickstart_shapes.py']
model = dict(
    backbone=dict(base_channels=8),
    neck=dict(in_channels=64, num_deconv_filters=(32, 16, 16)),
    bbox_head=dict(in_channels=16, feat_channels=16))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=8, val_interval=1000)
default_hooks = dict(
    checkpoint=dict(interval=2, max_keep_ckpts=10),
    logger=dict(interval=1))
