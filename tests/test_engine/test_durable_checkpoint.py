"""Durable checkpoints and --resume (issue 16): atomic writes, old files
deleted only after the new one is on disk, resume from the newest usable
checkpoint, and real kill -9 runs with max_keep_ckpts=1."""
import os
import os.path as osp
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.logging import HistoryBuffer

from centerx_mm.checkpoint import (load_checkpoint_safely, stale_tmp_files,
                                   write_atomically)
from centerx_mm.engine import (ResumeError, check_resumable,
                               find_resume_checkpoint)
from tests.helpers import (REPO, TINY_CONFIG, capture_log, data_options,
                           make_tiny_dataset, run_tool, write)


def runner_ckpt(path, step, weights=1.0):
    """A checkpoint shaped like the ones mmengine's runner writes."""
    buf = HistoryBuffer()
    buf.update(0.5)
    torch.save(
        dict(meta=dict(epoch=0, iter=step),
             state_dict={'w': torch.full((2, ), weights)},
             message_hub=dict(log_scalars={'train/loss': buf}),
             optimizer={}), str(path))
    return str(path)


def test_write_atomically_keeps_the_old_file_when_cut_short(tmp_path):
    path = tmp_path / 'iter_4.pth'
    path.write_bytes(b'old complete content')

    def half_then_killed(tmp):
        with open(tmp, 'wb') as f:
            f.write(b'new but only ha')
        raise KeyboardInterrupt  # stands for the kill

    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(path), half_then_killed)
    assert path.read_bytes() == b'old complete content'
    assert stale_tmp_files(str(tmp_path)) == [str(tmp_path /
                                                  '.iter_4.pth.tmp')]
    write_atomically(str(path), lambda tmp: open(tmp, 'wb').write(b'new'))
    assert path.read_bytes() == b'new'
    assert stale_tmp_files(str(tmp_path)) == []


def test_old_checkpoint_deleted_only_after_the_new_one_is_written(
        tmp_path, monkeypatch):
    """max_keep_ckpts=1 and a save that dies: mmengine deletes iter_1 first
    and loses the run; here iter_1 and last_checkpoint survive, and a
    resume finishes the deletion."""
    from mmengine.runner import runner as runner_module

    from tests.test_engine.test_adaptive_loss_hook import _toy_runner
    runner = _toy_runner(tmp_path, max_iters=3)
    hook = next(h for h in runner.hooks
                if type(h).__name__.endswith('CheckpointHook'))
    hook.interval, hook.max_keep_ckpts = 1, 1
    real_save = runner_module.save_checkpoint
    calls = []

    def dies_on_second(checkpoint, filename, **kwargs):
        calls.append(filename)
        if len(calls) == 2:
            with open(filename, 'wb') as f:
                f.write(b'partial')
            raise KeyboardInterrupt  # stands for the kill
        real_save(checkpoint, filename, **kwargs)

    monkeypatch.setattr(runner_module, 'save_checkpoint', dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    assert (tmp_path / 'iter_1.pth').exists()
    assert load_checkpoint_safely(str(tmp_path / 'iter_1.pth'))[
        'meta']['iter'] == 1
    last = (tmp_path / 'last_checkpoint').read_text()
    assert last.endswith('iter_1.pth')
    assert not (tmp_path / 'iter_2.pth').exists()  # never a partial file
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path /
                                                        'iter_1.pth')


def test_stale_tmp_file_removed_once_when_out_dir_is_work_dir(tmp_path):
    """A save cut short by a kill leaves ``.iter_N.pth.tmp``; the next run
    removes it once, even though out_dir and work_dir are the same folder
    (it used to try twice and die with FileNotFoundError)."""
    from tests.test_engine.test_adaptive_loss_hook import _toy_runner
    runner = _toy_runner(tmp_path, max_iters=1)
    hook = next(h for h in runner.hooks
                if type(h).__name__.endswith('CheckpointHook'))
    stale = tmp_path / '.iter_6.pth.tmp'
    stale.write_bytes(b'partial')
    with capture_log() as lines:
        hook.before_train(runner)
    assert osp.realpath(hook.out_dir) == osp.realpath(runner.work_dir)
    assert not stale.exists()
    assert sum('a save cut short by a kill' in line
               for line in lines) == 1, lines


def test_resume_picks_newest_usable_and_names_what_it_skipped(tmp_path):
    for step in (2, 4):
        runner_ckpt(tmp_path / f'iter_{step}.pth', step)
    good = (tmp_path / 'iter_4.pth').read_bytes()
    (tmp_path / 'iter_6.pth').write_bytes(good[:len(good) // 2])
    (tmp_path / 'iter_8.pth').write_bytes(bytes(len(good)))
    torch.save({'state_dict': {'w': torch.ones(2)}}, tmp_path / 'iter_10.pth')
    # no last_checkpoint at all (mmengine: "resumed from None", iter 0)
    with capture_log() as lines:
        assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path /
                                                            'iter_4.pth')
    text = '\n'.join(lines)
    for step, why in ((10, 'holds weights only'), (8, 'zero bytes'),
                      (6, 'truncated or corrupt')):
        assert re.search(rf'skipped \S*iter_{step}\.pth: .*{why}', text), \
            text
    assert 'weights_only' not in text
    assert 'continuing from' in text and 'iter_4.pth' in text


def test_resume_never_restarts_over_unusable_checkpoints(tmp_path):
    (tmp_path / 'iter_2.pth').write_bytes(b'')
    (tmp_path / 'epoch_1.pth').write_bytes(b'garbage')
    with pytest.raises(ResumeError) as err:
        find_resume_checkpoint(str(tmp_path))
    msg = str(err.value)
    assert 'iter_2.pth' in msg and 'epoch_1.pth' in msg
    assert 'not restarted' in msg
    assert find_resume_checkpoint(str(tmp_path / 'empty')) is None


def test_resume_of_weights_only_checkpoint_suggests_load_from(tmp_path):
    path = tmp_path / 'student.pth'
    torch.save({'state_dict': {'w': torch.ones(2)},
                'meta': {'dataset_meta': {'classes': ('a', )}}}, path)
    with pytest.raises(ResumeError,
                       match=r'student\.pth: it holds weights only .*'
                       r'load_from=\S*student\.pth'):
        check_resumable(str(path))
    from tools.train import main
    with pytest.raises(ResumeError, match='holds weights only'):
        main([TINY_CONFIG, '--work-dir', str(tmp_path), '--resume',
              str(path)])


# ---------------------------------------------------------------------------
# Real kills
# ---------------------------------------------------------------------------
MAX_ITERS, INTERVAL = 12, 2
HOOK = 'tests.test_engine.kill_during_save_hook'


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('shapes'), num_train=4,
                             num_val=2)


def _train_args(work, data, **kill):
    """tools/train.py arguments: the tiny config, max_keep_ckpts=1, every
    checkpoint padded to 48 MB so that a save takes a while, and
    KillDuringSaveHook(**kill)."""
    cfg = write(osp.join(osp.dirname(work), osp.basename(work) + '_cfg.py'),
                f"""
                _base_ = [{TINY_CONFIG!r}]
                custom_imports = dict(imports=[{HOOK!r}],
                                      allow_failed_imports=False)
                custom_hooks = [dict(type='NumClassesCheckHook'),
                                dict(type='KillDuringSaveHook', **{kill!r})]
                """)
    return [cfg, '--work-dir', work, '--cfg-options', *data_options(data),
            f'train_cfg.max_iters={MAX_ITERS}',
            f'default_hooks.checkpoint.interval={INTERVAL}',
            'default_hooks.checkpoint.max_keep_ckpts=1']


def _iters(text):
    return [int(n) for n in re.findall(
        rf'Iter\(train\) \[\s*(\d+)/{MAX_ITERS}\]', text)]


def _killed_runs(tmp_path, data, rng, kinds):
    """Start one tools/train.py run per kind, side by side, and kill -9
    each: ``'save'`` during its k-th save (random k, at a random moment of
    the write, sent by KillDuringSaveHook), ``'random'`` from here at a
    random time after its first checkpoint. Returns per run its work dir
    and the last iteration its log reported."""
    runs = []
    for i, kind in enumerate(kinds):
        work = str(tmp_path / f'run{i}')
        kill = dict(kill_at_save=rng.randint(1, 3), kill_within=0.5,
                    seed=rng.randint(0, 10**6)) if kind == 'save' else {}
        log = tmp_path / f'run{i}.log'
        with open(log, 'w') as f:
            proc = subprocess.Popen(
                [sys.executable, 'tools/train.py'] +
                _train_args(work, data, **kill), cwd=REPO, stdout=f,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, OMP_NUM_THREADS='1',
                         PYTHONUNBUFFERED='1'))
        runs.append(dict(kind=kind, work=work, log=log, proc=proc,
                         kill_at=None))
    deadline = time.time() + 300
    try:
        while any(r['proc'].poll() is None for r in runs):
            assert time.time() < deadline, 'no kill after 300 s'
            for r in runs:
                if r['kind'] != 'random' or r['proc'].poll() is not None:
                    continue
                if r['kill_at'] is None and osp.isfile(
                        osp.join(r['work'], 'last_checkpoint')):
                    r['kill_at'] = time.time() + rng.uniform(0, 1.5)
                if r['kill_at'] is not None and time.time() > r['kill_at']:
                    r['proc'].send_signal(signal.SIGKILL)
            time.sleep(0.005)
    finally:
        for r in runs:
            if r['proc'].poll() is None:
                r['proc'].kill()
            r['proc'].wait()
    out = []
    for r in runs:
        text = r['log'].read_text()
        assert r['proc'].returncode == -signal.SIGKILL, text[-3000:]
        done = _iters(text)
        assert done and max(done) < MAX_ITERS, 'finished before the kill'
        out.append((r['kind'], r['work'], max(done)))
    return out


def test_kill_9_at_random_points_never_loses_the_run(tiny_data, tmp_path):
    rng = random.Random(int(time.time()))
    for kind, work, done in _killed_runs(tmp_path, tiny_data, rng,
                                         ['save', 'save', 'random']):
        state = sorted(os.listdir(work))
        path = find_resume_checkpoint(work)
        if path is None:  # killed during the first save: nothing to lose
            assert done <= INTERVAL and not [
                n for n in state if n.endswith('.pth')], (kind, state)
            continue
        last = open(osp.join(work, 'last_checkpoint')).read().strip()
        assert osp.isfile(last), (kind, state)
        ckpt = load_checkpoint_safely(last)  # complete, loadable
        resumed = load_checkpoint_safely(path)['meta']['iter']
        assert resumed >= ckpt['meta']['iter']
        assert done - resumed <= INTERVAL, (kind, done, resumed, state)
    # The random-time run, with last_checkpoint gone as well, resumes and
    # ends.
    os.remove(osp.join(work, 'last_checkpoint'))
    out = run_tool(['tools/train.py'] + _train_args(work, tiny_data) +
                   ['--resume'])
    text = out.stdout + out.stderr
    assert f'resumed epoch: 0, iter: {resumed}' in text
    iters = _iters(text)
    assert min(iters) == resumed + 1 and max(iters) == MAX_ITERS
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == [
        f'iter_{MAX_ITERS}.pth'
    ]
    assert stale_tmp_files(work) == []
