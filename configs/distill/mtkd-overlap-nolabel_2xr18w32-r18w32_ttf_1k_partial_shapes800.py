# Overlapping teachers, no labels, on the fast-training recipe: teacher A owns
# ring and star, teacher B' (teachers/centerx-ttf_r18w32_3k_shapes800-part1-ring.py)
# owns ring, cross and triangle. The student's ring heatmap is the max of the
# two teachers' ring heatmaps (heatmap_merge='max'); where their peaks meet,
# the more confident teacher's l-t-r-b is the target (conflict='max').
#   python tools/train.py configs/distill/mtkd-overlap-nolabel_2xr18w32-r18w32_ttf_1k_partial_shapes800.py --amp \
#       [--cfg-options model.teachers.0.checkpoint=A.pth model.teachers.1.checkpoint=B_RING.pth]
_base_ = ['./mtkd-nolabel_2xr18w32-r18w32_ttf_1k_partial_shapes800.py']
model = dict(teachers=[
    _base_.model.teachers[0],
    dict(
        config=_base_.teachers_dir +
        'centerx-ttf_r18w32_3k_shapes800-part1-ring.py',
        checkpoint='work_dirs/centerx-ttf_r18w32_3k_shapes800-part1-ring/'
        'iter_3000.pth',
        classes=('ring', 'cross', 'triangle')),
])
