# Self-distillation on the fast-training recipe: the teacher is a CenterX-TTF
# half-width R18 trained by configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py
# (same architecture as the student); the student is trained again from
# scratch with GT + KD on the same 1000-iteration schedule. Train with --amp:
#   python tools/train.py configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py --amp
#   python tools/train.py configs/distill/self-kd_r18w32-r18w32_ttf_1k_shapes.py \
#       --amp [--cfg-options model.teachers.0.checkpoint=TEACHER.pth]
_base_ = ['./kd_r50-r18w32_ttf_1k_shapes.py']
model = dict(teachers=[
    dict(
        config='{{fileDirname}}/../centerx_ttf/centerx-ttf_r18w32_1k_shapes.py',
        checkpoint='work_dirs/centerx-ttf_r18w32_1k_shapes/iter_1000.pth')
])
