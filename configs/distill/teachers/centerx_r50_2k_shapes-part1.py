# Multi-teacher distillation, teacher B: as centerx_r50_2k_shapes-part0.py, on
# part 1 of the partially labelled shapes data (labels cross and triangle).
#   python tools/train.py configs/distill/teachers/centerx_r50_2k_shapes-part1.py
_base_ = ['./centerx_r50_2k_shapes-part0.py']
metainfo = dict(classes=('cross', 'triangle'))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo, ann_file='annotations/instances_train_part1.json'))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
