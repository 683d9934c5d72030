# Multi-teacher teacher B on the 800-image shapes data: as
# ./centerx-ttf_r18w32_3k_shapes800-part0.py on the 400 images of part 1,
# which labels only cross and triangle (its ring/star objects are background).
#   python tools/train.py configs/distill/teachers/centerx-ttf_r18w32_3k_shapes800-part1.py --amp
_base_ = ['./centerx-ttf_r18w32_3k_shapes800-part0.py']
metainfo = dict(classes=('cross', 'triangle'))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo,
        ann_file='annotations/instances_train_part1.json'))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
