# CenterX R50 teacher for distillation on the embedded shapes dataset:
# 2000 iterations (twice the students' schedule). Random init: no ImageNet
# weights here, so the bigger net needs the longer schedule to be the
# stronger one (docs/experiments_kd.md).
_base_ = [
    '../_base_/models/centerx_r50.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_2k.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
