# Multi-teacher teacher on the 800-image shapes data: as
# ./centerx-ttf_r18w32_3k_shapes-part1.py (cross and triangle), trained on the 400 images
# of part 1 of data/shapes_800 (the 200 images of data/shapes' half left the
# teacher below the fully labelled student, docs/experiments_multi_teacher.md).
#   python tools/train.py configs/distill/teachers/centerx-ttf_r18w32_3k_shapes800-part1.py --amp
_base_ = ['./centerx-ttf_r18w32_3k_shapes-part1.py']
data_root = 'data/shapes_800/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
