# Multi-teacher distillation, teacher B: as mt_teacher_a_r50_shapes.py, on
# part 1 of the partially labelled shapes data (labels cross and triangle).
#   python tools/train.py configs/centerx/mt_teacher_b_r50_shapes.py
_base_ = ['./mt_teacher_a_r50_shapes.py']
metainfo = dict(classes=('cross', 'triangle'))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo, ann_file='annotations/instances_train_part1.json'))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
