# CenterX-TTF (half-width R18 + neck shortcuts + TTF head,
# configs/_base_/models/centerx-ttf_r18w32.py) on the fast schedule: 1000
# iterations, batch 16, AdamW 4e-3, 200-iteration warm-up, cosine. The
# winner of the fast-training recipe search (docs/experiments.md); train
# with --amp (bf16 autocast on CPUs with bf16 instructions).
_base_ = [
    '../_base_/models/centerx-ttf_r18w32.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_fast_1k.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)
