"""A toy model with scripted loss values and a small mmengine Runner around
it, for the tests of the loss hooks (AdaptiveLossHook, LossJumpSkipHook,
FaultInjectionHook)."""
import glob
import itertools
import json
import os.path as osp

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

REAL = {'loss_heatmap': 2.0, 'loss_wh': 0.5}
_NAMES = itertools.count()


class ToyData(Dataset):
    """64 items ``{'inputs': (dim,) tensor}``, item ``i`` random with seed
    ``i``."""

    def __init__(self, dim=2):
        self.dim = dim

    def __len__(self):
        return 64

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        return dict(inputs=torch.randn(self.dim, generator=g))


class ScriptedModel(BaseModel):
    """One scalar parameter ``w`` (starts at 1); the i-th forward returns
    ``{name: w * value}`` for the i-th dict of ``script`` (the last one
    after the end). Records the autocast state of every forward."""

    def __init__(self, script):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.script = list(script)
        self.calls = 0
        self.autocast = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        values = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        self.autocast.append(
            (torch.is_autocast_enabled('cpu'),
             torch.get_autocast_dtype('cpu')))
        return {k: self.w * v for k, v in values.items()}


def make_runner(work_dir, model, max_iters, optim_wrapper=None, hooks=None,
                scheduler=True, log_interval=1, dataset=None, batch_size=1,
                shuffle=False, ckpt_interval=1000, **kwargs):
    """An iteration-based Runner: SGD (lr 0.1, momentum 0.9) unless
    ``optim_wrapper``; LinearLR over 10 iterations (:func:`scheduled_lr`)
    unless ``scheduler=False``; AdaptiveLossHook(targets={'loss_*': 1})
    unless ``hooks``; logs every ``log_interval`` iterations unsmoothed."""
    kwargs.setdefault('experiment_name', f'toy_{next(_NAMES)}')
    return Runner(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=dataset or ToyData(),
                              sampler=dict(type='InfiniteSampler',
                                           shuffle=shuffle),
                              collate_fn=dict(type='default_collate'),
                              batch_size=batch_size,
                              num_workers=0),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=optim_wrapper
        or dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='LinearLR', start_factor=0.1,
                             by_epoch=False, begin=0, end=10)
        if scheduler else None,
        custom_hooks=hooks if hooks is not None else
        [dict(type='AdaptiveLossHook', targets={'loss_*': 1.0})],
        default_hooks=dict(logger=dict(type='LoggerHook',
                                       interval=log_interval),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=ckpt_interval,
                                           by_epoch=False)),
        log_processor=dict(window_size=1, by_epoch=False),
        default_scope='centerx_mm',
        **kwargs)


def scheduled_lr(step):
    """LR of :func:`make_runner`'s LinearLR(start_factor=0.1, end=10) after
    ``step`` steps (factor 0.1 + 0.9 * step / (10 - 1), base LR 0.1)."""
    return 0.1 * (0.1 + 0.1 * min(step, 9))


def scalar_rows(work_dir):
    """Rows of the run's ``<timestamp>/vis_data/scalars.json``."""
    path, = glob.glob(osp.join(str(work_dir), '*', 'vis_data',
                               'scalars.json'))
    return [json.loads(line) for line in open(path)]


class Recorder(Hook):
    """Calls ``fn(runner)`` after every train iteration."""
    priority = 'LOWEST'

    def __init__(self, fn):
        self.fn = fn

    def after_train_iter(self, runner, **kwargs):
        self.fn(runner)
