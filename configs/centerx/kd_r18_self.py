# Self-distillation (design notes, "模型蒸馏" point 8): the teacher is an R18
# with the student's architecture, trained by centerx_r18_1k_shapes.py; the
# student is trained again from scratch with GT + KD on the same schedule.
#   python tools/train.py configs/centerx/centerx_r18_1k_shapes.py
#   python tools/train.py configs/centerx/kd_r18_self.py
_base_ = ['./kd_r18.py']
model = dict(
    teacher_config='{{fileDirname}}/centerx_r18_1k_shapes.py',
    teacher_ckpt='work_dirs/centerx_r18_1k_shapes/iter_1000.pth')
