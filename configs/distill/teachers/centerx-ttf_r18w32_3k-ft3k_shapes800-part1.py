# Multi-teacher teacher (cross, triangle) on the fast-training recipe, trained longer:
# ./centerx-ttf_r18w32_3k_shapes800-part1.py's 3000 iterations, then 3000 more
# from its final weights with a fresh warm-up + cosine schedule (load_from: a
# warm restart, 6000 iterations in all). After the first 3000 iterations the
# teacher was not clearly stronger on its classes than the fully labelled
# student (docs/experiments_multi_teacher.md). Train the first stage, then
#   python tools/train.py configs/distill/teachers/centerx-ttf_r18w32_3k-ft3k_shapes800-part1.py --amp
_base_ = ['./centerx-ttf_r18w32_3k_shapes800-part1.py']
load_from = 'work_dirs/centerx-ttf_r18w32_3k_shapes800-part1/iter_3000.pth'
