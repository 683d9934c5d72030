# Quickstart: CenterX R18, 600 iterations on the embedded shapes dataset
# (about 5 minutes of training on 2 CPU cores).
_base_ = [
    '../_base_/models/centerx_r18.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_600.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
default_hooks = dict(checkpoint=dict(interval=200))
