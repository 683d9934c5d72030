# CenterX R18 on the embedded shapes dataset, 3k iterations, batch 16.
_base_ = [
    '../_base_/models/centerx_r18.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_3k.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
