# CenterX R18 on the embedded shapes dataset, 1000 iterations, batch 16:
# the student baseline of the distillation experiments (configs/distill/
# kd*_r50-r18_shapes.py use the same schedule) and the teacher of
# self-distillation (configs/distill/self-kd_r18-r18_shapes.py).
_base_ = [
    '../_base_/models/centerx_r18.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_1k.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
