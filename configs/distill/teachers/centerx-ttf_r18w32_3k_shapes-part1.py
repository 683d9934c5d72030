# Multi-teacher distillation on the fast-training recipe, teacher B:
# CenterX-TTF half-width R18 trained on part 1 of the partially labelled shapes
# data, which labels only cross and triangle (its ring/star objects are background
# to it). 3000 iterations, 3x the students' (a teacher must be clearly stronger
# on its classes than the fully labelled student). Evaluated on the fully
# labelled val split restricted to its classes.
#   python tools/train.py configs/distill/teachers/centerx-ttf_r18w32_3k_shapes-part1.py --amp
_base_ = ['../../centerx_ttf/centerx-ttf_r18w32_3k_shapes.py']
metainfo = dict(classes=('cross', 'triangle'))
model = dict(bbox_head=dict(num_classes=2))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo,
        ann_file='annotations/instances_train_part1.json',
        allow_unlisted_categories=True))
val_dataloader = dict(
    dataset=dict(metainfo=metainfo, allow_unlisted_categories=True))
test_dataloader = val_dataloader
val_evaluator = dict(classwise=True)  # per-class AP: coco/<class>_precision
test_evaluator = val_evaluator
