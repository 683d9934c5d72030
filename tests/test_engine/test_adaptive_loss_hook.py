"""Tests of AdaptiveLossHook (design notes, section "共产主义loss")."""
import copy
import json
import math
import os
import os.path as osp
import socket
import time

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

from centerx_mm.engine.hooks import AdaptiveLossHook
from centerx_mm.engine.hooks.adaptive_loss_hook import CKPT_KEY
from centerx_mm.utils import load_checkpoint_safely
from tests.test_engine.toy_runner import ToyData, make_runner

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
KD_TARGETS = {
    'loss_heatmap': 1.0,
    'loss_wh': 0.5,
    'loss_offset': 0.25,
    'loss_kd_*': 2.0
}


def _terms(**values):
    """Parsed-loss style dict of scalar leaf tensors with grad."""
    leaves = {
        k: torch.tensor(float(v), requires_grad=True)
        for k, v in values.items()
    }
    log_vars = {'loss': None}
    log_vars.update(leaves)
    return leaves, log_vars


def _f(log_vars, key):
    return float(log_vars[key].detach())


# ---------------------------------------------------------------------------
# Weight rule
# ---------------------------------------------------------------------------
def test_weight_rule_momentum0_hand_computed():
    hook = AdaptiveLossHook(targets={'loss_heatmap': 1.0, 'loss_wh': 0.5})
    leaves, log_vars = _terms(loss_heatmap=4.0, loss_wh=0.2)
    loss, out, dropped = hook.reweight(torch.tensor(4.2), log_vars)
    # weights: 1/4 = 0.25 and 0.5/0.2 = 2.5; every term equals its target.
    assert not dropped
    assert _f(out, 'weight_loss_heatmap') == pytest.approx(0.25)
    assert _f(out, 'weight_loss_wh') == pytest.approx(2.5)
    assert _f(out, 'loss_heatmap') == pytest.approx(1.0)
    assert _f(out, 'loss_wh') == pytest.approx(0.5)
    assert _f(out, 'raw_loss_heatmap') == pytest.approx(4.0)
    assert _f(out, 'raw_loss_wh') == pytest.approx(0.2)
    assert _f(out, 'loss_raw') == pytest.approx(4.2)
    assert float(loss) == pytest.approx(1.5)
    assert out['loss'] is loss
    assert list(out)[:2] == ['loss', 'loss_raw']
    loss.backward()
    # d(total)/d(raw) is the (detached) weight: target / raw.
    assert float(leaves['loss_heatmap'].grad) == pytest.approx(0.25)
    assert float(leaves['loss_wh'].grad) == pytest.approx(2.5)

    # next step: momentum 0 uses only the new value
    _, log_vars = _terms(loss_heatmap=0.5, loss_wh=1.0)
    _, out, _ = hook.reweight(torch.tensor(1.5), log_vars)
    assert _f(out, 'weight_loss_heatmap') == pytest.approx(2.0)
    assert _f(out, 'weight_loss_wh') == pytest.approx(0.5)
    assert hook.magnitude == pytest.approx({
        'loss_heatmap': 0.5,
        'loss_wh': 1.0
    })
    assert hook.num_updates == {'loss_heatmap': 2, 'loss_wh': 2}


def test_weight_rule_ema_hand_computed():
    hook = AdaptiveLossHook(targets={'loss_heatmap': 1.0}, momentum=0.9)
    # step 1: magnitude = first raw value = 2 -> weight 0.5
    _, log_vars = _terms(loss_heatmap=2.0)
    _, out, _ = hook.reweight(torch.tensor(2.0), log_vars)
    assert _f(out, 'weight_loss_heatmap') == pytest.approx(0.5)
    assert _f(out, 'loss_heatmap') == pytest.approx(1.0)
    # step 2: magnitude = 0.9 * 2 + 0.1 * 4 = 2.2 -> weight 1 / 2.2
    leaves, log_vars = _terms(loss_heatmap=4.0)
    loss, out, _ = hook.reweight(torch.tensor(4.0), log_vars)
    assert hook.magnitude['loss_heatmap'] == pytest.approx(2.2)
    assert _f(out, 'weight_loss_heatmap') == pytest.approx(1 / 2.2)
    assert float(loss) == pytest.approx(4.0 / 2.2)
    loss.backward()
    assert float(leaves['loss_heatmap'].grad) == pytest.approx(1 / 2.2)
    # step 3: 0.9 * 2.2 + 0.1 * 1 = 2.08; a negative raw value counts by
    # its absolute value, so the weight stays positive
    _, log_vars = _terms(loss_heatmap=-1.0)
    _, out, _ = hook.reweight(torch.tensor(-1.0), log_vars)
    assert hook.magnitude['loss_heatmap'] == pytest.approx(2.08)
    assert _f(out, 'weight_loss_heatmap') == pytest.approx(1 / 2.08)


def test_max_weight_caps_the_weight():
    hook = AdaptiveLossHook(targets={'loss_kd_*': 0.2}, max_weight=100.0)
    _, log_vars = _terms(loss_kd_wh=1e-5, loss_kd_offset=0.01)
    loss, out, _ = hook.reweight(torch.tensor(0.), log_vars)
    assert _f(out, 'weight_loss_kd_wh') == pytest.approx(100.0)  # not 2e4
    assert _f(out, 'weight_loss_kd_offset') == pytest.approx(20.0)
    assert float(loss) == pytest.approx(1e-3 + 0.2)
    assert hook.num_capped == {'loss_kd_wh': 1}
    assert hook.window_counts['capped'] == 1
    for bad in (0, -1.0, float('inf'), float('nan'), True):
        with pytest.raises(ValueError, match='max_weight'):
            AdaptiveLossHook(targets={'loss_wh': 1.0}, max_weight=bad)


def test_default_weight_bound():
    """max_weight defaults to 1e4 (docstring): a 1e-6 term with target 1
    is amplified 1e4x, not 1e6x; the warm-up ramps to the bound; None
    still gives the unbounded original rule."""
    from centerx_mm.engine.hooks.adaptive_loss_hook import DEFAULT_MAX_WEIGHT
    assert DEFAULT_MAX_WEIGHT == 1e4
    hook = AdaptiveLossHook(targets={'loss_kd_heatmap': 1.0})
    assert hook.max_weight == 1e4
    leaves, log_vars = _terms(loss_kd_heatmap=1e-6)
    loss, out, _ = hook.reweight(torch.tensor(1e-6), log_vars)
    assert _f(out, 'weight_loss_kd_heatmap') == pytest.approx(1e4)
    assert float(loss) == pytest.approx(1e-2)
    loss.backward()
    assert float(leaves['loss_kd_heatmap'].grad) == pytest.approx(1e4)
    # a term needing weight 1e3 (the prob KD heatmap at KDLoss weight 1)
    # is not bounded
    _, log_vars = _terms(loss_kd_heatmap=1e-3)
    _, out, _ = hook.reweight(torch.tensor(1e-3), log_vars)
    assert _f(out, 'weight_loss_kd_heatmap') == pytest.approx(1e3)
    assert hook.num_capped == {'loss_kd_heatmap': 1}
    ramp = AdaptiveLossHook(targets={'loss_kd_heatmap': 1.0},
                            warmup_iters=4)
    ramp.cur_iter = 2
    _, log_vars = _terms(loss_kd_heatmap=1e-6)
    _, out, _ = ramp.reweight(torch.tensor(1e-6), log_vars)
    assert _f(out, 'weight_loss_kd_heatmap') == pytest.approx(0.5 + 0.5e4)
    unbounded = AdaptiveLossHook(targets={'loss_kd_heatmap': 1.0},
                                 max_weight=None)
    _, log_vars = _terms(loss_kd_heatmap=1e-6)
    _, out, _ = unbounded.reweight(torch.tensor(1e-6), log_vars)
    assert _f(out, 'weight_loss_kd_heatmap') == pytest.approx(1e6)
    assert unbounded.num_capped == {}


def test_warmup_ramps_linearly():
    hook = AdaptiveLossHook(targets={'loss_heatmap': 1.0}, warmup_iters=4)
    expected = {0: 1.0, 2: 0.5 * 1.0 + 0.5 * 0.25, 4: 0.25, 9: 0.25}
    for cur_iter, weight in expected.items():
        hook.cur_iter = cur_iter
        _, log_vars = _terms(loss_heatmap=4.0)
        loss, out, _ = hook.reweight(torch.tensor(4.0), log_vars)
        assert _f(out, 'weight_loss_heatmap') == pytest.approx(weight)
        assert float(loss) == pytest.approx(4.0 * weight)
    # the magnitude is tracked during warm-up too
    assert hook.num_updates['loss_heatmap'] == 4


# ---------------------------------------------------------------------------
# Name matching
# ---------------------------------------------------------------------------
def test_name_patterns_and_passthrough(monkeypatch):
    hook = AdaptiveLossHook(
        targets={
            'loss_kd_wh': 3.0,  # first matching pattern wins
            'loss_kd_*': 2.0,
            'loss_heatmap': 1.0,
            'loss_missing': 1.0
        })
    warnings = []
    from mmengine.logging import MMLogger
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        warnings.append)
    leaves, log_vars = _terms(
        loss_heatmap=2.0,
        loss_kd_heatmap=4.0,
        loss_kd_wh=6.0,
        loss_offset=0.3,  # unmatched: summed unchanged
        acc=0.9)  # no 'loss' in the name: logged only
    loss, out, _ = hook.reweight(torch.tensor(12.3), log_vars)
    assert _f(out, 'weight_loss_kd_heatmap') == pytest.approx(0.5)
    assert _f(out, 'weight_loss_kd_wh') == pytest.approx(0.5)  # 3 / 6
    assert _f(out, 'loss_offset') == pytest.approx(0.3)
    assert 'weight_loss_offset' not in out and 'raw_loss_offset' not in out
    assert _f(out, 'acc') == pytest.approx(0.9)
    assert 'weight_acc' not in out
    # 1 + 2 + 3 + 0.3 (acc is not summed)
    assert float(loss) == pytest.approx(6.3)
    loss.backward()
    assert float(leaves['loss_offset'].grad) == 1.0
    assert leaves['acc'].grad is None
    assert len(warnings) == 1 and 'loss_missing' in warnings[0]
    assert hook.match('loss_kd_offset') == 2.0
    assert hook.match('loss_heatmap_extra') is None


def test_invalid_arguments():
    with pytest.raises(TypeError, match='non-empty dict'):
        AdaptiveLossHook(targets={})
    with pytest.raises(ValueError, match=r"targets\['loss_wh'\]"):
        AdaptiveLossHook(targets={'loss_wh': 0.0})
    with pytest.raises(ValueError, match=r"targets\['loss_wh'\]"):
        AdaptiveLossHook(targets={'loss_wh': float('nan')})
    with pytest.raises(ValueError, match='momentum'):
        AdaptiveLossHook(targets={'loss_wh': 1.0}, momentum=1.0)
    with pytest.raises(ValueError, match='warmup_iters'):
        AdaptiveLossHook(targets={'loss_wh': 1.0}, warmup_iters=-1)


# ---------------------------------------------------------------------------
# 0 / NaN / inf
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_nonfinite_term_is_dropped(bad):
    hook = AdaptiveLossHook(targets={'loss_heatmap': 1.0, 'loss_wh': 0.5})
    _, log_vars = _terms(loss_heatmap=2.0, loss_wh=1.0)
    hook.reweight(torch.tensor(3.0), log_vars)
    leaves, log_vars = _terms(loss_heatmap=4.0, loss_wh=bad)
    loss, out, dropped = hook.reweight(torch.tensor(bad), log_vars)
    assert dropped
    assert float(loss) == pytest.approx(1.0) and math.isfinite(float(loss))
    assert _f(out, 'weight_loss_wh') == 0.0
    assert _f(out, 'loss_wh') == 0.0
    assert _f(out, 'raw_loss_wh') == bad or math.isnan(bad)
    loss.backward()
    assert leaves['loss_wh'].grad is None  # not in the graph
    assert hook.magnitude['loss_wh'] == 1.0  # not updated
    assert hook.num_nonfinite == {'loss_wh': 1}
    assert hook.window_counts == {'skipped': 0, 'dropped': 1, 'capped': 0}
    assert 'adaptive_num_dropped' not in out  # counted per window instead
    assert hook.num_skipped_steps == 0


def test_zero_term_gets_weight_zero():
    hook = AdaptiveLossHook(targets={'loss_heatmap': 1.0, 'loss_wh': 0.5})
    leaves, log_vars = _terms(loss_heatmap=4.0, loss_wh=0.0)
    loss, out, dropped = hook.reweight(torch.tensor(4.0), log_vars)
    assert not dropped
    assert float(loss) == pytest.approx(1.0)
    assert _f(out, 'weight_loss_wh') == 0.0
    loss.backward()
    assert float(leaves['loss_wh'].grad) == 0.0  # in the graph, zero grad
    assert 'loss_wh' not in hook.magnitude
    assert hook.num_zero == {'loss_wh': 1}


class _LinearModel(BaseModel):
    """Toy model whose loss() returns ``self.values`` times a parameter."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.values = {}

    def forward(self, *args, mode='loss', **kwargs):
        return {k: self.w * v for k, v in self.values.items()}


def test_all_bad_step_is_skipped():
    model = _LinearModel()
    optim = OptimWrapper(
        torch.optim.SGD(model.parameters(),
                        lr=0.1,
                        momentum=0.9,
                        weight_decay=0.1))
    hook = AdaptiveLossHook(targets={'loss_*': 1.0})
    hook.attach(model, optim)
    # a normal step moves w: d(1 * w*2 / 2)/dw = 1 -> w = 1 - 0.1*(1+0.1)
    model.values = {'loss_heatmap': 2.0}
    loss, _ = model.parse_losses(model())
    optim.update_params(loss)
    assert float(model.w) == pytest.approx(0.89)
    # all terms NaN/zero: finite zero loss, no optimizer step at all
    model.values = {'loss_heatmap': float('nan'), 'loss_wh': 0.0}
    loss, log_vars = model.parse_losses(model())
    assert float(loss) == 0.0 and log_vars['loss'] is loss
    assert hook.num_skipped_steps == 0  # decided at the update, not here
    optim.update_params(loss)
    assert float(model.w) == pytest.approx(0.89)  # momentum did not move it
    assert hook.num_skipped_steps == 1
    assert hook.window_counts == {'skipped': 1, 'dropped': 2, 'capped': 0}
    assert hook.scheduler_holds == {'': 1}
    # the step after a skip is taken again
    model.values = {'loss_heatmap': 2.0}
    loss, _ = model.parse_losses(model())
    optim.update_params(loss)
    assert float(model.w) < 0.89
    hook.detach()
    assert 'parse_losses' not in vars(model) and 'step' not in vars(optim)
    assert 'backward' not in vars(optim)
    with pytest.raises(TypeError, match='parse_losses'):
        hook.attach(nn.Linear(1, 1))
    hook.attach(model)
    with pytest.raises(RuntimeError, match='already replaced'):
        AdaptiveLossHook(targets={'loss_*': 1.0}).attach(model)


# ---------------------------------------------------------------------------
# State round trip through a checkpoint file
# ---------------------------------------------------------------------------
def test_state_round_trip_through_checkpoint_file(tmp_path):
    hook = AdaptiveLossHook(targets={'loss_*': 1.0}, momentum=0.5)
    for hm, wh in ((2.0, 1.0), (4.0, float('nan')), (1.0, 0.0)):
        _, log_vars = _terms(loss_heatmap=hm, loss_wh=wh)
        hook.reweight(torch.tensor(0.), log_vars)
    state = hook.state_dict()
    # heatmap: 2 -> 0.5*2 + 0.5*4 = 3 -> 0.5*3 + 0.5*1 = 2
    assert state == {
        'magnitude': {
            'loss_heatmap': 2.0,
            'loss_wh': 1.0
        },
        'num_updates': {
            'loss_heatmap': 3,
            'loss_wh': 1
        },
        'num_zero': {
            'loss_wh': 1
        },
        'num_nonfinite': {
            'loss_wh': 1
        },
        'num_capped': {},
        'num_skipped_steps': 0,
        'scheduler_holds': {}
    }
    ckpt = {'meta': {'iter': 3}, 'state_dict': {'w': torch.ones(2)}}
    hook.before_save_checkpoint(None, ckpt)
    path = tmp_path / 'iter_3.pth'
    torch.save(ckpt, path)
    loaded = load_checkpoint_safely(str(path))  # weights_only=True

    class _Runner:
        _resume = True
        logger = __import__('mmengine').logging.MMLogger.get_current_instance()

    restored = AdaptiveLossHook(targets={'loss_*': 1.0}, momentum=0.5)
    restored.after_load_checkpoint(_Runner(), loaded)
    assert restored.state_dict() == state
    # both continue identically: 0.5 * 2 + 0.5 * 6 = 4 -> weight 1/4
    for h in (hook, restored):
        _, log_vars = _terms(loss_heatmap=6.0)
        _, out, _ = h.reweight(torch.tensor(0.), log_vars)
        assert _f(out, 'weight_loss_heatmap') == pytest.approx(0.25)
    # load_from (not resume) starts afresh
    fresh = AdaptiveLossHook(targets={'loss_*': 1.0})
    _Runner._resume = False
    fresh.after_load_checkpoint(_Runner(), loaded)
    assert fresh.magnitude == {}
    with pytest.raises(TypeError, match=r"\['magnitude'\]"):
        fresh.load_state_dict({'magnitude': [1.0]})
    with pytest.raises(TypeError, match=r"\['scheduler_holds'\]"):
        fresh.load_state_dict({'scheduler_holds': 3})
    # a checkpoint of the hook before issue 12 (no num_capped, no
    # scheduler_holds) still loads
    old = {k: v for k, v in state.items()
           if k not in ('num_capped', 'scheduler_holds')}
    fresh.load_state_dict(old)
    assert fresh.state_dict() == state


# ---------------------------------------------------------------------------
# Runner: toy KD / multi-teacher model, train + resume
# ---------------------------------------------------------------------------
class _ToyKDModel(BaseModel):
    """Student with two frozen teachers; loss dict like a (multi-teacher)
    KD CenterX: loss_heatmap/wh/offset plus loss_kd_heatmap/wh/offset."""

    def __init__(self):
        super().__init__()
        self.student = nn.Linear(4, 3)
        self.teachers = nn.ModuleList(nn.Linear(4, 3) for _ in range(2))
        self.teachers.requires_grad_(False)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.student(inputs)
        if mode != 'loss':
            return out
        soft = sum(t(inputs) for t in self.teachers) / 2
        return dict(loss_heatmap=(out[:, 0] - 1).pow(2).mean(),
                    loss_wh=0.1 * (out[:, 1] - 2).abs().mean(),
                    loss_offset=(out[:, 2]).abs().mean(),
                    loss_kd_heatmap=(out[:, 0] - soft[:, 0]).pow(2).mean(),
                    loss_kd_wh=(out[:, 1] - soft[:, 1]).abs().mean(),
                    loss_kd_offset=(out[:, 2] - soft[:, 2]).abs().mean())


def _toy_runner(work_dir, max_iters, resume=False, momentum=0.5):
    return make_runner(
        work_dir, _ToyKDModel(), max_iters,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        scheduler=False,
        hooks=[dict(type='AdaptiveLossHook', targets=KD_TARGETS,
                    momentum=momentum)],
        dataset=ToyData(dim=4), batch_size=4, shuffle=True, ckpt_interval=2,
        resume=resume, randomness=dict(seed=0))


def _hook_of(runner):
    return next(h for h in runner.hooks if isinstance(h, AdaptiveLossHook))


def test_runner_kd_model_train_and_resume(tmp_path):
    runner = _toy_runner(tmp_path, max_iters=4, momentum=0.0)
    runner.train()
    hub = runner.message_hub
    # momentum 0: every matched term equals its target, raw * weight = target
    for name, target in (('loss_heatmap', 1.0), ('loss_wh', 0.5),
                         ('loss_offset', 0.25), ('loss_kd_heatmap', 2.0),
                         ('loss_kd_wh', 2.0), ('loss_kd_offset', 2.0)):
        assert hub.get_scalar(f'train/{name}').current() == pytest.approx(
            target, rel=1e-5)
        raw = hub.get_scalar(f'train/raw_{name}').current()
        weight = hub.get_scalar(f'train/weight_{name}').current()
        assert raw * weight == pytest.approx(target, rel=1e-5)
    assert hub.get_scalar('train/loss').current() == pytest.approx(7.75)
    hook = _hook_of(runner)
    assert 'parse_losses' not in vars(runner.model)  # restored
    assert hook.num_updates['loss_kd_wh'] == 4

    # resume from iter 2 restores the hook state saved at iter 2
    work = tmp_path / 'resume'
    runner = _toy_runner(work, max_iters=2, momentum=0.5)
    runner.train()
    saved = copy.deepcopy(_hook_of(runner).state_dict())
    ckpt = load_checkpoint_safely(str(work / 'iter_2.pth'))
    assert ckpt[CKPT_KEY] == saved
    assert saved['num_updates']['loss_heatmap'] == 2
    runner = _toy_runner(work, max_iters=3, resume=True, momentum=0.5)
    restored = _hook_of(runner)
    runner.train()
    assert restored.num_updates['loss_heatmap'] == 3
    raw = runner.message_hub.get_scalar('train/raw_loss_heatmap').current()
    expected = 0.5 * saved['magnitude']['loss_heatmap'] + 0.5 * raw
    assert restored.magnitude['loss_heatmap'] == pytest.approx(expected,
                                                               rel=1e-5)
    # text log and json scalars carry raw values and weights
    logs = [
        osp.join(dp, f) for dp, _, fs in os.walk(work) for f in fs
        if f == 'scalars.json'
    ]
    rows = [json.loads(line) for p in logs for line in open(p)]
    assert any('weight_loss_kd_offset' in r and 'loss_raw' in r for r in rows)


# ---------------------------------------------------------------------------
# DDP: the hook wraps runner.model.module; weights are synced over ranks
# ---------------------------------------------------------------------------
def _ddp_worker(rank, port, result_file):
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    import datetime
    dist.init_process_group('gloo',
                            init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank,
                            world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    torch.manual_seed(0)
    model = _LinearModel()
    model.values = {'loss_heatmap': 1.0 + rank, 'loss_wh': 0.0}
    ddp = MMDistributedDataParallel(module=model, device_ids=None)
    optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.1))
    hook = AdaptiveLossHook(targets={'loss_*': 3.0})

    class _Runner:
        hooks, param_schedulers = [], None

    runner = _Runner()
    runner.model, runner.optim_wrapper = ddp, optim
    hook.before_train(runner)
    log_vars = ddp.train_step({'inputs': torch.zeros(1)}, optim)
    # raw values 1 and 2 -> mean 1.5 -> weight 3 / 1.5 = 2 on both ranks;
    # grad of w: mean over ranks of 2 * (1 + rank) = 3
    out = dict(weight=float(log_vars['weight_loss_heatmap']),
               loss=float(log_vars['loss']),
               w=float(model.w))
    if rank == 0:
        with open(result_file, 'w') as f:
            json.dump(out, f)
    dist.destroy_process_group()


def test_ddp_wrapped_model_and_rank_sync(tmp_path):
    import torch.multiprocessing as mp
    result = tmp_path / 'rank0.json'
    # Seen once in a full-suite run on a loaded 2-core machine: one rank
    # never joined and the test hung. Bound each attempt, retry once on a
    # fresh port; a real failure still fails (twice).
    for attempt in range(2):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        ctx = mp.spawn(_ddp_worker, args=(port, str(result)), nprocs=2,
                       join=False)
        deadline = time.time() + 120
        while not ctx.join(timeout=5):
            if time.time() > deadline:
                for proc in ctx.processes:
                    proc.kill()
                break
        if result.is_file():
            break
    assert result.is_file(), 'DDP workers did not finish in 2 x 120 s'
    out = json.loads(result.read_text())
    assert out['weight'] == pytest.approx(2.0)
    assert out['loss'] == pytest.approx(2.0)  # rank 0: 2 * 1
    assert out['w'] == pytest.approx(1 - 0.1 * 3.0)


# ---------------------------------------------------------------------------
# End to end: tiny CenterX with the shipped adaptive config
# ---------------------------------------------------------------------------
def test_centerx_end_to_end_with_adaptive_config(tmp_path):
    from centerx_mm.datasets.shapes_generator import generate_shapes_dataset
    data = tmp_path / 'shapes'
    generate_shapes_dataset(str(data), num_train=8, num_val=4)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'centerx',
                 'centerx_r18_1k_cosine_adaptive_shapes.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = str(data) + '/'
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop',
                         max_iters=3,
                         val_interval=100)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 3
    cfg.param_scheduler = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    targets = cfg.custom_hooks[0].targets
    for name, target in targets.items():
        assert hub.get_scalar(f'train/{name}').current() == pytest.approx(
            target, rel=1e-4)
        assert hub.get_scalar(f'train/raw_{name}').current() > 0
    assert hub.get_scalar('train/loss').current() == pytest.approx(sum(
        targets.values()),
                                                                   rel=1e-4)
    ckpt = load_checkpoint_safely(str(tmp_path / 'work' / 'iter_3.pth'))
    assert ckpt[CKPT_KEY]['num_updates'] == {k: 3 for k in targets}
