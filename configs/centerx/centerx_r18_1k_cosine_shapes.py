# CenterX R18 on the embedded shapes dataset: 1000 iterations, batch 16,
# AdamW lr 1e-3 with cosine decay. Plain losses (no AdaptiveLossHook): the
# reference for centerx_r18_1k_cosine_adaptive_shapes.py.
_base_ = [
    '../_base_/models/centerx_r18.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_1k_cosine.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
# Same seed for the runs with and without the hook: same init, same batches.
randomness = dict(seed=0)
# Log every 5 iterations without smoothing so loss spikes stay visible in
# vis_data/scalars.json (tools/analysis_tools/plot_loss_curves.py).
default_hooks = dict(logger=dict(interval=5))
log_processor = dict(window_size=1)
