# CenterNet R18: mmdet ResNet-18 -> CTResNetNeck (3 deconvs, stride 4, no
# DCN so that it exports) -> CenterXHead. Random init by default; for ImageNet
# weights set a LOCAL file (nothing is downloaded):
#   --cfg-options model.backbone.init_cfg.type=Pretrained
#                 model.backbone.init_cfg.checkpoint=/path/resnet18.pth
# (the backbone has no init_cfg key here, so that these options can add one)
model = dict(
    type='CenterX',
    # mmdet's DetDataPreprocessor + a channels-last (NHWC) batch: faster
    # convolutions on CPU (oneDNN) and GPU (docs/benchmarks.md).
    data_preprocessor=dict(
        type='CenterXDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        channels_last=True),
    backbone=dict(
        type='ResNet',
        depth=18,
        norm_eval=False,
        norm_cfg=dict(type='BN')),
    neck=dict(
        type='CTResNetNeck',
        in_channels=512,
        num_deconv_filters=(256, 128, 64),
        num_deconv_kernels=(4, 4, 4),
        use_dcn=False),
    bbox_head=dict(
        type='CenterXHead',
        num_classes=80,
        in_channels=64,
        feat_channels=64,
        loss_heatmap=dict(type='GaussianFocalLossWithLogits', loss_weight=1.0),
        loss_wh=dict(type='L1Loss', loss_weight=0.1),
        loss_offset=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=None,
    test_cfg=dict(topk=100, local_maximum_kernel=3))
