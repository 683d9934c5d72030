# Deprecated name, kept so that existing commands run: the same config as
# configs/distill/mtkd-nolabel_2xr50-r18_partial_shapes.py
# (multi-teacher KD without labels).
# Work dirs default to work_dirs/mt_r18_kd_nolabel_shapes/.
_base_ = ['../distill/mtkd-nolabel_2xr50-r18_partial_shapes.py']
