# Overlapping teachers: teacher B' labels ring as well as cross and triangle,
# so it shares 'ring' with teacher A (centerx_r50_2k_shapes-part0.py). Trained
# on part 1 with the ring boxes of part 1's images added back from the fully
# labelled JSON (the parts' images stay disjoint):
#   python tools/dataset_converters/extend_partial_labels.py \
#       data/shapes/annotations/instances_train_part1.json \
#       --full data/shapes/annotations/instances_train.json --classes ring \
#       --out data/shapes/annotations/instances_train_part1_ring.json
#   python tools/train.py \
#       configs/distill/teachers/centerx_r50_2k_shapes-part1-ring.py
_base_ = ['./centerx_r50_2k_shapes-part0.py']
metainfo = dict(classes=('ring', 'cross', 'triangle'))
model = dict(bbox_head=dict(num_classes=3))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo,
        ann_file='annotations/instances_train_part1_ring.json'))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
