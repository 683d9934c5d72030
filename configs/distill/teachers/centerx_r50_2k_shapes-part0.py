# Multi-teacher distillation (design notes, "多模型蒸馏"), teacher A: an R50
# trained on part 0 of the partially labelled shapes data, which labels only
# ring and star. A 2-class detector: its part's cross/triangle objects are
# unlabelled, i.e. background to it, which is right for a ring/star detector.
# 2000 iterations, the students' schedule in ../mtkd*_partial_shapes.py
# (tools/experiments/run_kd_seeds.py gives teachers a longer one: a teacher
# must be clearly stronger than the student). Evaluated on the fully labelled
# val split restricted to its classes (allow_unlisted_categories drops the
# other classes' boxes).
#   python tools/train.py configs/distill/teachers/centerx_r50_2k_shapes-part0.py
_base_ = [
    '../../_base_/models/centerx_r50.py', '../../_base_/datasets/shapes.py',
    '../../_base_/schedules/schedule_shapes_2k.py',
    '../../_base_/default_runtime.py'
]
metainfo = dict(classes=('ring', 'star'))
model = dict(bbox_head=dict(num_classes=2))
train_dataloader = dict(
    dataset=dict(
        metainfo=metainfo,
        ann_file='annotations/instances_train_part0.json',
        allow_unlisted_categories=True))
val_dataloader = dict(
    dataset=dict(metainfo=metainfo, allow_unlisted_categories=True))
test_dataloader = val_dataloader
val_evaluator = dict(classwise=True)  # per-class AP: coco/<class>_precision
test_evaluator = val_evaluator
