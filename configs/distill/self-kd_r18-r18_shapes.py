# Self-distillation (design notes, "模型蒸馏" point 8): the teacher is an R18
# with the student's architecture, trained by centerx_r18_1k_shapes.py; the
# student is trained again from scratch with GT + KD on the same schedule.
#   python tools/train.py configs/centerx/centerx_r18_1k_shapes.py
#   python tools/train.py configs/distill/self-kd_r18-r18_shapes.py \
#       [--cfg-options model.teachers.0.checkpoint=TEACHER.pth]
_base_ = ['./kd_r50-r18_shapes.py']
model = dict(teachers=[
    dict(
        config='{{fileDirname}}/../centerx/centerx_r18_1k_shapes.py',
        checkpoint='work_dirs/centerx_r18_1k_shapes/iter_1000.pth')
])
