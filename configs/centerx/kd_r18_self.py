# Deprecated name, kept so that existing commands run: the same config as
# configs/distill/self-kd_r18-r18_shapes.py (self-distillation).
# Work dirs default to work_dirs/kd_r18_self/.
_base_ = ['../distill/self-kd_r18-r18_shapes.py']
