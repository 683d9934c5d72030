default_scope = 'centerx_mm'
# Imported by Config.fromfile: sets up our registries (whose `locations`
# import the modules) and the weights-only checkpoint loader, so mmdet's and
# mmdeploy's tools and DetInferencer(scope='centerx_mm') work on these configs
# without any wrapper.
custom_imports = dict(
    imports=['centerx_mm.mmdet_plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # by_epoch=False: checkpoints every `interval` iterations, so a killed run
    # loses at most that many iterations (`tools/train.py --resume`).
    # DurableCheckpointHook: atomic writes, old files deleted after the new
    # one is on disk, strict load_from (partial_load=True to fine-tune).
    checkpoint=dict(
        type='DurableCheckpointHook',
        interval=100,
        by_epoch=False,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    # Here, not in custom_hooks: a config that sets its own custom_hooks
    # (e.g. [dict(type='AdaptiveLossHook', ...)]) replaces that whole list
    # and would silently drop the check. Only `num_classes_check=None` (or
    # default_hooks with _delete_=True) switches it off.
    num_classes_check=dict(type='NumClassesCheckHook'))
custom_hooks = []

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches nccl to gloo when there is no GPU.
    dist_cfg=dict(backend='nccl'))

# TensorBoard: `tools/train.py --tensorboard`, or in a config
#   vis_backends = [dict(type='LocalVisBackend'),
#                   dict(type='TensorboardVisBackend')]
#   visualizer = dict(vis_backends=vis_backends)
# then `tensorboard --logdir WORK_DIR` (event files in <timestamp>/vis_data).
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer',
    vis_backends=vis_backends,
    name='visualizer',
    line_width=1)
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=False)

# Flip test-time augmentation, used by `tools/test.py --tta` with the dataset
# config's `tta_pipeline`: mmdet's DetTTAModel (as mmdet's CenterNet) merges
# the detections of the image and of its mirror (flipped back) with NMS.
tta_model = dict(
    type='DetTTAModel',
    tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))

log_level = 'INFO'
load_from = None
resume = False
