_base_ = './centerx_r18w32_shortcut.py'
# CenterX-TTF, half width: the fast-training model (docs/experiments.md,
# "Fast training"). ResNet-18 with base_channels=32, CTResNetNeck plus
# TTFNet's shortcuts from the stride-16/8/4 stages (CTResNetShortcutNeck),
# and the training-time-friendly head (CenterXTTFHead: elliptical Gaussian
# heatmap, ltrb regression at every cell of a Gaussian area, GIoU loss).
model = dict(
    bbox_head=dict(
        _delete_=True,
        type='CenterXTTFHead',
        num_classes=80,
        in_channels=32,
        feat_channels=32,
        loss_heatmap=dict(type='GaussianFocalLossWithLogits', loss_weight=1.0),
        # 1.0, not TTFNet's 5.0: faster from random init in the recipe search
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        alpha=0.54,
        beta=0.54,
        heatmap_gaussian='elliptical'))
