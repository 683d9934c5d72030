"""Plot training curves from mmengine's json scalars of one or more runs.

    python tools/analysis_tools/plot_loss_curves.py RUN [RUN ...] \
        [--labels A B ...] [--keys loss loss_heatmap ...] [--raw] \
        [--metric coco/bbox_mAP] [--logy] [--title T] --out docs/x.png

RUN is a work dir (every ``<timestamp>/vis_data/scalars.json`` under it is
read in time order, so a resumed run is one curve; a later row replaces an
earlier one of the same step), a ``<timestamp>`` dir, or a scalars.json.
``--raw`` plots ``raw_<key>`` where a run has it (runs with
AdaptiveLossHook log the weighted ``loss_*`` and the unweighted
``raw_loss*``), so runs with and without the hook compare on the same scale.
One panel per key, plus one for ``--metric`` (validation rows).

``--summary`` prints, instead of or besides the plot, a markdown table: per
run the ``--metric`` at every validation, the number of loss spikes (a
logged ``loss`` (``raw_loss`` with ``--raw``) above ``--spike-ratio`` times
the median of the finite values among the previous 50 logged ones; the
first 50 are never counted), the largest loss after the
first 100 iterations, non-finite values, and the stall: the first iteration
from which the loss stays below ``--stall-below`` for 10 logged values.
"""
import argparse
import glob
import json
import math
import os.path as osp
import statistics
import sys


def find_scalar_files(run: str) -> list:
    """The scalars.json files of ``run``, oldest first."""
    if osp.isfile(run):
        return [run]
    if not osp.isdir(run):
        raise FileNotFoundError(f'run not found: {run}')
    direct = osp.join(run, 'vis_data', 'scalars.json')
    if osp.isfile(direct):
        return [direct]
    files = sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'no <timestamp>/vis_data/scalars.json under {run} (was the run '
            'logged with LocalVisBackend?)')
    return files


def load_run(run: str) -> tuple:
    """Return ``(train_rows, val_rows)``: dicts iteration -> row.

    A validation row is keyed by the train row logged just before it: with
    an ``IterBasedTrainLoop`` mmengine's LoggerHook writes validation rows
    with ``step`` = epoch (always 0), not the iteration. (So the logger
    interval must divide ``val_interval``, as in every config here.)
    """
    train, val = {}, {}
    last_train_step = 0
    for path in find_scalar_files(run):
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f'{path}:{lineno}: not a json line ({err})') from None
                step = row.get('step', row.get('iter'))
                if step is None:
                    continue
                is_train = 'lr' in row or any(
                    k.startswith('loss') for k in row)
                if is_train:
                    last_train_step = int(step)
                    train[last_train_step] = row
                else:
                    val[last_train_step] = row
    return train, val


def series(rows: dict, key: str, raw: bool) -> tuple:
    """Steps and values of ``key`` (``raw_<key>`` first with ``raw``)."""
    xs, ys = [], []
    for step in sorted(rows):
        row = rows[step]
        name = f'raw_{key}' if raw and f'raw_{key}' in row else key
        if name in row and row[name] is not None:
            xs.append(step)
            ys.append(float(row[name]))
    return xs, ys


def loss_summary(train: dict, raw: bool, spike_ratio: float,
                 stall_below: float) -> dict:
    """Spikes, max after iteration 100, non-finite count and stall of the
    total loss of one run (see module doc)."""
    xs, ys = series(train, 'loss', raw)
    finite = [math.isfinite(y) for y in ys]
    spikes = []
    for i in range(50, len(ys)):  # the first 50 logged values are never
        window = [y for y, f in zip(ys[i - 50:i], finite[i - 50:i]) if f]
        if finite[i] and window and \
                ys[i] > spike_ratio * statistics.median(window):
            spikes.append(xs[i])
    late = [y for x, y, f in zip(xs, ys, finite) if x > 100 and f]
    stall = next((xs[i] for i in range(len(ys) - 9)
                  if all(y < stall_below for y in ys[i:i + 10])), None)
    return dict(spikes=spikes, max_after_100=max(late) if late else None,
                nonfinite=finite.count(False), stall=stall)


def print_summary(labels, data, args) -> None:
    """The markdown table of ``--summary``."""
    steps = sorted({s for _, val in data for s in val})
    print(f'| run | {args.metric} x100 at ' +
          ' / '.join(str(s) for s in steps) +
          ' | spikes | max loss after it. 100 | non-finite | stall |')
    print('|---|---|---|---|---|---|')
    for label, (train, val) in zip(labels, data):
        s = loss_summary(train, args.raw, args.spike_ratio, args.stall_below)
        metric = ' / '.join(
            f'{100 * val[st][args.metric]:.1f}'
            if st in val and args.metric in val[st] else '-' for st in steps)
        spikes = f"{len(s['spikes'])}" + (
            f" (at {', '.join(map(str, s['spikes'][:5]))})"
            if s['spikes'] else '')
        top = '-' if s['max_after_100'] is None else \
            f"{s['max_after_100']:.2f}"
        print(f"| {label} | {metric} | {spikes} | {top} | {s['nonfinite']} "
              f"| {s['stall'] if s['stall'] is not None else 'never'} |")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='work dirs or scalars.json')
    parser.add_argument('--labels', nargs='+', help='legend label per run')
    parser.add_argument('--keys',
                        nargs='+',
                        default=['loss'],
                        help='train scalars to plot')
    parser.add_argument(
        '--raw',
        action='store_true',
        help='plot raw_<key> where present (AdaptiveLossHook runs)')
    parser.add_argument('--metric',
                        help='validation scalar, e.g. '
                        'coco/bbox_mAP')
    parser.add_argument('--logy', action='store_true', help='log y axis')
    parser.add_argument('--title', default='')
    parser.add_argument('--out', help='output image (png)')
    parser.add_argument('--summary', action='store_true',
                        help='print the markdown summary table')
    parser.add_argument('--spike-ratio', type=float, default=1.5)
    parser.add_argument('--stall-below', type=float, default=2.9)
    args = parser.parse_args(argv)
    if not args.out and not args.summary:
        parser.error('give --out (a plot), --summary, or both')
    if args.summary and not args.metric:
        parser.error('--summary needs --metric')
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'--labels has {len(args.labels)} entries for '
                     f'{len(args.runs)} runs')
    return args


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels = args.labels or [osp.basename(osp.normpath(r)) for r in args.runs]
    data = [load_run(r) for r in args.runs]
    if args.summary:
        print_summary(labels, data, args)
    if not args.out:
        return
    panels = list(args.keys) + ([args.metric] if args.metric else [])
    fig, axes = plt.subplots(len(panels),
                             1,
                             figsize=(9, 2.6 * len(panels)),
                             sharex=True,
                             squeeze=False)
    for ax, key in zip(axes[:, 0], panels):
        is_metric = key == args.metric and key not in args.keys
        plotted = False
        for label, (train, val) in zip(labels, data):
            xs, ys = series(val if is_metric else train, key, args.raw
                            and not is_metric)
            if not xs:
                continue
            plotted = True
            ax.plot(xs,
                    ys,
                    marker='o' if is_metric else None,
                    linewidth=1.0,
                    label=label)
            bad = [x for x, y in zip(xs, ys) if not math.isfinite(y)]
            if bad:
                ax.plot(bad, [0] * len(bad), 'x', color='red')
        if not plotted:
            raise KeyError(f'no run has scalar {key!r} (runs: {args.runs})')
        name = f'{key} (raw where logged)' if args.raw and not is_metric \
            else key
        ax.set_ylabel(name, fontsize=8)
        if args.logy and not is_metric:
            ax.set_yscale('log')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel('iteration')
    if args.title:
        fig.suptitle(args.title, fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    sys.exit(main())
