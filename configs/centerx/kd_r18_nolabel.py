# Deprecated name, kept so that existing commands run: the same config as
# configs/distill/kd-nolabel_r50-r18_shapes.py (KD without labels).
# Work dirs default to work_dirs/kd_r18_nolabel/.
_base_ = ['../distill/kd-nolabel_r50-r18_shapes.py']
