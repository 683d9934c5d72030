# "shapes800": the shapes data with 800 train images (val: the same 100 images
# as data/shapes, the generator's val split depends only on the seed). Used by
# the multi-teacher table, where each partially labelled half must hold enough
# images for its teacher to beat the fully labelled student
# (docs/experiments_multi_teacher.md). Generate with
#   python tools/dataset_converters/make_shapes_dataset.py --out-dir data/shapes_800 \
#       --num-train 800 --partial-splits "ring,star;cross,triangle"
_base_ = './shapes.py'
data_root = 'data/shapes_800/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
