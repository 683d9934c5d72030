"""tools/tune.py (Ray Tune + Optuna + ASHA): bad input (one-line errors, no
Ray started), the config files it writes, and one real local search on the
tiny dataset that is killed after its first trial and resumed (results
table, early stopping of a bad trial, a crashing trial, best config)."""
import csv
import glob
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest
from mmengine.config import Config

from tests.helpers import (REPO, TINY_CONFIG, data_options, make_tiny_dataset,
                           run_tool, write)
from tools import tune as tune_tool

ADAPTIVE = osp.join(REPO, 'configs', 'centerx',
                    'centerx_r18_1k_cosine_adaptive_shapes.py')
LR = 'optim_wrapper.optimizer.lr'
SCORE = 'val_evaluator.1.score'


def one_line_error(argv, *fragments):
    """tools/tune.py ``argv`` exits with one line holding ``fragments``."""
    with pytest.raises(SystemExit) as err:
        tune_tool.main(argv)
    msg = str(err.value.code)
    assert msg.startswith('tools/tune.py: error: ') and '\n' not in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def space_file(tmp_path, body, name='space.py'):
    return write(tmp_path / name, 'from ray import tune\nimport optuna\n' +
                 body)


# ---------------------------------------------------------------------------
# Bad input: one line, before any Ray start
# ---------------------------------------------------------------------------
def test_missing_ray_gives_install_hint(tmp_path, monkeypatch):
    space = space_file(tmp_path, f'space = {{{LR!r}: tune.uniform(0, 1)}}')
    for name in ('ray', 'ray.tune', 'optuna'):  # "not installed"
        monkeypatch.setitem(sys.modules, name, None)
    one_line_error([TINY_CONFIG, '--space', space],
                   'pip install -r requirements/tune.txt',
                   'pip install .[tune]')


@pytest.mark.parametrize('key, fragments', [
    ('optim_wrapper.optimizer.lrr',
     ["'optim_wrapper.optimizer.lrr' is not a config path",
      "optim_wrapper.optimizer (AdamW) has no 'lrr'",
      'lr, type, weight_decay']),
    ('custom_hooks.5.targets.loss_wh',
     ['custom_hooks is a list of 1', "'5' is not an index"]),
    ('custom_hooks.0.targetz.loss_wh',
     ["custom_hooks.0 (AdaptiveLossHook) has no 'targetz'"]),
    ('model.backbone.depth.x', ['model.backbone.depth is 18, not a dict']),
    ('optim_wrapper.optimizer', ['is a dict in the config, not a value']),
    ('train_cfg.max_iters', ['the schedule is the search budget']),
])
def test_space_key_not_a_config_path(tmp_path, key, fragments):
    space = space_file(tmp_path, f'space = {{{key!r}: tune.uniform(1, 2)}}')
    one_line_error([ADAPTIVE, '--space', space], *fragments)


@pytest.mark.parametrize('dist, fragments', [
    ('0.01', ['= 0.01 is not a distribution']),
    ('tune.randn(0, 1)', ['Optuna search does not support', 'Normal']),
    ('tune.uniform(1e-2, 1e-4)', [f"space[{LR!r}]", 'high']),
    ('tune.grid_search([1e-3, 1e-2])', ['grid_search cannot be sampled']),
    ("tune.choice(['a', 'b'])", ["value 'a' does not fit the config value"]),
    ('tune.sample_from(lambda _: 1e-3)', [f"space[{LR!r}]"]),
])
def test_distribution_tune_cannot_parse(tmp_path, dist, fragments):
    space = space_file(tmp_path, f'space = {{{LR!r}: {dist}}}')
    one_line_error([TINY_CONFIG, '--space', space], *fragments)


def test_space_file_errors(tmp_path):
    bad = space_file(tmp_path, 'x = 1\nspace = {"a": tune.loguniform(0, 1)}')
    one_line_error([TINY_CONFIG, '--space', bad], f'{bad}, line 4',
                   'ValueError')
    empty = space_file(tmp_path, 'space = {}', 'empty.py')
    one_line_error([TINY_CONFIG, '--space', empty], 'must define `space`')
    one_line_error([TINY_CONFIG, '--space', str(tmp_path / 'none.py')],
                   'space file not found')
    outside = space_file(
        tmp_path, f'space = {{{LR!r}: tune.uniform(1e-4, 1e-2)}}\n'
        f'points_to_evaluate = [{{{LR!r}: 0.5}}]', 'points.py')
    one_line_error([TINY_CONFIG, '--space', outside],
                   f"points_to_evaluate[0][{LR!r}] = 0.5 is outside")


def test_optuna_distributions_accepted():
    import optuna
    from ray import tune
    cfg = Config.fromfile(ADAPTIVE)
    dists = tune_tool.validate_space(cfg, {
        LR: tune.loguniform(1e-4, 1e-2),
        'custom_hooks.0.targets.loss_wh':
        optuna.distributions.FloatDistribution(0.05, 1.0, log=True),
        'model.test_cfg.topk': tune.randint(50, 101),
    })
    assert dists[LR] == optuna.distributions.FloatDistribution(
        1e-4, 1e-2, log=True)
    assert dists['model.test_cfg.topk'] == \
        optuna.distributions.IntDistribution(50, 100)


def test_unreachable_address(tmp_path):
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    space = space_file(tmp_path, f'space = {{{LR!r}: tune.uniform(0, 1)}}')
    start = time.time()
    one_line_error([TINY_CONFIG, '--space', space, '--work-dir',
                    str(tmp_path / 'w'), '--address',
                    f'ray://127.0.0.1:{port}', '--connect-timeout', '2'],
                   f'--address ray://127.0.0.1:{port}: cannot connect to '
                   f'127.0.0.1:{port}', 'ray start --head')
    assert time.time() - start < 30
    one_line_error([TINY_CONFIG, '--space', space, '--work-dir',
                    str(tmp_path / 'w'), '--address', 'nohost'],
                   'expected ray://HOST:PORT')


def test_resume_needs_a_search(tmp_path):
    space = space_file(tmp_path, f'space = {{{LR!r}: tune.uniform(0, 1)}}')
    work = tmp_path / 'w'
    one_line_error([TINY_CONFIG, '--space', space, '--work-dir', str(work),
                    '--resume'], '--resume: no search to resume')
    (work / 'ray_tune').mkdir(parents=True)
    one_line_error([TINY_CONFIG, '--space', space, '--work-dir', str(work)],
                   'already holds a search', 'pass --resume')


# ---------------------------------------------------------------------------
# Configs the tool writes
# ---------------------------------------------------------------------------
def test_config_text_inherits_and_sets_paths(tmp_path):
    cfg = Config.fromfile(ADAPTIVE)
    overrides = {LR: 0.004, 'custom_hooks.0.targets.loss_wh': 0.35,
                 'model.bbox_head.loss_wh.loss_weight': 0.2,
                 'model.backbone.frozen_stages': 1}  # a new key
    text = tune_tool.config_text(
        cfg, overrides, ADAPTIVE,
        extra_hooks=[dict(type='TuneReportHook', metric='coco/bbox_mAP')])
    assert text.startswith(f'_base_ = [{ADAPTIVE!r}]\n')
    assert 'param_scheduler' not in text  # only what changes is written
    out = Config.fromfile(write(tmp_path / 'trial.py', text))
    assert out.optim_wrapper.optimizer.lr == 0.004
    assert out.optim_wrapper.optimizer.type == 'AdamW'  # merged, not replaced
    assert out.model.bbox_head.loss_wh.loss_weight == 0.2
    assert out.model.bbox_head.loss_offset.loss_weight == 1.0
    assert (out.model.backbone.frozen_stages, out.model.backbone.depth) == (
        1, 18)
    hooks = out.custom_hooks  # the list is written whole
    assert [h.type for h in hooks] == [
        'AdaptiveLossHook', 'TuneReportHook'
    ]
    assert hooks[0].targets == dict(loss_heatmap=1.0, loss_wh=0.35,
                                    loss_offset=0.2)
    assert out.train_cfg.max_iters == cfg.train_cfg.max_iters


def test_trial_argv_resumes_a_restarted_trial(tmp_path):
    work = str(tmp_path)
    assert tune_tool.trial_argv('t.py', work) == ['t.py', '--work-dir', work]
    write(tmp_path / 'last_checkpoint', work + '/iter_2.pth')
    assert tune_tool.trial_argv('t.py', work, amp=True) == [
        't.py', '--work-dir', work, '--amp', '--resume'
    ]


@pytest.mark.parametrize('name, config', [
    ('space_lr_lossweights.py', ADAPTIVE),
    ('space_adaptive_targets.py', ADAPTIVE),
    ('space_lr_lossweights_ttf.py',
     osp.join(REPO, 'configs/centerx_ttf/centerx-ttf_r18w32_1k_shapes.py')),
])
def test_shipped_spaces_fit_their_configs(name, config):
    space, points = tune_tool.load_space(
        osp.join(REPO, 'configs', 'tune', name))
    cfg = Config.fromfile(config)
    dists = tune_tool.validate_space(cfg, space, points)
    # The first point is the config's own values.
    for key, value in points[0].items():
        assert tune_tool.config_value(cfg, key) == value, key
    assert len(dists) >= 2


# ---------------------------------------------------------------------------
# A real search: killed after its first trial, resumed
# ---------------------------------------------------------------------------
GOOD = {LR: 1e-3, SCORE: 0.9}
BAD = {LR: 1e-3, SCORE: 0.1}  # stopped by ASHA at its first validation
CRASH = {LR: -1.0, SCORE: 0.9}  # AdamW rejects the learning rate


def trial_statuses(state_dir):
    """{trial id: status} from Tune's newest experiment state file."""
    out = {}
    for path in glob.glob(osp.join(state_dir, 'experiment_state-*.json')):
        try:
            with open(path) as f:
                for trial_json, _ in json.load(f)['trial_data']:
                    trial = json.loads(trial_json)
                    out[trial['trial_id']] = trial['status']
        except (OSError, ValueError, KeyError):
            pass  # being written
    return out


@pytest.fixture(scope='module')
def search(tmp_path_factory):
    root = tmp_path_factory.mktemp('tune')
    data = make_tiny_dataset(root / 'data')
    ann = osp.join(data, 'annotations', 'instances_val.json')
    # Validation reports COCO mAP and a score set by the config (the mAP of
    # a 4-iteration tiny model is 0 for every trial: no ASHA decision).
    config = write(root / 'toy.py', f"""
        _base_ = [{TINY_CONFIG!r}]
        custom_imports = dict(imports=['tests.tune_score_metric'],
                              allow_failed_imports=False)
        val_evaluator = [dict(type='CocoMetric', ann_file={ann!r},
                              metric='bbox'),
                         dict(type='ConfigScoreMetric', score=0.5)]
        test_evaluator = val_evaluator
        train_cfg = dict(max_iters=4, val_interval=2)
        """)
    space = write(root / 'space.py', f"""
        from ray import tune
        space = {{{LR!r}: tune.choice([1e-3, -1.0]),
                  {SCORE!r}: tune.choice([0.9, 0.1])}}
        points_to_evaluate = [{GOOD!r}, {BAD!r}, {CRASH!r}]
        """)
    work = str(root / 'search')
    args = ['tools/tune.py', config, '--space', space, '--num-samples', '3',
            '--max-concurrent', '1', '--num-cpus', '1', '--metric',
            'toy/score', '--work-dir', work, '--cfg-options',
            *data_options(data)[:3]]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               TUNE_GLOBAL_CHECKPOINT_S='0')  # save the state at every step
    state_dir = osp.join(work, 'ray_tune')
    log = root / 'killed.log'
    with open(log, 'w') as f:
        proc = subprocess.Popen([sys.executable] + args, cwd=REPO, env=env,
                                stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + 420  # generous: a shared, loaded CPU
        while 'TERMINATED' not in trial_statuses(state_dir).values():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        at_kill = trial_statuses(state_dir)
    finally:  # the driver, its local Ray and the trial workers
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)
            time.sleep(0.2)
        except ProcessLookupError:
            break
    resumed = run_tool(args + ['--resume'], timeout=900, env=env)
    with open(osp.join(work, 'results.csv')) as f:
        rows = list(csv.DictReader(f))
    by_point = {(float(r[LR]), float(r[SCORE])): r for r in rows}
    return dict(work=work, config=config, at_kill=at_kill, rows=rows,
                by_point=by_point, out=resumed.stdout, err=resumed.stderr,
                state_dir=state_dir, data=data)


def point(search, values):
    return search['by_point'][(values[LR], values[SCORE])]


def test_search_results_table(search):
    rows = search['rows']
    assert [r['rank'] for r in rows] == ['1', '2', '3']
    good, bad, crash = (point(search, p) for p in (GOOD, BAD, CRASH))
    assert rows[0] is good and rows[2] is crash
    assert (good['status'], good['best'], good['iters']) == (
        'finished', '0.9', '4')
    assert (bad['status'], bad['best'], bad['iters']) == (
        'stopped early', '0.1', '2')
    assert (crash['status'], crash['iters']) == ('failed', '0')
    with open(osp.join(search['work'], 'results.md')) as f:
        md = f.read()
    assert md.startswith('| rank | # | trial | status | best toy/score | at '
                         f'iter | iters run | `{LR}` | `{SCORE}` |')
    # ranked by the score; '#' is the order of points_to_evaluate
    assert (f"| 1 | 1 | {good['trial']} | finished | 0.9 | 2 | 4 | 0.001 | "
            '0.9 |') in md
    assert f"| 2 | 2 | {bad['trial']} | stopped early | 0.1 | 2 | 2 |" in md
    assert f"| 3 | 3 | {crash['trial']} | failed | - | 0 | 0 | -1 | 0.9 |" \
        in md
    assert md in search['out']


def test_search_reports_coco_map_at_every_validation(search):
    trial = point(search, GOOD)['trial']
    with open(osp.join(search['state_dir'], trial, 'result.json')) as f:
        results = [json.loads(line) for line in f]
    assert [r['train_iter'] for r in results] == [2, 4]
    assert all(isinstance(r['coco_bbox_mAP'], float) for r in results)
    assert [r['toy_score'] for r in results] == [0.9, 0.9]


def test_crashed_trial_marked_failed_with_log(search):
    crash = point(search, CRASH)
    assert crash['error'] == 'ValueError: Invalid learning rate: -1.0'
    assert osp.isfile(crash['log']) and crash['log'].startswith(
        osp.join(search['work'], 'trials', crash['trial']))
    with open(crash['log']) as f:
        assert 'lr=-1.0' in f.read()  # mmengine logged the trial's config
    assert (f"tools/tune.py: trial {crash['trial']} failed: ValueError: "
            f"Invalid learning rate: -1.0 (log: {crash['log']})"
            in search['err'])


def test_killed_search_resumed_without_rerun(search):
    good, bad = point(search, GOOD), point(search, BAD)
    # Killed once the first trial had finished and before the second did.
    assert search['at_kill'][good['trial']] == 'TERMINATED'
    assert search['at_kill'].get(bad['trial'], 'PENDING') in ('PENDING',
                                                             'RUNNING')
    # The finished trial ran once (one mmengine run dir, two reports) ...
    runs = glob.glob(osp.join(search['work'], 'trials', good['trial'], '2*'))
    assert len(runs) == 1, runs
    # ... and ASHA still compared the bad trial with it after the resume.
    assert bad['status'] == 'stopped early'
    with open(osp.join(search['work'], 'asha_rungs.json')) as f:
        rungs = json.load(f)
    assert rungs[0][-1] == {good['trial']: 0.9, bad['trial']: 0.1}


def test_best_config_builds_and_trains(search, tmp_path):
    path = osp.join(search['work'], 'best_config.py')
    with open(path) as f:
        text = f.read()
    assert f"_base_ = [{search['config']!r}]" in text
    cfg = Config.fromfile(path)
    assert cfg.optim_wrapper.optimizer.lr == GOOD[LR]
    assert cfg.val_evaluator[1].score == GOOD[SCORE]
    assert not any(h.type == 'TuneReportHook' for h in cfg.custom_hooks)
    work = str(tmp_path / 'best')
    run_tool(['tools/train.py', path, '--work-dir', work, '--cfg-options',
              'train_cfg.max_iters=2'])
    assert osp.isfile(osp.join(work, 'iter_2.pth'))


def test_results_plot(search):
    from PIL import Image
    with Image.open(osp.join(search['work'], 'results.png')) as img:
        assert img.size == (1100, 400)
        # not blank: markers and lines were drawn
        assert len(img.convert('L').getcolors(maxcolors=1 << 16)) > 10


def test_resume_with_another_space_is_refused(search, tmp_path):
    other = space_file(tmp_path, f'space = {{{LR!r}: tune.uniform(0, 1)}}')
    one_line_error([search['config'], '--space', other, '--work-dir',
                    search['work'], '--resume'], '--resume: space differs')


# ---------------------------------------------------------------------------
# tools/benchmark/bench_tune_overhead.py at toy size
# ---------------------------------------------------------------------------
def test_bench_tune_overhead_smoke(search, tmp_path, capsys):
    import importlib.util
    import math
    spec = importlib.util.spec_from_file_location(
        'centerx_bench_tune_overhead',
        osp.join(REPO, 'tools', 'benchmark', 'bench_tune_overhead.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.main([
        '--config', TINY_CONFIG, '--iters', '1', '--trials', '1',
        '--work-dir', str(tmp_path), '--cfg-options',
        *data_options(search['data'])
    ])
    assert [r['row'] for r in res['rows']] == [
        'plain tools/train.py process (median)',
        'Tune trial (fit time / trials)',
        'Tune search incl. Ray start, per trial'
    ]
    for r in res['rows']:
        assert math.isfinite(r['seconds']) and r['seconds'] > 0
    assert res['rows'][0]['ratio'] == 1.0
    # the whole search includes its trial
    assert res['rows'][2]['seconds'] > res['rows'][1]['seconds']
    assert res['summary']['num_trials'] == 1
    # both sides trained the same run: 1 iteration, one checkpoint each
    assert osp.isfile(osp.join(tmp_path, 'plain_0', 'iter_1.pth'))
    assert len(glob.glob(osp.join(tmp_path, 'tune', 'trials', '*',
                                  'iter_1.pth'))) == 1
    out = capsys.readouterr().out
    assert '| Tune trial (fit time / trials) |' in out
    assert 'Tune overhead per trial: ' in out
