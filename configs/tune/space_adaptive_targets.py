# Search space for tools/tune.py (docs/tune.md): the fixed targets of
# AdaptiveLossHook (centerx_mm/engine/hooks/adaptive_loss_hook.py,
# docs/adaptive_loss.md), "per dataset and backbone" as the design notes say.
#   python tools/tune.py configs/centerx/centerx_r18_1k_cosine_adaptive_shapes.py \
#       --space configs/tune/space_adaptive_targets.py
# For configs whose custom_hooks are [AdaptiveLossHook] (configs/centerx/
# *adaptive*; the class-count check is a default hook): `custom_hooks.0` is
# the AdaptiveLossHook; the tool rejects the keys (naming them) if another
# config has it elsewhere.
# The hook holds each weighted loss term at its target, so the total loss is
# the sum of the targets and scaling all of them is a learning-rate change:
# loss_heatmap stays at 1.0 and the wh / offset targets move relative to it
# (the shipped configs use 0.2 for both). KD configs
# (kd_r18_adaptive_cosine.py) have more patterns: add their keys
# ('custom_hooks.0.targets.loss_kd_heatmap', ...).
from ray import tune

space = {
    'custom_hooks.0.targets.loss_wh': tune.loguniform(0.02, 1.0),
    'custom_hooks.0.targets.loss_offset': tune.loguniform(0.02, 1.0),
}

points_to_evaluate = [{
    'custom_hooks.0.targets.loss_wh': 0.2,
    'custom_hooks.0.targets.loss_offset': 0.2,
}]
