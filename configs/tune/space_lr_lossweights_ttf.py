# Search space for tools/tune.py (docs/tune.md) around the CenterX-TTF
# recipe (configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py: AdamW lr 4e-3,
# weight decay 1e-4, GIoU weight 1.0, heatmap weight 1.0): learning rate,
# weight decay and the two loss weights of CenterXTTFHead.
#   python tools/tune.py configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py \
#       --space configs/tune/space_lr_lossweights_ttf.py --amp
# (space_lr_lossweights.py is the same for the classic wh/offset head.)
from ray import tune

space = {
    'optim_wrapper.optimizer.lr': tune.loguniform(1e-3, 1.2e-2),
    'optim_wrapper.optimizer.weight_decay': tune.loguniform(1e-5, 5e-2),
    'model.bbox_head.loss_bbox.loss_weight': tune.loguniform(0.25, 5.0),
    'model.bbox_head.loss_heatmap.loss_weight': tune.loguniform(0.5, 2.0),
}

# Tried first (then TPE takes over): the recipe's own values.
points_to_evaluate = [{
    'optim_wrapper.optimizer.lr': 4e-3,
    'optim_wrapper.optimizer.weight_decay': 1e-4,
    'model.bbox_head.loss_bbox.loss_weight': 1.0,
    'model.bbox_head.loss_heatmap.loss_weight': 1.0,
}]
