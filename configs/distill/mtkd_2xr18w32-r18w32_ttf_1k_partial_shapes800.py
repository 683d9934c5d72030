# Multi-teacher distillation + the labels that exist, on the fast-training
# recipe: as ./mtkd-nolabel_2xr18w32-r18w32_ttf_1k_partial_shapes800.py, but each
# image's labelled classes get the GT losses (not KD: kd_on_labelled=False) and
# its unlabelled classes the teachers' KD. Train with --amp:
#   python tools/train.py configs/distill/mtkd_2xr18w32-r18w32_ttf_1k_partial_shapes800.py --amp \
#       [--cfg-options model.teachers.0.checkpoint=A.pth model.teachers.1.checkpoint=B.pth]
_base_ = ['./mtkd-nolabel_2xr18w32-r18w32_ttf_1k_partial_shapes800.py']
model = dict(use_gt=True, kd_on_labelled=False)
