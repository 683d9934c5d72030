# CenterX R18 on your own COCO-format data (README, "Your own COCO-format
# data"). Copy this file (e.g. to configs/my_project/) and edit the block
# below; everything under it follows from those lines. Changing `img_scale`
# here changes every pipeline: they are built in this file. (A config that
# INHERITS this one and sets `img_scale` would not: the pipelines were built
# here already; tools/train.py and tools/test.py refuse such a config.)
_base_ = [
    '../_base_/models/centerx_r18.py',
    '../_base_/schedules/schedule_shapes_3k.py',
    '../_base_/default_runtime.py'
]

# ---- edit this block ------------------------------------------------------
data_root = 'data/my_data/'
metainfo = dict(classes=('person', 'bicycle'))
train_ann_file = 'annotations/train.json'
val_ann_file = 'annotations/val.json'
train_img_prefix = 'images/'
val_img_prefix = 'images/'
# (w, h) network input. Photos: 512 (CenterNet's COCO size). The output
# stride is 4, so an object needs about 16 px at this scale (4 heatmap
# cells) to be found reliably: pick the size that brings your smallest
# objects there (larger = slower, roughly quadratic). 128 is only for tiny
# synthetic images such as the embedded shapes dataset.
img_scale = (512, 512)
# ----------------------------------------------------------------------------

dataset_type = 'CenterXCocoDataset'
model = dict(bbox_head=dict(num_classes=len(metainfo['classes'])))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.6, 1.3),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=img_scale, allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
# flip TTA for tools/test.py --tta (see configs/_base_/datasets/shapes.py)
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='RandomFlip', prob=1.),
             dict(type='RandomFlip', prob=0.)],
            [dict(type='Resize', scale=img_scale, keep_ratio=True)],
            [dict(type='LoadAnnotations', with_bbox=True)],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                               'scale_factor', 'flip', 'flip_direction'))
            ],
        ])
]

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file=train_ann_file,
        data_prefix=dict(img=train_img_prefix),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file=val_ann_file,
        data_prefix=dict(img=val_img_prefix),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + val_ann_file,
    metric='bbox',
    format_only=False)
test_evaluator = val_evaluator
