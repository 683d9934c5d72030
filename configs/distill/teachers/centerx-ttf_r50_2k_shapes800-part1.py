# Multi-teacher teacher B on the fast-training recipe: as
# ./centerx-ttf_r50_2k_shapes800-part0.py on part 1 of data/shapes_800, which
# labels only cross and triangle.
#   python tools/train.py configs/distill/teachers/centerx-ttf_r50_2k_shapes800-part1.py --amp
_base_ = ['./centerx-ttf_r50_2k_shapes800-part0.py']
metainfo = dict(classes=('cross', 'triangle'))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo,
        ann_file='annotations/instances_train_part1.json'))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
