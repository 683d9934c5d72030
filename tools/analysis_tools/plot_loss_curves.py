"""Plot training curves from mmengine's json scalars of one or more runs.

    python tools/analysis_tools/plot_loss_curves.py RUN [RUN ...] \
        [--labels A B ...] [--keys loss loss_heatmap ...] [--raw] \
        [--metric coco/bbox_mAP] [--logy] [--title T] --out docs/x.png

RUN is a work dir (every ``<timestamp>/vis_data/scalars.json`` under it is
read in time order, so a resumed run is one curve; a later row replaces an
earlier one of the same step), a ``<timestamp>`` dir, or a scalars.json.
``--raw`` plots the unweighted value where a run logs one (runs with
AdaptiveLossHook log the weighted ``loss_*``, the unweighted ``raw_loss_*``
and the unweighted total ``loss_raw``; ``raw_loss`` in logs of older
versions), so runs with and without the hook compare on the same scale.
One panel per key, plus one for ``--metric`` (validation rows). Runs that
share a label (seeds of one setting) share a colour and a legend entry.
Iterations where a run logged ``fault_active`` > 0 (FaultInjectionHook) are
shaded.

``--summary`` prints, instead of or besides the plot, a markdown table: per
run the ``--metric`` at every validation, the number of loss spikes (a
logged ``loss`` (the unweighted total with ``--raw``) above
``--spike-ratio`` times the median of the finite values among the previous
50 logged ones; the first 50 are never counted), the longest blow-up (the
longest run of consecutive logged losses, NaN/inf included, above
``--spike-ratio`` times the median of the 50 logged before it began), the
largest loss after the first 100 iterations, non-finite values, the stall
(the first iteration from which the loss stays below ``--stall-below`` for
10 logged values), and the mAP collapse: the first validation whose metric
is below ``--collapse-ratio`` times the best earlier one (when that best is
at least ``--collapse-min``). A run *collapsed* if it has an mAP collapse or
a blow-up of at least ``--collapse-len`` logged values. When labels repeat
(seeds), a second table aggregates each label: final and best metric as
mean +- std (sample std over runs), and how many runs collapsed or had a
non-finite loss.
"""
import argparse
import glob
import json
import math
import os.path as osp
import statistics
import sys
from typing import Optional


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


def raw_names(key: str) -> tuple:
    """Names of the unweighted ``key`` in an AdaptiveLossHook log, newest
    first: ``loss_raw`` (``raw_loss`` before issue 12) for the total,
    ``raw_<key>`` for a term."""
    return ('loss_raw', 'raw_loss') if key == 'loss' else (f'raw_{key}', )


def series(rows: dict, key: str, raw: bool) -> tuple:
    """Steps and values of ``key`` (its unweighted name first with
    ``raw``, see :func:`raw_names`)."""
    xs, ys = [], []
    candidates = (raw_names(key) if raw else ()) + (key, )
    for step in sorted(rows):
        row = rows[step]
        name = next((n for n in candidates if n in row), key)
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
                nonfinite=finite.count(False), stall=stall,
                blowup=longest_blowup(xs, ys, spike_ratio))


def longest_blowup(xs: list, ys: list, ratio: float) -> tuple:
    """``(first iteration, length)`` of the longest run of consecutive
    logged values (NaN/inf included) above ``ratio`` times the median of
    the finite values among the 50 logged before the run; ``(None, 0)``
    without one. The first 50 values never start a run."""
    best = (None, 0)
    i = 50
    while i < len(ys):
        window = [y for y in ys[i - 50:i] if math.isfinite(y)]
        if not window:
            i += 1
            continue
        level = ratio * statistics.median(window)
        j = i
        while j < len(ys) and not ys[j] <= level:  # NaN counts as above
            j += 1
        if j - i > best[1]:
            best = (xs[i], j - i)
        i = max(j, i + 1)
    return best


def metric_collapse(val: dict, metric: str, ratio: float,
                    min_best: float) -> Optional[tuple]:
    """``(iteration, best earlier value, value)`` of the first validation
    whose ``metric`` is below ``ratio`` times the best earlier one, when
    that best is >= ``min_best``; None without one."""
    best = None
    for step in sorted(val):
        value = val[step].get(metric)
        if value is None:
            continue
        if best is not None and best >= min_best and value < ratio * best:
            return step, best, value
        best = value if best is None else max(best, value)
    return None


def final_and_best(val: dict, metric: str) -> tuple:
    """Last and largest ``metric`` of a run's validations (None, None
    without any)."""
    values = [val[s][metric] for s in sorted(val) if metric in val[s]]
    return (values[-1], max(values)) if values else (None, None)


def mean_std(values: list) -> str:
    """``mean +- std`` x100 (sample std; one value: no std)."""
    if not values:
        return '-'
    mean = 100 * statistics.mean(values)
    if len(values) == 1:
        return f'{mean:.1f}'
    return f'{mean:.1f} +- {100 * statistics.stdev(values):.1f}'


def run_report(train: dict, val: dict, args) -> dict:
    """Everything ``--summary`` prints about one run."""
    s = loss_summary(train, args.raw, args.spike_ratio, args.stall_below)
    s['collapse'] = metric_collapse(val, args.metric, args.collapse_ratio,
                                    args.collapse_min)
    s['collapsed'] = (s['collapse'] is not None
                      or s['blowup'][1] >= args.collapse_len)
    s['final'], s['best'] = final_and_best(val, args.metric)
    return s


def print_summary(labels, data, args) -> None:
    """The markdown table(s) of ``--summary``."""
    steps = sorted({s for _, val in data for s in val})
    print(f'| run | {args.metric} x100 at ' +
          ' / '.join(str(s) for s in steps) +
          ' | spikes | longest blow-up | max loss after it. 100 | '
          'non-finite | stall | mAP collapse |')
    print('|---|---|---|---|---|---|---|---|')
    reports = []
    for label, (train, val) in zip(labels, data):
        s = run_report(train, val, args)
        reports.append(s)
        metric = ' / '.join(
            f'{100 * val[st][args.metric]:.1f}'
            if st in val and args.metric in val[st] else '-' for st in steps)
        spikes = f"{len(s['spikes'])}" + (
            f" (at {', '.join(map(str, s['spikes'][:5]))})"
            if s['spikes'] else '')
        start, length = s['blowup']
        blowup = f'{length} (from {start})' if length else '0'
        top = '-' if s['max_after_100'] is None else \
            f"{s['max_after_100']:.2f}"
        collapse = 'no' if s['collapse'] is None else (
            f"at {s['collapse'][0]}: {100 * s['collapse'][1]:.1f} -> "
            f"{100 * s['collapse'][2]:.1f}")
        print(f"| {label} | {metric} | {spikes} | {blowup} | {top} | "
              f"{s['nonfinite']} "
              f"| {s['stall'] if s['stall'] is not None else 'never'} | "
              f'{collapse} |')
    groups = {}
    for label, s in zip(labels, reports):
        groups.setdefault(label, []).append(s)
    if len(groups) == len(labels):
        return
    print()
    print(f'| setting | runs | final {args.metric} x100 | best x100 | '
          'collapsed | non-finite loss |')
    print('|---|---|---|---|---|---|')
    for label, runs in groups.items():
        finals = [r['final'] for r in runs if r['final'] is not None]
        bests = [r['best'] for r in runs if r['best'] is not None]
        print(f'| {label} | {len(runs)} | {mean_std(finals)} | '
              f'{mean_std(bests)} | '
              f"{sum(r['collapsed'] for r in runs)}/{len(runs)} | "
              f"{sum(r['nonfinite'] > 0 for r in runs)}/{len(runs)} |")


def fault_spans(trains: list) -> list:
    """``(first, last)`` iteration of each stretch of consecutive logged
    rows with ``fault_active`` > 0 (FaultInjectionHook), over all runs."""
    spans = set()
    for train in trains:
        start = last = None
        for step in sorted(train):
            if (train[step].get('fault_active') or 0) > 0:
                start = step if start is None else start
                last = step
            elif start is not None:
                spans.add((start, last))
                start = None
        if start is not None:
            spans.add((start, last))
    return sorted(spans)


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
    parser.add_argument('--collapse-ratio', type=float, default=0.5,
                        help='mAP collapse: a validation below this times '
                        'the best earlier one')
    parser.add_argument('--collapse-min', type=float, default=0.01,
                        help='... when the best earlier one is at least this')
    parser.add_argument('--collapse-len', type=int, default=10,
                        help='a blow-up this long (logged values) is a '
                        'collapse too')
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
    palette = plt.rcParams['axes.prop_cycle'].by_key()['color']
    colours = {}
    for label in labels:  # one colour per label: seeds of a setting
        colours.setdefault(label, palette[len(colours) % len(palette)])
    faults = fault_spans([train for train, _ in data])
    for ax, key in zip(axes[:, 0], panels):
        is_metric = key == args.metric and key not in args.keys
        plotted, legend = False, set()
        for label, (train, val) in zip(labels, data):
            xs, ys = series(val if is_metric else train, key, args.raw
                            and not is_metric)
            if not xs:
                continue
            plotted = True
            ax.plot(xs,
                    ys,
                    marker='o' if is_metric else None,
                    markersize=3,
                    linewidth=1.0,
                    color=colours[label],
                    label=None if label in legend else label)
            legend.add(label)
            bad = [x for x, y in zip(xs, ys) if not math.isfinite(y)]
            if bad:
                ax.plot(bad, [0] * len(bad), 'x', color='red')
        if not plotted:
            raise KeyError(f'no run has scalar {key!r} (runs: {args.runs})')
        for begin, end in faults:
            ax.axvspan(begin - 0.5, end + 0.5, color='red', alpha=0.12,
                       linewidth=0)
        name = f'{key} (raw where logged)' if args.raw and not is_metric \
            and key.startswith('loss') else key
        ax.set_ylabel(name, fontsize=8)
        if args.logy and not is_metric:
            ax.set_yscale('log')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if faults:
        axes[0, 0].set_title('shaded: injected fault (FaultInjectionHook)',
                             fontsize=8)
    axes[-1, 0].set_xlabel('iteration')
    if args.title:
        fig.suptitle(args.title, fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f'wrote {args.out}', file=sys.stderr)


if __name__ == '__main__':
    sys.exit(main())
