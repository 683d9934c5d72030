"""Hyper-parameter search over any centerx_mm config: Ray Tune runs the trials
(local by default, or on a Ray cluster), Optuna's TPE samples them, ASHA stops
weak ones early. Usage and outputs: docs/tune.md.

    python tools/tune.py CONFIG --space SPACE.py [--num-samples N]
        [--max-concurrent K] [--address ray://HOST:PORT|HOST:PORT|auto]
        [--work-dir DIR] [--resume] [--metric coco/bbox_mAP]
        [--scheduler asha|median|fifo] [--amp] [--cfg-options k=v ...]

Each trial is an ordinary ``tools/train.py`` run (its ``main``) of a config
that inherits CONFIG and sets the sampled values; a ``TuneReportHook`` sends
every validation's metrics to Tune. A trial's work dir (checkpoints, logs,
the config) is ``DIR/trials/<trial id>``; Tune's experiment state is
``DIR/ray_tune``; the results are ``DIR/results.{md,csv}``,
``DIR/best_config.py`` and ``DIR/results.png``.
"""
import argparse
import copy
import csv
import glob
import hashlib
import json
import math
import os
import os.path as osp
import runpy
import socket
import sys
import time
import urllib.parse

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmengine.config import Config, DictAction  # noqa: E402

from centerx_mm.engine.hooks.tune_report_hook import tune_key  # noqa: E402
from centerx_mm.utils.misc import load_config  # noqa: E402

STATE_DIR = 'ray_tune'  # Tune's experiment state, under the work dir
TRIALS_DIR = 'trials'  # one mmengine work dir per trial
SEARCH_FILE = 'search.json'  # what was searched: checked by --resume
INSTALL_HINT = ('tools/tune.py needs Ray Tune and Optuna: pip install -r '
                'requirements/tune.txt (or pip install .[tune])')
# The search budget is the schedule of CONFIG: not a search dimension.
SCHEDULE_KEYS = ('train_cfg.type', 'train_cfg.by_epoch', 'train_cfg.max_iters',
                 'train_cfg.max_epochs', 'train_cfg.val_interval',
                 'train_cfg.val_begin')


class SearchError(Exception):
    """Bad input: printed as one line, exit status 1."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Hyper-parameter search (Ray Tune + Optuna TPE + ASHA)')
    parser.add_argument('config', help='config to tune (any train config)')
    parser.add_argument(
        '--space', required=True, help='search space file (configs/tune/)')
    parser.add_argument('--num-samples', type=int, default=16,
                        help='number of trials (default 16)')
    parser.add_argument(
        '--max-concurrent', type=int,
        help='trials at once (default: number of GPUs, at least 1)')
    parser.add_argument(
        '--address',
        help='Ray cluster: ray://HOST:PORT (Ray client), HOST:PORT (GCS) or '
        'auto (the cluster this node belongs to); default: a local Ray')
    parser.add_argument('--connect-timeout', type=float, default=10.0,
                        help='seconds to wait for --address (default 10)')
    parser.add_argument('--work-dir',
                        help='default ./work_dirs/tune_<config name>')
    parser.add_argument(
        '--resume', action='store_true',
        help="continue a killed search from Tune's experiment state")
    parser.add_argument(
        '--metric', default='coco/bbox_mAP',
        help='val metric to maximise, as the evaluator names it')
    parser.add_argument('--scheduler', choices=['asha', 'median', 'fifo'],
                        default='asha', help='early stopping (fifo: none)')
    parser.add_argument(
        '--grace-period', type=int,
        help='iterations (epochs for epoch-based configs) before a trial can '
        'be stopped (default: the validation interval)')
    parser.add_argument('--reduction-factor', type=float, default=2.0,
                        help='ASHA: keep 1/R of the trials at each rung')
    parser.add_argument('--seed', type=int, default=0, help='TPE seed')
    parser.add_argument(
        '--num-cpus', type=int,
        help='local Ray: CPUs to use (default: all of this machine)')
    parser.add_argument('--cpus-per-trial', type=float,
                        help='default: CPUs / --max-concurrent')
    parser.add_argument('--gpus-per-trial', type=float,
                        help='default: GPUs / --max-concurrent')
    parser.add_argument('--amp', action='store_true',
                        help='tools/train.py --amp in every trial')
    parser.add_argument(
        '--log-to-driver', action='store_true',
        help="print the trials' stdout here (they always log to their "
        'work dirs)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='config settings for every trial (data paths, the validation '
        'interval ...), e.g. train_cfg.val_interval=100')
    args = parser.parse_args(argv)
    for name in ('num_samples', 'max_concurrent', 'num_cpus'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got '
                         f'{value}')
    if args.reduction_factor <= 1:
        parser.error('--reduction-factor must be > 1')
    return args


# ---------------------------------------------------------------------------
# Search space
# ---------------------------------------------------------------------------
def require_tune():
    """Import Ray Tune and Optuna, or fail with the install hint."""
    try:
        import optuna  # noqa: F401
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401
    except ImportError as e:
        raise SearchError(f'{INSTALL_HINT} ({e})') from None


def load_space(path):
    """Run a space file; returns ``(space, points_to_evaluate)``.

    The file defines ``space`` (dict: config path -> Tune or Optuna
    distribution) and optionally ``points_to_evaluate`` (list of dicts:
    config path -> value, tried first, e.g. the defaults of CONFIG).
    """
    if not osp.isfile(path):
        raise SearchError(f'space file not found: {path}')
    try:
        ns = runpy.run_path(path)
    except Exception as e:  # the user's Python: name the file and line
        tb = e.__traceback__
        line = '?'
        while tb is not None:
            if osp.abspath(tb.tb_frame.f_code.co_filename) == osp.abspath(path):
                line = tb.tb_lineno
            tb = tb.tb_next
        raise SearchError(f'space file {path}, line {line}: '
                          f'{type(e).__name__}: {e}') from None
    space = ns.get('space')
    if not isinstance(space, dict) or not space:
        raise SearchError(f'space file {path} must define `space`, a '
                          'non-empty dict {config path: distribution}')
    points = ns.get('points_to_evaluate', [])
    if not isinstance(points, (list, tuple)) or not all(
            isinstance(p, dict) for p in points):
        raise SearchError(f'space file {path}: points_to_evaluate must be a '
                          'list of dicts {config path: value}')
    return space, list(points)


def config_value(cfg, key):
    """Value of config path ``key`` (``a.b.0.c``: dict keys and list
    indices, as ``--cfg-options``); a SearchError names the first part
    that does not exist."""
    node = cfg.to_dict() if isinstance(cfg, Config) else cfg
    walked = []
    for part in key.split('.'):
        where = '.'.join(walked) or '<top level>'
        if isinstance(node, dict):
            if part not in node:
                what = f" ({node['type']})" if isinstance(
                    node.get('type'), str) else ''
                raise SearchError(
                    f'space key {key!r} is not a config path: '
                    f'{where}{what} has no {part!r} (it has: '
                    f"{', '.join(sorted(map(str, node))) or 'nothing'})")
            node = node[part]
        elif isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                raise SearchError(
                    f'space key {key!r} is not a config path: {where} is a '
                    f'list of {len(node)}; {part!r} is not an index of it')
            node = node[int(part)]
        else:
            raise SearchError(
                f'space key {key!r} is not a config path: {where} is '
                f'{node!r:.60}, not a dict or list')
        walked.append(part)
    return node


def to_optuna(key, dist):
    """An Optuna distribution for space entry ``key``: ``dist`` is one, or a
    Tune domain (``tune.uniform`` ...) that Optuna can sample."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch
    from ray.tune.search.sample import Domain
    if isinstance(dist, optuna.distributions.BaseDistribution):
        return dist
    if isinstance(dist, dict) and 'grid_search' in dist:
        raise SearchError(f'space[{key!r}]: tune.grid_search cannot be '
                          'sampled by Optuna; use tune.choice')
    if not isinstance(dist, Domain):
        raise SearchError(
            f'space[{key!r}] = {dist!r} is not a distribution: use tune.'
            'uniform/loguniform/quniform/randint/lograndint/choice or an '
            'optuna.distributions.*Distribution (fixed values belong in '
            'CONFIG or --cfg-options)')
    try:
        (converted, ) = OptunaSearch.convert_search_space(
            {'x': dist}).values()
    except Exception as e:  # Ray / Optuna reject the domain
        raise SearchError(f'space[{key!r}] = {describe(dist)}: {e}'.replace(
            '\n', ' ')) from None
    return converted


def describe(domain):
    """Short text of a Tune domain, e.g. ``Float(0.01, 0.0001, Uniform)``
    (Ray's repr is ``<... object at 0x...>``)."""
    categories = getattr(domain, 'categories', None)
    if categories is not None:
        return f'choice({list(categories)!r})'
    sampler = type(getattr(domain, 'sampler', None)).__name__.strip('_')
    bounds = [getattr(domain, n) for n in ('lower', 'upper')
              if hasattr(domain, n)]
    return f"{type(domain).__name__}({', '.join(map(repr, bounds + [sampler]))})".replace("'", '')


def _numeric(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def dist_values(dist):
    """Example values of an Optuna distribution (its bounds / choices)."""
    import optuna
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return list(dist.choices)
    return [dist.low, dist.high]


def validate_space(cfg, space, points=()):
    """Check every key against ``cfg`` and every distribution; returns
    ``{key: optuna distribution}``. Raises SearchError (one line)."""
    dists = {}
    for key, dist in space.items():
        if not isinstance(key, str) or not key:
            raise SearchError(f'space key {key!r} must be a config path str')
        if key in SCHEDULE_KEYS:
            raise SearchError(
                f'space key {key!r}: the schedule is the search budget; set '
                'it in CONFIG or with --cfg-options, not in the space')
        current = config_value(cfg, key)
        if isinstance(current, (dict, list, tuple)):
            raise SearchError(
                f'space key {key!r} is a {type(current).__name__} in the '
                'config, not a value: name one of its entries')
        dist = to_optuna(key, dist)
        if current is not None:
            bad = [v for v in dist_values(dist)
                   if _numeric(v) != _numeric(current)]
            if bad:
                raise SearchError(
                    f'space[{key!r}]: value {bad[0]!r} does not fit the '
                    f'config value {current!r}')
        dists[key] = dist
    for i, point in enumerate(points):
        for key, value in point.items():
            if key not in dists:
                raise SearchError(f'points_to_evaluate[{i}]: {key!r} is not '
                                  'a key of space')
            dist = dists[key]
            try:
                ok = dist._contains(dist.to_internal_repr(value))
            except Exception:
                ok = False
            if not ok:
                raise SearchError(f'points_to_evaluate[{i}][{key!r}] = '
                                  f'{value!r} is outside {dist}')
    return dists


# ---------------------------------------------------------------------------
# Configs written for trials and for the best trial
# ---------------------------------------------------------------------------
def _crosses_list(cfg, key):
    """Whether config path ``key`` goes through a list of ``cfg`` (a part
    that ``cfg`` lacks, e.g. a new key of --cfg-options, ends the walk)."""
    node = cfg
    for part in key.split('.')[:-1]:
        try:
            node = node[int(part)] if isinstance(node, (list, tuple)) else \
                node[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return False
        if isinstance(node, (list, tuple)):
            return True
    return False


def config_text(cfg, overrides, base_path, extra_hooks=(), header=''):
    """Text of a config that inherits ``base_path`` (whose loaded config is
    ``cfg``) and sets ``overrides`` ({config path: value}, as
    ``--cfg-options``), optionally appending ``extra_hooks`` to
    ``custom_hooks``. Paths through dicts are written as nested dicts (merged
    into the base on load); a top-level entry with a path through a list
    (e.g. ``custom_hooks.0.targets.loss_wh``) is written whole, since
    inheritance replaces lists."""
    merged = copy.deepcopy(cfg)
    merged.merge_from_dict(dict(overrides))
    out, whole = {}, set()
    for key in overrides:
        if _crosses_list(cfg, key):
            whole.add(key.split('.')[0])
    if extra_hooks:
        whole.add('custom_hooks')
    for top in whole:
        out[top] = copy.deepcopy(merged.get(top, []))
    if extra_hooks:
        out['custom_hooks'] = list(out['custom_hooks']) + list(extra_hooks)
    for key, value in overrides.items():
        parts = key.split('.')
        if parts[0] in whole:
            continue
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    body = Config(out).pretty_text if out else ''
    return f'{header}_base_ = [{base_path!r}]\n{body}'


def schedule(cfg):
    """``(time_attr, max_t, val_interval)`` of CONFIG's train loop: the
    scheduler's time axis is ``iter`` (iteration-based loops) or ``epoch``,
    reported by TuneReportHook as ``train_iter`` / ``train_epoch``."""
    train_cfg = cfg.get('train_cfg') or {}
    loop = train_cfg.get('type')
    by_epoch = train_cfg.get('by_epoch')
    if loop == 'IterBasedTrainLoop' or (loop is None and by_epoch is False):
        return 'iter', int(train_cfg.max_iters), int(
            train_cfg.get('val_interval', 1000))
    if loop == 'EpochBasedTrainLoop' or (loop is None and by_epoch):
        return 'epoch', int(train_cfg.max_epochs), int(
            train_cfg.get('val_interval', 1))
    raise SearchError(
        f'train_cfg {dict(train_cfg)}: tools/tune.py needs an '
        'IterBasedTrainLoop or EpochBasedTrainLoop (or by_epoch=True/False)')


# ---------------------------------------------------------------------------
# Trials
# ---------------------------------------------------------------------------
def trial_dirname(trial):
    """Tune's per-trial directory name (short: the sampled values are in
    the results table and the trial config)."""
    return trial.trial_id


def run_trial(sampled, spec):
    """Ray Tune trainable: one ``tools/train.py`` run of the sampled point.

    Runs in a Ray worker process of its own. ``spec`` (from the driver):
    ``repo``, ``cwd`` (relative data paths in configs resolve against the
    driver's directory), ``config`` (absolute CONFIG path), ``cfg_options``
    (fixed overrides), ``work_root``, ``metric``, ``amp``.
    """
    if spec['repo'] not in sys.path:
        sys.path.insert(0, spec['repo'])
    if osp.isdir(spec['cwd']):
        os.chdir(spec['cwd'])
    import torch
    from mmengine.config import Config
    from ray import tune

    from tools import train as train_tool
    from tools.tune import config_text as make_text
    from tools.tune import trial_argv

    ctx = tune.get_context()
    cpus = ctx.get_trial_resources().required_resources.get('CPU', 1)
    torch.set_num_threads(max(1, int(cpus)))
    work_dir = osp.join(spec['work_root'], TRIALS_DIR, ctx.get_trial_id())
    os.makedirs(work_dir, exist_ok=True)
    cfg_path = osp.join(work_dir, 'trial_config.py')
    overrides = dict(spec['cfg_options'], **sampled)
    with open(cfg_path, 'w') as f:
        f.write(
            make_text(
                Config.fromfile(spec['config']), overrides, spec['config'],
                extra_hooks=[dict(type='TuneReportHook',
                                  metric=spec['metric'])],
                header=f'# Trial {ctx.get_trial_id()} of tools/tune.py: '
                f'{spec["config"]} with {sampled}\n'))
    train_tool.main(trial_argv(cfg_path, work_dir, spec['amp']))


def trial_argv(cfg_path, work_dir, amp=False):
    """``tools/train.py`` arguments of a trial; with ``--resume`` when its
    work dir has a checkpoint (the trial restarts after a kill)."""
    argv = [cfg_path, '--work-dir', work_dir]
    if amp:
        argv.append('--amp')
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        argv.append('--resume')
    return argv


# ---------------------------------------------------------------------------
# Ray
# ---------------------------------------------------------------------------
def check_reachable(address, timeout):
    """Fail fast (one line) when nothing listens at ``address``."""
    parsed = urllib.parse.urlsplit(
        address if '://' in address else f'ray://{address}')
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise SearchError(f'--address {address!r}: expected ray://HOST:PORT, '
                          'HOST:PORT or auto')
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise SearchError(
            f'--address {address}: cannot connect to {host}:{port} within '
            f'{timeout:g} s ({e.strerror or e}); is the Ray head running '
            '(ray start --head)?') from None


def connect(args):
    """Start a local Ray, or join the cluster at ``--address``."""
    import ray
    kwargs = dict(log_to_driver=args.log_to_driver, include_dashboard=False)
    if args.address is None:
        kwargs.update(
            num_cpus=args.num_cpus or os.cpu_count(),
            object_store_memory=256 * 2**20)  # trials pass no data through it
    else:
        if args.address != 'auto':
            check_reachable(args.address, args.connect_timeout)
        kwargs = dict(address=args.address, log_to_driver=args.log_to_driver)
    try:
        ray.init(**kwargs)
    except Exception as e:
        raise SearchError(f'--address {args.address}: ray.init failed: '
                          f'{type(e).__name__}: {e}'.splitlines()[0]) from None
    res = ray.cluster_resources()
    return res.get('CPU', 1), res.get('GPU', 0)


def trial_resources(args, cpus, gpus):
    """``(max_concurrent, {'cpu':, 'gpu':})``: by default one trial per GPU
    (one at a time without GPU), the CPUs shared evenly."""
    concurrent = args.max_concurrent or max(1, int(gpus))
    per_cpu = args.cpus_per_trial or max(1, int(cpus // concurrent))
    per_gpu = args.gpus_per_trial
    if per_gpu is None:
        per_gpu = 0 if not gpus else (int(gpus // concurrent)
                                      or gpus / concurrent)
    return concurrent, dict(cpu=per_cpu, gpu=per_gpu)


def resumable_asha(state_path, **kwargs):
    """Ray's ASHAScheduler whose rung records survive ``--resume``.

    Tune saves the searcher's state with the experiment but not the
    scheduler's: after a resume, ASHA would compare the remaining trials
    with no finished one. This subclass writes its records (``{trial id:
    metric}`` per rung, a few bytes) to ``state_path`` after every result and
    reloads them on its first trial after being restored.
    """
    from ray.tune.schedulers import ASHAScheduler

    class ResumableASHA(ASHAScheduler):

        def _rungs(self):
            return [[rung for _, rung in b._rungs] for b in self._brackets]

        def _save(self):
            with open(state_path + '.tmp', 'w') as f:
                json.dump(self._rungs(), f)
            os.replace(state_path + '.tmp', state_path)

        def on_trial_add(self, tune_controller, trial):
            if not getattr(self, '_records_loaded', False):
                self._records_loaded = True
                if osp.isfile(state_path):
                    with open(state_path) as f:
                        saved = json.load(f)
                    for rungs, saved_rungs in zip(self._rungs(), saved):
                        for rung, saved_rung in zip(rungs, saved_rungs):
                            rung.update(saved_rung)
            super().on_trial_add(tune_controller, trial)

        def on_trial_result(self, tune_controller, trial, result):
            action = super().on_trial_result(tune_controller, trial, result)
            self._save()
            return action

        def on_trial_complete(self, tune_controller, trial, result):
            super().on_trial_complete(tune_controller, trial, result)
            self._save()

    return ResumableASHA(**kwargs)


def make_scheduler(args, time_attr, max_t, val_interval, state_dir):
    from ray.tune.schedulers import FIFOScheduler, MedianStoppingRule
    grace = args.grace_period or val_interval
    if args.scheduler == 'asha':
        return resumable_asha(
            # Not in state_dir: Tune syncs that from a staging copy.
            osp.join(osp.dirname(state_dir), 'asha_rungs.json'),
            time_attr='train_' + time_attr, max_t=max_t,
            grace_period=min(grace, max_t),
            reduction_factor=args.reduction_factor)
    if args.scheduler == 'median':
        return MedianStoppingRule(time_attr='train_' + time_attr,
                                  grace_period=grace,
                                  min_samples_required=3)
    return FIFOScheduler()


def _sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def search_record(args, config, cfg_options):
    """What defines the search; ``--resume`` must match it."""
    return dict(config=config, space=osp.abspath(args.space),
                space_sha256=_sha256(args.space),
                cfg_options={k: repr(v) for k, v in cfg_options.items()},
                metric=args.metric, num_samples=args.num_samples)


def check_resume(args, work_dir, state_dir, record):
    from ray import tune
    meta_path = osp.join(work_dir, SEARCH_FILE)
    if not args.resume:
        if osp.exists(state_dir):
            raise SearchError(
                f'{work_dir} already holds a search ({state_dir}): pass '
                '--resume to continue it, or another --work-dir')
        return
    if not tune.Tuner.can_restore(state_dir) or not osp.isfile(meta_path):
        raise SearchError(f'--resume: no search to resume in {work_dir} '
                          f'(no Tune experiment state in {state_dir})')
    with open(meta_path) as f:
        old = json.load(f)
    for name, value in record.items():
        if old.get(name) != value:
            raise SearchError(
                f'--resume: {name} differs from the search in {work_dir} '
                f'({old.get(name)!r} there, {value!r} now)')


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
def find_log(work_dir):
    """Newest mmengine log of a trial work dir, or None."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    return logs[-1] if logs else None


def _error_line(trial_path):
    path = osp.join(trial_path or '', 'error.txt')
    if not osp.isfile(path):
        return 'unknown error'
    with open(path, errors='replace') as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    return lines[-1] if lines else 'unknown error'


def load_analysis(state_dir):
    """Ray Tune's ``ExperimentAnalysis`` of ``state_dir`` (quiet about
    trials that never reported)."""
    import logging

    from ray.tune import ExperimentAnalysis
    logger = logging.getLogger('ray.tune.analysis.experiment_analysis')
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return ExperimentAnalysis(state_dir)
    finally:
        logger.setLevel(level)


def collect(analysis, work_dir, keys, metric, max_t, time_attr):
    """One dict per trial of ``analysis`` (``load_analysis``), ranked by the
    best ``metric`` (failed trials last). Keys: ``rank``, ``number`` (the
    order in which the searcher created the trials, from 1), ``trial``,
    ``status`` (finished / stopped early / failed / running / pending),
    ``best``, ``best_at``, ``last``, ``iters`` (the ``time_attr`` reached),
    ``time_s``, ``log``, ``error`` and the sampled ``keys``."""
    col = tune_key(metric)
    rows = []
    for trial in analysis.trials:
        df = analysis.trial_dataframes.get(trial.trial_id)
        tag = str(trial.experiment_tag).split('_')[0]  # creation counter
        row = dict(number=int(tag) if tag.isdigit() else 0,
                   trial=trial.trial_id, best=math.nan, best_at=0,
                   last=math.nan, iters=0, time_s=0.0, error='')
        if df is not None and col in df and len(df):
            best_idx = df[col].idxmax()
            row.update(best=float(df[col][best_idx]),
                       best_at=int(df['train_' + time_attr][best_idx]),
                       last=float(df[col].iloc[-1]),
                       iters=int(df['train_' + time_attr].max()),
                       time_s=float(df['time_total_s'].iloc[-1]))
        trial_work = osp.join(work_dir, TRIALS_DIR, trial.trial_id)
        row['log'] = find_log(trial_work) or trial_work
        if trial.status == 'ERROR':
            row['status'] = 'failed'
            row['error'] = _error_line(trial.path)
        elif trial.status == 'TERMINATED':
            row['status'] = ('finished'
                             if row['iters'] >= max_t else 'stopped early')
        else:
            row['status'] = trial.status.lower()
        for key in keys:
            row[key] = trial.config.get(key)
        rows.append(row)
    rows.sort(key=lambda r: (r['status'] == 'failed', math.isnan(r['best']),
                             -r['best'] if not math.isnan(r['best']) else 0,
                             r['trial']))
    for i, row in enumerate(rows, 1):
        row['rank'] = i
    return rows


def _fmt(value):
    if isinstance(value, float):
        if math.isnan(value):
            return '-'
        return f'{value:.4g}'
    return '-' if value is None else str(value)


def write_tables(rows, keys, metric, time_attr, out_dir):
    """``results.csv`` (every field) and ``results.md`` (ranked table)."""
    fields = ['rank', 'number', 'trial', 'status', 'best', 'best_at', 'last', 'iters',
              'time_s'] + list(keys) + ['log', 'error']
    with open(osp.join(out_dir, 'results.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    header = ['rank', '#', 'trial', 'status', f'best {metric}',
              f'at {time_attr}', f'{time_attr}s run'] + [f'`{k}`' for k in keys]
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join('---' for _ in header) + '|']
    for r in rows:
        cells = [r['rank'], r['number'], r['trial'], r['status'], r['best'],
                 r['best_at'], r['iters']] + [r[k] for k in keys]
        lines.append('| ' + ' | '.join(_fmt(c) for c in cells) + ' |')
    failed = [r for r in rows if r['status'] == 'failed']
    text = '\n'.join(lines) + '\n'
    if failed:
        text += '\nFailed trials:\n\n' + ''.join(
            f"- {r['trial']}: {r['error']} (log: {r['log']})\n"
            for r in failed)
    with open(osp.join(out_dir, 'results.md'), 'w') as f:
        f.write(text)
    return text


def write_plot(rows, dfs, metric, time_attr, out_path):
    """Left: best metric of each trial in trial order and the running best
    (stopped-early trials as x, failed ones at the bottom as red v). Right:
    the metric against ``time_attr`` for every trial (``dfs``: trial id ->
    its results, ``ExperimentAnalysis.trial_dataframes``)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    order = sorted(rows, key=lambda r: r['number'])
    col = tune_key(metric)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    best_so_far, running = -math.inf, []
    for r in order:
        i = r['number']
        if not math.isnan(r['best']):
            best_so_far = max(best_so_far, r['best'])
        running.append(best_so_far if best_so_far > -math.inf else math.nan)
        if r['status'] == 'failed':
            ax1.plot(i, 0, 'rv', zorder=3)
        elif not math.isnan(r['best']):
            ax1.plot(i, r['best'],
                     'x' if r['status'] == 'stopped early' else 'o',
                     color='C0', zorder=3)
        df = dfs.get(r['trial'])
        if df is not None and col in df and len(df):
            ax2.plot(df['train_' + time_attr], df[col], marker='.', alpha=0.7)
    ax1.step([r['number'] for r in order], running, where='post',
             color='C1', label='best so far')
    ax1.xaxis.get_major_locator().set_params(integer=True)
    ax1.set(xlabel='trial #', ylabel=f'best {metric}',
            title='o finished, x stopped early, v failed')
    ax1.legend(loc='best')
    ax2.set(xlabel=time_attr, ylabel=metric, title='every trial')
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)


def write_best_config(rows, keys, cfg_raw, config, cfg_options, metric,
                      time_attr, out_path):
    """The best trial as a config that inherits CONFIG; None without one."""
    ok = [r for r in rows
          if r['status'] != 'failed' and not math.isnan(r['best'])]
    if not ok:
        return None
    best = ok[0]
    sampled = {k: best[k] for k in keys}
    header = (f'# Best trial of tools/tune.py: {best["trial"]}, best {metric}'
              f' = {best["best"]:.4g} at {time_attr} {best["best_at"]} '
              f'({best["status"]}).\n# Ready to train: python '
              f'tools/train.py {out_path}\n')
    with open(out_path, 'w') as f:
        f.write(config_text(cfg_raw, dict(cfg_options, **sampled), config,
                            header=header))
    return best


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def run_search(args):
    start = time.perf_counter()
    require_tune()
    config = osp.abspath(args.config)
    cfg_options = dict(args.cfg_options or {})
    try:
        cfg_raw = load_config(config)
        cfg = load_config(config, cfg_options)
    except FileNotFoundError as e:
        raise SearchError(str(e)) from None
    for name in ('val_dataloader', 'val_evaluator', 'val_cfg'):
        if not cfg.get(name):
            raise SearchError(f'{args.config} has no {name}: trials are '
                              'compared on their validation metric')
    time_attr, max_t, val_interval = schedule(cfg)
    space, points = load_space(args.space)
    dists = validate_space(cfg, space, points)
    keys = list(dists)
    if args.scheduler != 'fifo' and val_interval >= max_t:
        print(f'tools/tune.py: warning: one validation per trial ('
              f'val_interval {val_interval} >= {max_t} {time_attr}s): '
              f'{args.scheduler} cannot stop trials early; set '
              'train_cfg.val_interval with --cfg-options', file=sys.stderr)

    work_dir = osp.abspath(args.work_dir or osp.join(
        'work_dirs', 'tune_' + osp.splitext(osp.basename(config))[0]))
    state_dir = osp.join(work_dir, STATE_DIR)
    record = search_record(args, config, cfg_options)
    check_resume(args, work_dir, state_dir, record)

    import optuna
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    # Trials run in the driver's directory (relative data paths in configs).
    os.environ['RAY_CHDIR_TO_TRIAL_DIR'] = '0'
    # Ray sends usage statistics to its developers unless told not to.
    os.environ.setdefault('RAY_USAGE_STATS_ENABLED', '0')
    t0 = time.perf_counter()
    cpus, gpus = connect(args)
    ray_init_s = time.perf_counter() - t0
    try:
        os.makedirs(work_dir, exist_ok=True)
        with open(osp.join(work_dir, SEARCH_FILE), 'w') as f:
            json.dump(record, f, indent=1)
        concurrent, resources = trial_resources(args, cpus, gpus)
        spec = dict(repo=REPO, cwd=os.getcwd(), config=config,
                    cfg_options=cfg_options, work_root=work_dir,
                    metric=args.metric, amp=args.amp)
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, spec=spec), resources)
        print(f'tools/tune.py: {len(keys)} keys, {args.num_samples} trials, '
              f'{concurrent} at once with {resources}, scheduler '
              f'{args.scheduler} on {time_attr} (max {max_t}), work dir '
              f'{work_dir}', flush=True)
        t1 = time.perf_counter()
        if args.resume:
            tuner = tune.Tuner.restore(state_dir, trainable,
                                       resume_unfinished=True,
                                       resume_errored=False)
        else:
            sampler = optuna.samplers.TPESampler(
                seed=args.seed,
                n_startup_trials=min(10, max(2, args.num_samples // 3)))
            searcher = OptunaSearch(space=dists, metric=tune_key(args.metric),
                                    mode='max', sampler=sampler,
                                    points_to_evaluate=points or None)
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    scheduler=make_scheduler(args, time_attr, max_t,
                                             val_interval, state_dir),
                    metric=tune_key(args.metric), mode='max',
                    num_samples=args.num_samples,
                    max_concurrent_trials=concurrent,
                    trial_dirname_creator=trial_dirname),
                run_config=tune.RunConfig(
                    name=STATE_DIR, storage_path=work_dir,
                    failure_config=tune.FailureConfig(max_failures=0),
                    verbose=1))
        tuner.fit()
        fit_s = time.perf_counter() - t1
    finally:
        ray.shutdown()

    analysis = load_analysis(state_dir)
    rows = collect(analysis, work_dir, keys, args.metric, max_t, time_attr)
    table = write_tables(rows, keys, args.metric, time_attr, work_dir)
    write_plot(rows, analysis.trial_dataframes, args.metric, time_attr,
               osp.join(work_dir, 'results.png'))
    best = write_best_config(rows, keys, cfg_raw, config, cfg_options,
                             args.metric, time_attr,
                             osp.join(work_dir, 'best_config.py'))
    with open(osp.join(work_dir, 'search_summary.json'), 'w') as f:
        json.dump(dict(ray_init_s=ray_init_s, fit_s=fit_s,
                       wall_s=time.perf_counter() - start,
                       num_trials=len(rows), concurrent=concurrent,
                       resources=resources,
                       best=best and best['trial']), f, indent=1)
    print(table)
    for r in rows:
        if r['status'] == 'failed':
            print(f"tools/tune.py: trial {r['trial']} failed: {r['error']} "
                  f"(log: {r['log']})", file=sys.stderr)
    unfinished = [r['trial'] for r in rows
                  if r['status'] not in ('finished', 'stopped early',
                                         'failed')]
    if unfinished or len(rows) < args.num_samples:
        print(f'tools/tune.py: the search stopped with {len(rows)} of '
              f'{args.num_samples} trials created and {len(unfinished)} '
              'unfinished: continue it with the same command and --resume',
              file=sys.stderr)
    if best is None:
        raise SearchError(f'no trial reported {args.metric} (all '
                          f'{len(rows)} failed?); see {work_dir}')
    print(f'tools/tune.py: best trial {best["trial"]} ({args.metric} '
          f'{best["best"]:.4g}); results in {work_dir}/results.md, config '
          f'{work_dir}/best_config.py')
    return rows


def main(argv=None):
    args = parse_args(argv)
    try:
        return run_search(args)
    except SearchError as e:
        sys.exit(f'tools/tune.py: error: {e}')


if __name__ == '__main__':
    main()
