# ./shapes_partial.py on the 800-image data (./shapes800.py): two disjoint
# halves of 400 images, part 0 labels ring/star, part 1 cross/triangle.
_base_ = './shapes_partial.py'
data_root = 'data/shapes_800/'
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(ds, data_root=data_root)
        for ds in _base_.train_dataloader.dataset.datasets
    ]))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
