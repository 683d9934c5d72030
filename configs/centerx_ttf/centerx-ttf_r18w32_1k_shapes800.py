# centerx-ttf_r18w32_1k_shapes.py on the 800-image shapes data
# (configs/_base_/datasets/shapes800.py), fully labelled: the reference of the
# multi-teacher table (docs/experiments_multi_teacher.md). Train with --amp.
_base_ = [
    '../_base_/models/centerx-ttf_r18w32.py',
    '../_base_/datasets/shapes800.py',
    '../_base_/schedules/schedule_shapes_fast_1k.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
val_evaluator = dict(classwise=True)  # per-class AP: coco/<class>_precision
test_evaluator = val_evaluator
