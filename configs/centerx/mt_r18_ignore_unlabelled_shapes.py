# Baseline "ignore unlabelled" (design notes, "多模型蒸馏": 屏蔽网络对应的输出):
# R18, 4 classes, trained on both partially labelled parts; every image carries
# `annotated_labels` (configs/_base_/datasets/shapes_partial.py), so
# CenterXHead drops the heatmap focal loss (only negatives exist there) of the
# classes its part does not label. 2000 iterations, as every row of
# docs/experiments_multi_teacher.md.
#   python tools/train.py configs/centerx/mt_r18_ignore_unlabelled_shapes.py
_base_ = [
    '../_base_/models/centerx_r18.py', '../_base_/datasets/shapes_partial.py',
    '../_base_/schedules/schedule_shapes_2k.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
val_evaluator = dict(classwise=True)  # per-class AP: coco/<class>_precision
test_evaluator = val_evaluator
