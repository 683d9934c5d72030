"""--resume with AdaptiveLossHook state in each training mode: plain CenterX,
KD (CenterXDistiller) and multi-teacher KD (MultiTeacherDistiller), tiny
nets (tests/helpers.py): 3 iterations against 2 + a resumed third.

The KD configs use today's distiller keys (teacher_config / teacher_ckpt /
teachers=[dict(config, checkpoint, classes)], distill_loss=KDLoss)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from centerx_mm.engine.hooks import AdaptiveLossHook
from centerx_mm.engine.hooks.adaptive_loss_hook import CKPT_KEY
from centerx_mm.registry import MODELS
from centerx_mm.utils import load_checkpoint_safely
from tests.helpers import (REPO, make_tiny_dataset, save_ckpt,
                           tiny_student_config, write)

CLASSES = ('ring', 'star', 'cross', 'triangle')
TRAIN_DATA = """
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
"""
HOOK = """
custom_hooks = [dict(type='AdaptiveLossHook', momentum=0.5,
                     targets={'loss_kd_*': 1.0, 'loss_*': 0.5})]
randomness = dict(seed=0)
"""
KD = """
_base_ = ['student.py']
model = dict(type='CenterXDistiller', classes=_base_.metainfo.classes,
             teacher_config={student!r}, teacher_ckpt={ckpt_a!r},
             distill_loss=dict(type='KDLoss', heatmap_mode='prob'))
"""
MT = """
_base_ = ['student.py']
model = dict(
    type='MultiTeacherDistiller', classes=_base_.metainfo.classes,
    teachers=[dict(config={student!r}, checkpoint={ckpt_a!r},
                   classes=('ring', 'star')),
              dict(config={student!r}, checkpoint={ckpt_b!r},
                   classes=('cross', 'triangle'))],
    use_gt=False,
    distill_loss=dict(type='KDLoss', heatmap_mode='prob'))
"""


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    """Tiny student (plain), KD and multi-teacher configs, each with the
    hook; teachers are the student architecture at two random inits."""
    tmp = tmp_path_factory.mktemp('resume')
    root = make_tiny_dataset(tmp / 'data') + '/'
    base = osp.join(REPO, 'configs/centerx/centerx_r18_1k_shapes.py')
    student = write(tmp / 'student.py',
                    tiny_student_config(base, root, TRAIN_DATA))
    ckpts = {}
    for name, seed in (('ckpt_a', 1), ('ckpt_b', 2)):
        torch.manual_seed(seed)
        model = MODELS.build(Config.fromfile(student).model)
        model.init_weights()
        ckpts[name] = save_ckpt(model, tmp / f'{name}.pth', CLASSES)
    out = {'plain': write(tmp / 'plain.py',
                          "_base_ = ['student.py']\n" + HOOK)}
    for mode, text in (('kd', KD), ('mt', MT)):
        out[mode] = write(tmp / f'{mode}.py',
                          text.format(student=student, **ckpts) + HOOK)
    return out


def train(config, work_dir, iters, resume_from=None):
    """Train ``iters`` iterations (a checkpoint every 2); with
    ``resume_from``, resume that checkpoint. Returns the hook and the
    states its ``load_state_dict`` received."""
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = iters
    cfg.resume, cfg.load_from = resume_from is not None, resume_from
    # no validation (mmengine would validate after the last iteration)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    hook = next(h for h in runner.hooks if isinstance(h, AdaptiveLossHook))
    loaded = []
    original = hook.load_state_dict
    hook.load_state_dict = lambda state: (loaded.append(dict(state)),
                                          original(state))
    runner.train()
    return hook, loaded


@pytest.mark.parametrize('mode', ['plain', 'kd', 'mt'])
def test_resume_restores_and_continues_hook_state(configs, tmp_path, mode):
    """3 straight iterations (checkpoint at 2) against a run resumed from
    that checkpoint for the third."""
    straight, not_loaded = train(configs[mode], tmp_path / 'straight', 3)
    assert not_loaded == []
    ckpt = str(tmp_path / 'straight' / 'iter_2.pth')
    saved = load_checkpoint_safely(ckpt)[CKPT_KEY]
    terms = {'plain': ('loss_heatmap', 'loss_wh', 'loss_offset'),
             'kd': ('loss_heatmap', 'loss_wh', 'loss_offset',
                    'loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'),
             'mt': ('loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset')}[mode]
    assert sorted(saved['magnitude']) == sorted(terms)
    assert saved['num_updates'] == dict.fromkeys(terms, 2)

    resumed, loaded = train(configs[mode], tmp_path / 'resumed', 3,
                            resume_from=ckpt)
    assert loaded == [saved]  # restored from the checkpoint, once
    # 2 + 1 iterations continue the EMA exactly like 3 uninterrupted ones
    assert resumed.num_updates == straight.num_updates == dict.fromkeys(
        terms, 3)
    assert resumed.state_dict()['num_skipped_steps'] == 0
    for term in terms:
        assert resumed.magnitude[term] == pytest.approx(
            straight.magnitude[term], rel=1e-4), term
        assert resumed.magnitude[term] != pytest.approx(
            saved['magnitude'][term], rel=1e-4), term  # it moved
