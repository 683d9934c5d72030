# Search space for tools/tune.py (docs/tune.md): learning rate, weight decay
# and the wh / offset loss weights of CenterXHead.
#   python tools/tune.py CONFIG --space configs/tune/space_lr_lossweights.py
# Keys are config paths (as in --cfg-options); values are Ray Tune
# distributions (tune.uniform / loguniform / quniform / randint / choice) or
# optuna.distributions.*Distribution. Ranges are for the AdamW shapes recipes
# (configs/_base_/schedules/schedule_shapes_*.py: lr 1e-3, weight decay 1e-4;
# configs/_base_/models/centerx_r18.py: loss_wh 0.1, loss_offset 1.0); for an
# SGD recipe (schedule_140e_coco.py, lr 0.02) move the lr range.
from ray import tune

space = {
    'optim_wrapper.optimizer.lr': tune.loguniform(2e-4, 5e-3),
    'optim_wrapper.optimizer.weight_decay': tune.loguniform(1e-5, 5e-2),
    'model.bbox_head.loss_wh.loss_weight': tune.loguniform(0.02, 0.5),
    'model.bbox_head.loss_offset.loss_weight': tune.loguniform(0.2, 2.0),
}

# Tried first (then TPE takes over): the recipe's own values, so the search
# knows the baseline. Delete for a recipe with other defaults.
points_to_evaluate = [{
    'optim_wrapper.optimizer.lr': 1e-3,
    'optim_wrapper.optimizer.weight_decay': 1e-4,
    'model.bbox_head.loss_wh.loss_weight': 0.1,
    'model.bbox_head.loss_offset.loss_weight': 1.0,
}]
