# Overlapping teachers on the fast-training recipe: teacher B' labels ring as
# well as cross and triangle, so it shares 'ring' with teacher A
# (./centerx-ttf_r18w32_3k_shapes800-part0.py). Trained on part 1 of
# data/shapes_800 with the ring boxes of part 1's images added back from the
# fully labelled JSON (the parts' images stay disjoint):
#   python tools/dataset_converters/extend_partial_labels.py \
#       data/shapes_800/annotations/instances_train_part1.json \
#       --full data/shapes_800/annotations/instances_train.json --classes ring \
#       --out data/shapes_800/annotations/instances_train_part1_ring.json
#   python tools/train.py configs/distill/teachers/centerx-ttf_r18w32_3k_shapes800-part1-ring.py --amp
_base_ = ['./centerx-ttf_r18w32_3k_shapes800-part1.py']
metainfo = dict(classes=('ring', 'cross', 'triangle'))
model = dict(bbox_head=dict(num_classes=3))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo,
        ann_file='annotations/instances_train_part1_ring.json'))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
