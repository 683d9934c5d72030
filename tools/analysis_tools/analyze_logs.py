"""Plot curves and training speed from mmengine json logs: mmdet's
``tools/analysis_tools/analyze_logs.py`` command line, for iteration-based
runs.

    python tools/analysis_tools/analyze_logs.py plot_curve LOG [LOG ...]
        [--keys loss coco/bbox_mAP] [--legend A B ...] [--title T]
        [--out fig.png]
    python tools/analysis_tools/analyze_logs.py cal_train_time LOG [LOG ...]
        [--include-outliers]

LOG is a work dir, a ``<timestamp>`` dir, or a ``vis_data/*.json`` file
(every run of a resumed work dir is read, in time order). A key matches a
logged name exactly or after its ``/`` (``bbox_mAP`` = ``coco/bbox_mAP``).

Why not mmdet's file: it groups rows by epoch (our shapes configs train by
iteration, so every mAP lands in "epoch 1" and ``plot_curve`` fails on it)
and needs seaborn. The rows are read by ``plot_loss_curves.load_run``.
"""
import argparse
import os.path as osp
import statistics
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from tools.analysis_tools.plot_loss_curves import load_run  # noqa: E402


def find_key(rows: dict, key: str) -> str:
    """The logged name that ``key`` means in ``rows`` (exact, else the one
    whose part after ``/`` equals it); None if no row has it."""
    names = {k for row in rows.values() for k in row}
    if key in names:
        return key
    matches = sorted(n for n in names if n.split('/')[-1] == key)
    return matches[0] if matches else None


def curve(train: dict, val: dict, key: str, log: str) -> tuple:
    """Iterations and values of ``key``: validation rows for metrics
    (keyed by the iteration they follow), train rows otherwise."""
    for rows in (train, val):
        name = find_key(rows, key)
        if name is not None:
            steps = [s for s in sorted(rows) if rows[s].get(name) is not None]
            return steps, [float(rows[s][name]) for s in steps]
    logged = sorted({k for r in list(train.values()) + list(val.values())
                     for k in r} - {'step', 'iter', 'epoch'})
    raise KeyError(f'{log} has no {key!r}; logged keys: {logged}')


def plot_curve(runs, args) -> None:
    import matplotlib
    if args.backend is not None:
        matplotlib.use(args.backend)
    elif args.out is not None:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    legend = args.legend or [
        f'{log}_{key}' for log in args.json_logs for key in args.keys
    ]
    if len(legend) != len(args.json_logs) * len(args.keys):
        raise ValueError(
            f'--legend has {len(legend)} labels for {len(args.json_logs)} '
            f'logs x {len(args.keys)} keys')
    fig, ax = plt.subplots()
    for i, (log, (train, val)) in enumerate(zip(args.json_logs, runs)):
        for j, key in enumerate(args.keys):
            xs, ys = curve(train, val, key, log)
            print(f'plot curve of {log}, metric is {key} ({len(xs)} points)')
            is_val = find_key(train, key) is None
            ax.plot(xs, ys, label=legend[i * len(args.keys) + j],
                    marker='o' if is_val else None,
                    linewidth=1.0 if is_val else 0.5)
    ax.set_xlabel('iter')
    ax.legend()
    if args.title is not None:
        ax.set_title(args.title)
    if args.out is None:
        plt.show()
    else:
        fig.savefig(args.out)
        print(f'save curve to: {args.out}')
    plt.close(fig)


def cal_train_time(runs, args) -> list:
    """Seconds per iteration of each log: per stretch between validations
    (the "epochs" of an iteration-based run) and overall. The first logged
    iteration (start-up) and of each stretch is left out unless
    ``--include-outliers``."""
    results = []
    for log, (train, val) in zip(args.json_logs, runs):
        print(f'{"-" * 5}Analyze train time of {log}{"-" * 5}')
        bounds = sorted(val)
        stretches, current, b = [], [], 0
        for step in sorted(train):
            while b < len(bounds) and step > bounds[b]:
                stretches.append(current)
                current, b = [], b + 1
            if train[step].get('time') is not None:
                current.append(float(train[step]['time']))
        stretches.append(current)
        if not args.include_outliers:
            stretches = [s[1:] for s in stretches]
        stretches = [s for s in stretches if s]
        if not stretches:
            raise KeyError(f'{log} has no train row with "time" (beyond the '
                           'first of each stretch): lower the logger '
                           'interval')
        means = [statistics.fmean(s) for s in stretches]
        slow = max(range(len(means)), key=means.__getitem__)
        fast = min(range(len(means)), key=means.__getitem__)
        print(f'slowest stretch {slow + 1}, average time is '
              f'{means[slow]:.4f} s/iter')
        print(f'fastest stretch {fast + 1}, average time is '
              f'{means[fast]:.4f} s/iter')
        print(f'time std over stretches is {statistics.pstdev(means):.4f}')
        overall = statistics.fmean([t for s in stretches for t in s])
        print(f'average iter time: {overall:.4f} s/iter\n')
        results.append(dict(stretches=means, average=overall))
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyze json logs')
    sub = parser.add_subparsers(dest='task', required=True)
    plt_parser = sub.add_parser('plot_curve', help='plot curves')
    plt_parser.add_argument('json_logs', nargs='+',
                            help='work dirs or vis_data json files')
    plt_parser.add_argument('--keys', nargs='+', default=['bbox_mAP'],
                            help='logged values to plot')
    plt_parser.add_argument('--title')
    plt_parser.add_argument('--legend', nargs='+',
                            help='one label per log and key')
    plt_parser.add_argument('--backend', help='matplotlib backend')
    plt_parser.add_argument('--out', help='save the figure here')
    time_parser = sub.add_parser(
        'cal_train_time', help='average time per training iteration')
    time_parser.add_argument('json_logs', nargs='+',
                             help='work dirs or vis_data json files')
    time_parser.add_argument(
        '--include-outliers', action='store_true',
        help='count the first logged iteration of each stretch too')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    runs = [load_run(log) for log in args.json_logs]
    return (plot_curve if args.task == 'plot_curve' else cal_train_time)(
        runs, args)


if __name__ == '__main__':
    main()
