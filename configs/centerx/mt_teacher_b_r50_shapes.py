# Deprecated name, kept so that existing commands run: the same config as
# configs/distill/teachers/centerx_r50_2k_shapes-part1.py
# (teacher B: R50 on part 1, cross and triangle).
# Work dirs default to work_dirs/mt_teacher_b_r50_shapes/.
_base_ = ['../distill/teachers/centerx_r50_2k_shapes-part1.py']
