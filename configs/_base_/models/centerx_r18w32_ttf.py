_base_ = './centerx_r18w32.py'
# Half-width CenterX R18 with the training-time-friendly head (TTFNet, Liu et
# al. AAAI 2020; CenterXTTFHead): elliptical Gaussian heatmap, ltrb
# regression at every cell of a Gaussian area around each centre, GIoU loss.
model = dict(
    bbox_head=dict(
        _delete_=True,
        type='CenterXTTFHead',
        num_classes=80,
        in_channels=32,
        feat_channels=32,
        loss_heatmap=dict(type='GaussianFocalLossWithLogits', loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=5.0),
        alpha=0.54,
        beta=0.54,
        heatmap_gaussian='elliptical'))
