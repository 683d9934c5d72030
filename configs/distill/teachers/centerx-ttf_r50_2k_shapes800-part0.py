# Multi-teacher teacher A on the fast-training recipe: the CenterX-TTF R50
# (../../centerx_ttf/centerx-ttf_r50_2k_shapes.py, 2000 iterations) trained on
# part 0 of data/shapes_800 (400 images), which labels only ring and star (its
# cross/triangle objects are background to it). Evaluated on the fully
# labelled val split restricted to its classes. A half-width R18 teacher
# (./centerx-ttf_r18w32_3k_shapes800-part0.py) was not clearly stronger than
# the fully labelled student (docs/experiments_multi_teacher.md).
#   python tools/train.py configs/distill/teachers/centerx-ttf_r50_2k_shapes800-part0.py --amp
_base_ = ['../../centerx_ttf/centerx-ttf_r50_2k_shapes.py']
data_root = 'data/shapes_800/'
metainfo = dict(classes=('ring', 'star'))
model = dict(bbox_head=dict(num_classes=2))
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train_part0.json',
        allow_unlisted_categories=True))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root, metainfo=metainfo,
        allow_unlisted_categories=True))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/instances_val.json',
    classwise=True)  # per-class AP: coco/<class>_precision
test_evaluator = val_evaluator
