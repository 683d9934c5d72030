# Half-width CenterX R18 (configs/_base_/models/centerx_r18w32.py) on the
# cosine schedule of centerx_r18_1k_cosine_shapes.py (1000 iterations, AdamW,
# cosine decay, loss logged every iteration): the plain reference of the
# high-LR adaptive-loss experiment (docs/experiments_adaptive_loss.md),
# where it runs at LRs several times the configured 1e-3, e.g.
#   python tools/train.py configs/centerx/centerx_r18w32_1k_cosine_shapes.py \
#       --cfg-options optim_wrapper.optimizer.lr=3e-2
_base_ = [
    '../_base_/models/centerx_r18w32.py', '../_base_/datasets/shapes.py',
    '../_base_/schedules/schedule_shapes_1k_cosine.py',
    '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=4))
randomness = dict(seed=0)  # same init and batches with and without the hook
default_hooks = dict(logger=dict(interval=1))
log_processor = dict(window_size=1)
