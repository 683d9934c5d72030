# Deprecated name, kept so that existing commands run: the same config as
# configs/distill/mtkd_2xr50-r18_partial_shapes.py
# (multi-teacher KD + existing labels).
# Work dirs default to work_dirs/mt_r18_kd_gt_shapes/.
_base_ = ['../distill/mtkd_2xr50-r18_partial_shapes.py']
