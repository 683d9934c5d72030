# Deprecated name, kept so that existing commands run: the same config as
# configs/distill/kd_r50-r18_shapes.py (R18 student + R50 teacher, GT + KD).
# Work dirs default to work_dirs/kd_r18/.
_base_ = ['../distill/kd_r50-r18_shapes.py']
