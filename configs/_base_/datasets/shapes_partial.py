# Partially labelled shapes (design notes, "多模型蒸馏"): the 400 train images
# split into two disjoint halves, part 0 labels only ring/star, part 1 only
# cross/triangle (each still shows all four classes). Generate with
#   python tools/dataset_converters/make_shapes_dataset.py \
#       --out-dir data/shapes --partial-splits "ring,star;cross,triangle"
# Train: both parts concatenated, each image carrying `annotated_labels` (from
# the JSON's top-level "annotated_classes") in its metainfo, so CenterXHead
# drops the heatmap loss of the classes its part does not label ("ignore
# unlabelled") and CenterXDistiller knows which classes to distil.
# Val/test: the fully labelled val split (configs/_base_/datasets/shapes.py).
_base_ = './shapes.py'

part_classes = (('ring', 'star'), ('cross', 'triangle'))
part_ann_files = ('annotations/instances_train_part0.json',
                  'annotations/instances_train_part1.json')
partial_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                     'scale_factor', 'flip', 'flip_direction',
                     'annotated_labels')
# shapes.py's train pipeline, packing `annotated_labels` too
partial_train_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='PackDetInputs', meta_keys=partial_meta_keys)
]

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type=_base_.dataset_type,
                data_root=_base_.data_root,
                metainfo=_base_.metainfo,
                ann_file=ann_file,
                data_prefix=dict(img='train/'),
                filter_cfg=dict(filter_empty_gt=False),
                pipeline=partial_train_pipeline)
            for ann_file in part_ann_files
        ]))
