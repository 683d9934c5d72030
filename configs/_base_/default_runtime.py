default_scope = 'centerx_mm'

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
    visualization=dict(type='DetVisualizationHook'))
custom_hooks = [dict(type='NumClassesCheckHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches nccl to gloo when there is no GPU.
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer',
    vis_backends=vis_backends,
    name='visualizer',
    line_width=1)
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=False)

log_level = 'INFO'
load_from = None
resume = False
