# "Ignore unlabelled" on the fast-training recipe (design notes, "多模型蒸馏":
# 屏蔽网络对应的输出): the CenterX-TTF half-width R18 of
# centerx-ttf_r18w32_1k_shapes.py trained on the two partially labelled halves
# of the 800-image shapes data (configs/_base_/datasets/shapes800_partial.py); each image's
# `annotated_labels` switch off the heatmap loss of the classes its half does
# not label. Also the plain config that tests every multi-teacher student of
# docs/experiments_multi_teacher.md ("fast recipe"). Train with --amp:
#   python tools/train.py configs/centerx_ttf/centerx-ttf_r18w32_1k_partial-ignore_shapes800.py --amp
_base_ = [
    '../_base_/models/centerx-ttf_r18w32.py',
    '../_base_/datasets/shapes800_partial.py',
    '../_base_/schedules/schedule_shapes_fast_1k.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
val_evaluator = dict(classwise=True)  # per-class AP: coco/<class>_precision
test_evaluator = val_evaluator
