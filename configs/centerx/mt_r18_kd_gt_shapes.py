# Multi-teacher distillation with the labels that exist: GT losses where a
# part labels a class, teacher distillation for the classes it does not
# (CenterXHead drops the GT heatmap loss of those, kd_on_labelled=False keeps
# the teachers off the labelled ones).
#   python tools/train.py configs/centerx/mt_r18_kd_gt_shapes.py
_base_ = ['./mt_r18_kd_nolabel_shapes.py']
model = dict(
    use_gt=True,
    # union of the parts' annotated_classes
    gt_classes=tuple(c for part in _base_.part_classes for c in part),
    kd_on_labelled=False)
