# Worked example (README, "Starting from mmdet's CenterNet"): inherit
# mmdet's own CenterNet R18 config (no DCN) with the `mmdet::` prefix, swap in
# CenterXHead and fine-tune from an mmdet CenterNet checkpoint. The head's
# parameter names and shapes are mmdet's CenterNetHead's (heatmap_head /
# wh_head / offset_head, conv3x3-ReLU-conv1x1), so the checkpoint loads as
# it is: mmdet's head returns sigmoid(heatmap_head(x)), ours the logits.
#   python tools/train.py \
#       configs/centerx/centerx_r18_from-mmdet-centernet_coco.py \
#       --cfg-options load_from=/path/to/centernet_r18_crop512_140e_coco.pth
_base_ = 'mmdet::centernet/centernet_r18_8xb16-crop512-140e_coco.py'

# mmdet's config says default_scope='mmdet'; ours holds mmdet's modules too.
default_scope = 'centerx_mm'
custom_imports = dict(
    imports=['centerx_mm.registry'], allow_failed_imports=False)

model = dict(
    # Every dict with a `type` that comes from an `mmdet::` base is built in
    # mmdet's scope (mmengine adds `_scope_='mmdet'` to it). CenterX and
    # CenterXHead live in ours: say so here (backbone, neck and head are
    # then looked up in centerx_mm, which falls back to mmdet).
    _scope_='centerx_mm',
    type='CenterX',
    # mmdet's base wants torchvision://resnet18; nothing is downloaded here
    # (the mmdet checkpoint of load_from holds the backbone anyway)
    backbone=dict(init_cfg=None),
    bbox_head=dict(
        _delete_=True,
        type='CenterXHead',
        num_classes=80,
        in_channels=64,
        feat_channels=64,
        loss_heatmap=dict(type='GaussianFocalLossWithLogits', loss_weight=1.0),
        loss_wh=dict(type='L1Loss', loss_weight=0.1),
        loss_offset=dict(type='L1Loss', loss_weight=1.0)),
    test_cfg=dict(_delete_=True, topk=100, local_maximum_kernel=3))

# mmdet's default_runtime has no class-count check; ours is a default hook.
default_hooks = dict(num_classes_check=dict(type='NumClassesCheckHook'))

# An mmdet CenterNet checkpoint, a LOCAL file (e.g. mmdet's released
# centernet_r18_crop512_140e_coco_*.pth); with another num_classes its
# heatmap output conv is skipped (size mismatch) and trained from scratch.
load_from = None
