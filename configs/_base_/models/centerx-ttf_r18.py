_base_ = './centerx_r18.py'
# CenterX-TTF, full-width ResNet-18: CTResNetNeck plus TTFNet's shortcuts
# from the stride-16/8/4 stages (CTResNetShortcutNeck) and the TTF head
# (CenterXTTFHead), as configs/_base_/models/centerx-ttf_r18w32.py.
model = dict(
    backbone=dict(out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='CTResNetShortcutNeck',
        shortcut_in_channels=(256, 128, 64),
        shortcut_convs=(1, 2, 3)),
    bbox_head=dict(
        _delete_=True,
        type='CenterXTTFHead',
        num_classes=80,
        in_channels=64,
        feat_channels=64,
        loss_heatmap=dict(type='GaussianFocalLossWithLogits', loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        alpha=0.54,
        beta=0.54,
        heatmap_gaussian='elliptical'))
