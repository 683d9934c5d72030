# CenterX R18 on COCO 2017 (mmdet's CenterNet recipe without DCN). Give a
# LOCAL ImageNet checkpoint for the backbone, e.g.
#   --cfg-options model.backbone.init_cfg.checkpoint=/data/resnet18.pth
_base_ = [
    '../_base_/models/centerx_r18.py', '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_140e_coco.py',
    '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True, type='Pretrained',
            checkpoint='data/resnet18.pth')),
    bbox_head=dict(num_classes=80))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=2000, by_epoch=False))
