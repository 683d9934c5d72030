"""Ray Tune's overhead per trial (issue 15: <= 5% of a 300-iteration trial).

The same training run is timed as ``--trials`` plain ``tools/train.py``
processes and as one ``tools/tune.py`` search of ``--trials`` trials (FIFO
scheduler, one trial at a time, a space of one value, CONFIG's own
learning rate, so every trial is the plain run). Side by side:

- plain: median wall time of one ``tools/train.py`` process (python start,
  imports, runner build, training, validation);
- Tune trial: the search's ``tuner.fit()`` time divided by the number of
  trials: the Ray worker process start, imports, the run, the report to Tune
  and Tune's bookkeeping between trials;
- Tune search per trial: the whole ``tools/tune.py`` process (with the Ray
  start, once per search, and the results tables / plot) divided by the
  number of trials.

    python tools/benchmark/bench_tune_overhead.py \\
        [--config configs/centerx/centerx_r18w32_quickstart_shapes.py] \\
        [--iters 300] [--trials 3] [--threads 1] [--work-dir DIR] [--amp] \\
        [--cfg-options key=value ...]

Both sides get ``--threads`` CPU threads (plain: ``OMP_NUM_THREADS``; Tune:
``--num-cpus``, which sets the trial's torch threads).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import REPO, command_line, machine_line, markdown_table  # noqa

DEFAULT_CONFIG = 'configs/centerx/centerx_r18w32_quickstart_shapes.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--iters', type=int, default=300,
                        help='iterations per run (one validation, at the end)')
    parser.add_argument('--trials', type=int, default=3,
                        help='plain runs, and trials of the search')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--work-dir', help='default: a temporary directory')
    parser.add_argument('--amp', action='store_true',
                        help='--amp on both sides')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value, passed as is to both sides')
    args = parser.parse_args(argv)
    for name in ('iters', 'trials', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1')
    return args


def _run(cmd, env, log):
    """Run ``cmd`` in the repo root; returns its wall time in seconds."""
    start = time.perf_counter()
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=f,
                              stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}); '
                           f'see {log}')
    return wall


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config, DictAction
    config = osp.abspath(osp.join(REPO, args.config)) if not osp.isabs(
        args.config) else args.config
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_tune_')
    os.makedirs(work, exist_ok=True)
    options = list(args.cfg_options) + [
        f'train_cfg.max_iters={args.iters}',
        f'train_cfg.val_interval={args.iters}'
    ]
    cfg = Config.fromfile(config)
    for option in options:
        key, _, value = option.partition('=')
        cfg.merge_from_dict({key: DictAction._parse_iterable(value)})
    lr = cfg.optim_wrapper.optimizer.lr
    space = osp.join(work, 'space_one_point.py')
    with open(space, 'w') as f:
        f.write('from ray import tune\n'
                f"space = {{'optim_wrapper.optimizer.lr': tune.choice([{lr!r}])}}\n")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               PYTHONUNBUFFERED='1')
    load_before = os.getloadavg()

    amp = ['--amp'] if args.amp else []
    plain = []
    for i in range(args.trials):
        plain.append(_run(
            [sys.executable, 'tools/train.py', config, '--work-dir',
             osp.join(work, f'plain_{i}')] + amp + ['--cfg-options'] +
            options,
            env, osp.join(work, f'plain_{i}.log')))
    tune_dir = osp.join(work, 'tune')
    tune_wall = _run(
        [sys.executable, 'tools/tune.py', config, '--space', space,
         '--num-samples', str(args.trials), '--max-concurrent', '1',
         '--scheduler', 'fifo', '--num-cpus', str(args.threads),
         '--work-dir', tune_dir] + amp + ['--cfg-options'] + options,
        env, osp.join(work, 'tune.log'))
    with open(osp.join(tune_dir, 'search_summary.json')) as f:
        summary = json.load(f)
    if summary['num_trials'] != args.trials:
        raise RuntimeError(f'the search ran {summary["num_trials"]} trials, '
                           f'expected {args.trials}; see {tune_dir}')

    base = statistics.median(plain)
    per_trial = summary['fit_s'] / args.trials
    per_search = tune_wall / args.trials
    rows = [
        dict(row='plain tools/train.py process (median)', seconds=base,
             ratio=1.0),
        dict(row='Tune trial (fit time / trials)', seconds=per_trial,
             ratio=per_trial / base),
        dict(row='Tune search incl. Ray start, per trial',
             seconds=per_search, ratio=per_search / base),
    ]
    print(f'`{command_line("bench_tune_overhead.py", argv)}`\n')
    print(f'{machine_line()}; load average before '
          f'{", ".join(f"{v:.1f}" for v in load_before)}\n')
    print(f'{args.trials} x {args.iters} iterations of {args.config}, '
          f'{args.threads} thread(s); Ray start {summary["ray_init_s"]:.1f} s '
          f'(once per search); plain runs {", ".join(f"{t:.1f}" for t in plain)} s\n')
    print(markdown_table(['run', 'seconds per trial', 'ratio to plain'],
                         [[r['row'], r['seconds'], r['ratio']]
                          for r in rows]))
    print(f'\nTune overhead per trial: {100 * (per_trial / base - 1):+.1f}% '
          f'(goal <= +5%); with the Ray start spread over the trials: '
          f'{100 * (per_search / base - 1):+.1f}%')
    return dict(rows=rows, plain_s=plain, tune_wall_s=tune_wall,
                summary=summary, work_dir=work)


if __name__ == '__main__':
    main()
