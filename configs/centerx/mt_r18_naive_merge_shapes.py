# Baseline "naive merge": both partially labelled parts concatenated and
# trained as if fully labelled (no `annotated_labels` in the metainfo), so
# the unlabelled objects of each part are taught as background.
#   python tools/train.py configs/centerx/mt_r18_naive_merge_shapes.py
_base_ = ['./mt_r18_ignore_unlabelled_shapes.py']
train_dataloader = dict(
    dataset=dict(datasets=[
        # shapes.py's pipeline: PackDetInputs with mmdet's default meta_keys
        dict(ds, pipeline=_base_.train_pipeline)
        for ds in _base_.train_dataloader.dataset.datasets
    ]))
