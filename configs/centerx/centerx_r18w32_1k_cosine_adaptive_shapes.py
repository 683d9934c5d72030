# centerx_r18_1k_cosine_adaptive_shapes.py (AdaptiveLossHook, same targets)
# with the half-width R18 and per-iteration logging of
# centerx_r18w32_1k_cosine_shapes.py: the hook side of the high-LR
# experiment (docs/experiments_adaptive_loss.md), e.g.
#   python tools/train.py \
#       configs/centerx/centerx_r18w32_1k_cosine_adaptive_shapes.py \
#       --cfg-options optim_wrapper.optimizer.lr=3e-2
_base_ = './centerx_r18_1k_cosine_adaptive_shapes.py'
model = dict(  # configs/_base_/models/centerx_r18w32.py
    backbone=dict(base_channels=32),
    neck=dict(in_channels=256, num_deconv_filters=(128, 64, 32)),
    bbox_head=dict(in_channels=32, feat_channels=32))
default_hooks = dict(logger=dict(interval=1))
