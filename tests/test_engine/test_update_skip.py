"""Skipped updates of AdaptiveLossHook / LossJumpSkipHook (ParseLossesHook):
gradient accumulation, OptimWrapperDict, the CPU bf16 AmpOptimWrapper, LR
schedulers held on skipped updates, per-window counts and the logged keys
(text log, scalars.json, TensorBoard)."""
import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict

from centerx_mm.engine.hooks import AdaptiveLossHook, LossJumpSkipHook
from centerx_mm.engine.hooks.adaptive_loss_hook import CKPT_KEY
from centerx_mm.engine.optimizers import amp_optim_wrapper
from centerx_mm.utils import load_checkpoint_safely
from tests.test_engine.toy_runner import (REAL, Recorder, ScriptedModel,
                                          make_runner, scalar_rows,
                                          scheduled_lr)

NAN = float('nan')
ZERO = {'loss_heatmap': 0.0, 'loss_wh': 0.0}  # no usable term
BAD = {'loss_heatmap': NAN, 'loss_wh': 0.0}  # no usable term either


def lr_per_iter(runner):
    """LR the optimizer used at every iteration (RuntimeInfoHook logs it
    before each iteration)."""
    return runner.message_hub.get_scalar('train/lr').data[0].tolist()


# ---------------------------------------------------------------------------
# Gradient accumulation: the skip belongs to the update (window) it is in
# ---------------------------------------------------------------------------
def test_accumulation_skips_only_the_window_without_usable_loss():
    """accumulative_counts=2. Windows: [real, real] stepped; [zero, NaN]
    skipped; [zero, real] and [real, zero] stepped with the real
    micro-batch's gradient (the old hook skipped [zero, real], the update
    after the zero micro-batch, and dropped its real gradient)."""
    windows = [(REAL, REAL), (ZERO, BAD), (ZERO, REAL), (REAL, ZERO)]
    model = ScriptedModel([mb for w in windows for mb in w])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1,
                                         momentum=0.9),
                         accumulative_counts=2)
    optim.initialize_count_status(model, 0, 2 * len(windows))
    hook = AdaptiveLossHook(targets={'loss_*': 1.0})
    hook.attach(model, optim)
    # reference: SGD with momentum fed the expected window gradients. Each
    # usable micro-batch: weighted terms w*v * 1/(w*v), d/dw = 2 / w (two
    # terms), divided by accumulative_counts = 2.
    ref = torch.ones((), requires_grad=True)
    ref_opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9)
    for k, window in enumerate(windows):
        w = float(model.w)
        for values in window:
            loss, _ = model.parse_losses(model(None, mode='loss'))
            optim.update_params(loss)
        usable = sum(mb is REAL for mb in window)
        if usable:
            ref.grad = torch.tensor(usable * (2 / w) / 2)
            ref_opt.step()
        assert float(model.w) == pytest.approx(float(ref), rel=1e-6), k
        if k == 1:
            assert float(model.w) == pytest.approx(w)  # skipped
    assert hook.num_skipped_steps == 1
    assert hook.scheduler_holds == {'': 2}  # the 2 iterations of window 2
    # every window had its own decision: none is pending
    assert hook._window == {}


def test_accumulation_holds_the_scheduler_for_the_whole_window(tmp_path):
    """Runner, accumulative_counts=2, window [2, 3] has no usable loss:
    the schedulers skip 2 steps, so the next update (iteration 5) uses the
    LR the skipped update would have used (iteration 3's)."""
    model = ScriptedModel([REAL, REAL, ZERO, ZERO] + [REAL] * 4)
    runner = make_runner(tmp_path / 'acc', model, 8,
                         optim_wrapper=dict(
                             optimizer=dict(type='SGD', lr=0.1,
                                            momentum=0.9),
                             accumulative_counts=2))
    runner.train()
    expected = [scheduled_lr(s) for s in (0, 1, 2, 3, 3, 3, 4, 5)]
    assert lr_per_iter(runner) == pytest.approx(expected)
    hook = runner.hooks[[type(h) for h in runner.hooks].index(
        AdaptiveLossHook)]
    assert hook.num_skipped_steps == 1 and hook.scheduler_holds == {}


def test_resume_keeps_the_scheduler_steps_still_held(tmp_path):
    """The same run, stopped at iteration 4 (one held step still to come)
    and resumed: the LRs of iterations 4-7 are those of the straight run."""
    script = [REAL, REAL, ZERO, ZERO] + [REAL] * 4
    optim = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
                 accumulative_counts=2)
    first = make_runner(tmp_path / 'resume', ScriptedModel(script), 4,
                        optim_wrapper=optim, ckpt_interval=4)
    first.train()
    state = load_checkpoint_safely(str(tmp_path / 'resume' /
                                       'iter_4.pth'))[CKPT_KEY]
    assert state['scheduler_holds'] == {'': 1}
    assert state['num_skipped_steps'] == 1
    model = ScriptedModel(script)
    model.calls = 4  # the script continues where the first run stopped
    second = make_runner(tmp_path / 'resume', model, 8, optim_wrapper=optim,
                         ckpt_interval=4, resume=True)
    second.train()
    assert lr_per_iter(second)[-4:] == pytest.approx(
        [scheduled_lr(s) for s in (3, 3, 4, 5)])
    hook = next(h for h in second.hooks if isinstance(h, AdaptiveLossHook))
    assert hook.num_skipped_steps == 1 and hook.scheduler_holds == {}


# ---------------------------------------------------------------------------
# LR schedulers on skipped updates (no accumulation)
# ---------------------------------------------------------------------------
def test_scheduler_does_not_advance_on_skipped_steps(tmp_path):
    model = ScriptedModel([REAL, REAL, ZERO, BAD, REAL, REAL])
    runner = make_runner(tmp_path / 'sched', model, 6)
    w_at = []
    runner.register_hook(Recorder(lambda r: w_at.append(float(
        r.model.w))), 'LOWEST')
    runner.train()
    # iterations 2 and 3 are skipped: their scheduler steps are not taken
    expected = [scheduled_lr(s) for s in (0, 1, 2, 2, 2, 3)]
    assert lr_per_iter(runner) == pytest.approx(expected)
    # and neither is the optimizer step (momentum would move w)
    assert w_at[2] == w_at[1] and w_at[3] == w_at[1]
    assert w_at[4] != w_at[3]
    scheduler, = runner.param_schedulers
    assert scheduler.last_step == 4  # 6 iterations - 2 skipped


# ---------------------------------------------------------------------------
# OptimWrapperDict: each wrapper decides for its own update
# ---------------------------------------------------------------------------
class _TwoPartModel(BaseModel):
    """GAN-style: ``train_step`` parses and updates part 'gen' then part
    'disc', each with its own optim wrapper of an OptimWrapperDict."""

    def __init__(self, scripts):
        super().__init__()
        self.gen = ScriptedModel(scripts['gen'])
        self.disc = ScriptedModel(scripts['disc'])

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def train_step(self, data, optim_wrapper):
        log_vars = {}
        for name in ('gen', 'disc'):
            loss, part_vars = self.parse_losses(getattr(self, name)(None))
            optim_wrapper[name].update_params(loss)
            log_vars[f'loss_{name}'] = part_vars['loss_raw']
        return log_vars


def test_optim_wrapper_dict_skips_per_wrapper(tmp_path):
    model = _TwoPartModel({'gen': [REAL] * 5,
                           'disc': [REAL, REAL, ZERO, REAL, REAL]})
    optim = OptimWrapperDict(
        gen=OptimWrapper(torch.optim.SGD(model.gen.parameters(), lr=0.1,
                                         momentum=0.9)),
        disc=OptimWrapper(torch.optim.SGD(model.disc.parameters(), lr=0.1,
                                          momentum=0.9)))
    runner = make_runner(tmp_path / 'dict', model, 5, optim_wrapper=optim)
    ws = []
    runner.register_hook(Recorder(lambda r: ws.append(
        (float(model.gen.w), float(model.disc.w)))), 'LOWEST')
    runner.train()
    assert ws[2][0] != ws[1][0]  # gen stepped at iteration 2
    assert ws[2][1] == ws[1][1]  # disc skipped
    assert ws[3][1] != ws[2][1]  # and stepped again at iteration 3
    hook = next(h for h in runner.hooks if isinstance(h, AdaptiveLossHook))
    assert hook.num_skipped_steps == 1
    # only disc's scheduler is held (one step)
    gen_sched, = runner.param_schedulers['gen']
    disc_sched, = runner.param_schedulers['disc']
    assert (gen_sched.last_step, disc_sched.last_step) == (5, 4)
    assert optim['gen'].get_lr()['lr'] == pytest.approx([scheduled_lr(5)])
    assert optim['disc'].get_lr()['lr'] == pytest.approx([scheduled_lr(4)])
    assert [r['adaptive_skipped'] for r in scalar_rows(
        tmp_path / 'dict')] == [0, 0, 1, 0, 0]
    # restored after training
    assert 'step' not in vars(optim['gen']) and 'step' not in vars(
        optim['disc'])


# ---------------------------------------------------------------------------
# Mixed precision: CenterXAmpOptimWrapper (registered as AmpOptimWrapper)
# ---------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU bf16 path')
def test_amp_wrapper_bf16_on_cpu(tmp_path, monkeypatch):
    """--amp on a CPU (bf16 autocast whatever this CPU is): the hook's
    skip and the wrapper's own non-finite skip are separate and each skips
    only its update; accumulation windows as above."""
    monkeypatch.setattr(amp_optim_wrapper, 'cpu_has_native_bf16',
                        lambda: True)
    unmatched_nan = {'loss_heatmap': 2.0, 'loss_extra': NAN}
    script = [REAL, REAL, ZERO, ZERO, ZERO, REAL, REAL, unmatched_nan,
              REAL, REAL]
    model = ScriptedModel(script)
    runner = make_runner(
        tmp_path / 'amp', model, 10,
        optim_wrapper=dict(type='AmpOptimWrapper',
                           optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
                           accumulative_counts=2),
        hooks=[dict(type='AdaptiveLossHook',
                    targets={'loss_heatmap': 1.0, 'loss_wh': 0.5})])
    ws = []
    runner.register_hook(Recorder(lambda r: ws.append(float(
        r.model.w))), 'LOWEST')
    runner.train()
    wrapper = runner.optim_wrapper
    assert type(wrapper) is amp_optim_wrapper.CenterXAmpOptimWrapper
    assert wrapper.cast_dtype is torch.bfloat16
    assert model.autocast == [(True, torch.bfloat16)] * 10
    hook = next(h for h in runner.hooks if isinstance(h, AdaptiveLossHook))
    # window [2, 3]: zero/zero -> skipped by the hook; [4, 5] zero/real ->
    # stepped; [6, 7]: NaN in an unmatched term -> skipped by the wrapper
    assert hook.num_skipped_steps == 1 and wrapper.num_skipped_steps == 1
    assert ws[3] == ws[1] and ws[5] != ws[3] and ws[7] == ws[5]
    assert ws[9] != ws[7] and math.isfinite(ws[9])
    assert model.w.dtype == torch.float32
    # the hook held the scheduler for the 2 iterations of its window only
    assert runner.param_schedulers[0].last_step == 8


# ---------------------------------------------------------------------------
# Logged keys: loss_raw, raw terms, weights, per-window counts, TensorBoard
# ---------------------------------------------------------------------------
def test_logged_keys_per_window_counts_and_tensorboard(tmp_path):
    """Logger interval 3 over 9 iterations; skips at iterations 1, 2 and 7:
    adaptive_skipped is 2, 0, 1 in the three log lines (a cumulative count
    would read 2, 2, 3)."""
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    script = [REAL, ZERO, BAD, REAL, REAL, REAL, REAL, ZERO, REAL]
    model = ScriptedModel(script)
    runner = make_runner(
        tmp_path / 'logs', model, 9, log_interval=3, scheduler=False,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-3)),
        visualizer=dict(type='Visualizer',
                        vis_backends=[dict(type='LocalVisBackend'),
                                      dict(type='TensorboardVisBackend')]))
    runner.train()
    rows = scalar_rows(tmp_path / 'logs')
    assert [r['step'] for r in rows] == [3, 6, 9]
    assert [r['adaptive_skipped'] for r in rows] == [2, 0, 1]
    # dropped terms: 2 (ZERO) + 2 (BAD: NaN + zero) | 0 | 2
    assert [r['adaptive_dropped'] for r in rows] == [4, 0, 2]
    assert [r['adaptive_capped'] for r in rows] == [0, 0, 0]
    last = rows[-1]  # iteration 8: REAL, w moved from 1
    w = last['raw_loss_heatmap'] / 2.0
    assert last['raw_loss_wh'] == pytest.approx(0.5 * w, rel=1e-5)
    assert last['loss_raw'] == pytest.approx(2.5 * w, rel=1e-5)
    assert last['weight_loss_heatmap'] == pytest.approx(1 / (2 * w),
                                                        rel=1e-5)
    assert last['loss'] == pytest.approx(2.0, rel=1e-5)  # both at target 1
    assert not any(k.startswith('adaptive_num') for k in last)
    log_text = open(glob.glob(osp.join(str(tmp_path / 'logs'), '*',
                                       '*.log'))[0]).read()
    assert 'loss_raw: ' in log_text and 'adaptive_skipped: 2' in log_text
    events = EventAccumulator(glob.glob(osp.join(
        str(tmp_path / 'logs'), '*', 'vis_data'))[0])
    events.Reload()
    tags = set(events.Tags()['scalars'])
    assert {'loss', 'loss_raw', 'raw_loss_heatmap', 'weight_loss_heatmap',
            'raw_loss_wh', 'weight_loss_wh', 'adaptive_skipped',
            'adaptive_dropped'} <= tags
    assert [e.value for e in events.Scalars('adaptive_skipped')] == [2, 0, 1]
    assert events.Scalars('loss_raw')[-1].value == pytest.approx(
        last['loss_raw'], rel=1e-5)


def test_priority_must_be_above_the_logger(tmp_path):
    runner = make_runner(tmp_path / 'prio', ScriptedModel([REAL]), 1,
                         hooks=[dict(type='AdaptiveLossHook',
                                     targets={'loss_*': 1.0},
                                     priority='LOW')])
    with pytest.raises(ValueError, match='LoggerHook.priority'):
        runner.train()


# ---------------------------------------------------------------------------
# LossJumpSkipHook: the notes' "skip if the loss jumps" remedy
# ---------------------------------------------------------------------------
def test_loss_jump_skip_hook(tmp_path):
    # totals 1, 1.05 (kept), 1.2 > 1.1 * 1.05 (skipped), 1.25 < 1.1 * 1.2
    # (kept: compared with the previous total, kept or not), NaN
    # (skipped, not a reference), 1.3 < 1.1 * 1.25 (kept)
    totals = [1.0, 1.05, 1.2, 1.25, NAN, 1.3]
    model = ScriptedModel([{'loss_a': t} for t in totals])
    # a small LR: w (which multiplies the totals) stays within 1e-2 of 1
    runner = make_runner(tmp_path / 'jump', model, 6, scheduler=False,
                         optim_wrapper=dict(
                             optimizer=dict(type='SGD', lr=1e-3)),
                         hooks=[dict(type='LossJumpSkipHook')])
    ws = []
    runner.register_hook(Recorder(lambda r: ws.append(float(
        r.model.w))), 'LOWEST')
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, LossJumpSkipHook))
    assert hook.num_skipped_steps == 2
    assert ws[2] == ws[1] and ws[4] == ws[3]
    assert ws[3] != ws[2] and ws[5] != ws[4]
    assert hook.prev_loss == pytest.approx(1.3 * ws[4])
    rows = scalar_rows(tmp_path / 'jump')
    assert [r['jump_skipped'] for r in rows] == [0, 0, 1, 0, 1, 0]
    # loss: back-propagated (0 when skipped); loss_raw: the model's total
    assert rows[2]['loss'] == 0 and rows[2]['loss_raw'] == pytest.approx(
        1.2 * ws[1])
    assert rows[3]['loss'] == rows[3]['loss_raw'] == pytest.approx(
        1.25 * ws[2])
    assert hook.state_dict() == dict(num_skipped_steps=2, scheduler_holds={},
                                     prev_loss=hook.prev_loss)
    restored = LossJumpSkipHook(ratio=1.5)
    restored.load_state_dict(hook.state_dict())
    assert restored.prev_loss == hook.prev_loss
    for bad in (1.0, 0.5, float('inf'), True, '1.1'):
        with pytest.raises(ValueError, match='ratio'):
            LossJumpSkipHook(ratio=bad)


def test_two_loss_hooks_exclude_each_other():
    model = ScriptedModel([REAL])
    AdaptiveLossHook(targets={'loss_*': 1.0}).attach(model)
    with pytest.raises(RuntimeError, match='exclude each other'):
        LossJumpSkipHook().attach(model)
    with pytest.raises(TypeError, match='OptimWrapper'):
        LossJumpSkipHook().attach(ScriptedModel([REAL]), object())
