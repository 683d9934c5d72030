# Overlapping teachers, no labels: teacher A owns ring and star, teacher B'
# (teachers/centerx_r50_2k_shapes-part1-ring.py) owns ring, cross and
# triangle. The student's ring heatmap is the max of the two teachers' ring
# heatmaps (heatmap_merge='max'; 'weighted' is the confidence-weighted mean
# sum p^2 / sum p); where their peaks meet, the more confident teacher's
# wh/offset is the target (conflict='max').
#   python tools/train.py \
#       configs/distill/mtkd-overlap-nolabel_2xr50-r18_partial_shapes.py \
#       [--cfg-options model.teachers.0.checkpoint=A.pth \
#                      model.teachers.1.checkpoint=B_RING.pth]
_base_ = ['./mtkd-nolabel_2xr50-r18_partial_shapes.py']
model = dict(teachers=[
    _base_.model.teachers[0],
    dict(
        config=_base_.teachers_dir + 'centerx_r50_2k_shapes-part1-ring.py',
        checkpoint='work_dirs/centerx_r50_2k_shapes-part1-ring/iter_2000.pth',
        classes=('ring', 'cross', 'triangle')),
])
