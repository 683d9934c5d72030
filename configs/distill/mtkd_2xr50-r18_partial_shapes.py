# Multi-teacher distillation with the labels that exist: GT losses where a
# part labels a class (each image's `annotated_labels`), the teachers for
# the classes it does not label (kd_on_labelled=False keeps the teachers off
# the labelled ones; CenterXHead drops the GT heatmap loss of the others).
#   python tools/train.py configs/distill/mtkd_2xr50-r18_partial_shapes.py \
#       [--cfg-options model.teachers.0.checkpoint=A.pth \
#                      model.teachers.1.checkpoint=B.pth]
_base_ = ['./mtkd-nolabel_2xr50-r18_partial_shapes.py']
model = dict(use_gt=True, kd_on_labelled=False)
