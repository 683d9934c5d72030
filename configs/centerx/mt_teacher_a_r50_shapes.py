# Deprecated name, kept so that existing commands run: the same config as
# configs/distill/teachers/centerx_r50_2k_shapes-part0.py
# (teacher A: R50 on part 0, ring and star).
# Work dirs default to work_dirs/mt_teacher_a_r50_shapes/.
_base_ = ['../distill/teachers/centerx_r50_2k_shapes-part0.py']
