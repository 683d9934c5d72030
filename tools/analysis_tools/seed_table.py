"""Mean +- std over seeds of the final validation metrics of training runs:
one markdown row per setting (the tables of docs/experiments*.md).

    python tools/analysis_tools/seed_table.py \
        baseline=work_dirs/a_s0,work_dirs/a_s1,work_dirs/a_s2 \
        kd=work_dirs/b_s{0,1} \
        [--group ring+star=ring,star --group cross+triangle=cross,triangle]

Each run is a work dir: its last validation row (every
``<timestamp>/vis_data/scalars.json`` under it, in time order; for a
``tools/test.py`` work dir its ``<timestamp>/<timestamp>.json``) gives
``coco/bbox_mAP``, mAP50, mAP75 and, for ``--group NAME=C1,C2``, the mean of
the per-class APs ``coco/<class>_precision`` (COCO mAP over those classes;
needs ``val_evaluator.classwise=True``). A label given several times
collects the runs of every mention, so shell brace lists work
(``kd=b_s{0,1}`` is ``kd=b_s0 kd=b_s1``). Values are x100; std is the
sample std (n - 1), 0 for one run.
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import sys


def final_metrics(run: str) -> dict:
    """The last row with ``coco/bbox_mAP`` in the run's training scalars
    (``<timestamp>/vis_data/scalars.json``) or, for a ``tools/test.py``
    work dir, in its ``<timestamp>/<timestamp>.json``."""
    files = sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))
    if not files:
        files = sorted(
            p for p in glob.glob(osp.join(run, '*', '*.json'))
            if osp.basename(p) == osp.basename(osp.dirname(p)) + '.json')
    if not files:
        raise FileNotFoundError(
            f'no <timestamp>/vis_data/scalars.json (training) or '
            f'<timestamp>/<timestamp>.json (tools/test.py) under {run}')
    last = None
    for path in files:
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'coco/bbox_mAP' in row:
                    last = row
    if last is None:
        raise ValueError(f'{run}: no validation row (coco/bbox_mAP) in '
                         f'{", ".join(files)}')
    return last


def group_ap(row: dict, classes: list, run: str) -> float:
    keys = [f'coco/{c}_precision' for c in classes]
    missing = [k for k in keys if k not in row]
    if missing:
        raise KeyError(f'{run}: {", ".join(missing)} not logged (train or '
                       'test with val_evaluator.classwise=True)')
    return sum(row[k] for k in keys) / len(keys)


def mean_std(values: list) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.2f} ± {std:.2f}'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('settings', nargs='+', metavar='LABEL=RUN[,RUN...]')
    parser.add_argument('--group', action='append', default=[],
                        metavar='NAME=CLASS[,CLASS...]',
                        help='a class group whose mean AP gets a column')
    args = parser.parse_args(argv)
    for text in args.settings + args.group:
        if '=' not in text or not text.split('=', 1)[1]:
            parser.error(f'expected NAME=VALUE[,VALUE...], got {text!r}')
    return args


def main(argv=None) -> list:
    """Print the table; return one dict per setting (values x100)."""
    args = parse_args(argv)
    groups = [(g.split('=', 1)[0], g.split('=', 1)[1].split(','))
              for g in args.group]
    head = ['setting', 'mAP per run', 'mAP mean ± std', 'mAP50', 'mAP75'] + \
        [f'{name} mean ± std' for name, _ in groups]
    print('| ' + ' | '.join(head) + ' |')
    print('|' + '---|' * len(head))
    settings = {}  # label -> runs, in order; a repeated label adds runs
    for text in args.settings:
        label, runs = text.split('=', 1)
        settings.setdefault(label, []).extend(runs.split(','))
    out = []
    for label, runs in settings.items():
        rows = [(run, final_metrics(run)) for run in runs]
        maps = [100 * r['coco/bbox_mAP'] for _, r in rows]
        result = dict(label=label, runs=maps,
                      mAP_50=[100 * r['coco/bbox_mAP_50'] for _, r in rows],
                      mAP_75=[100 * r['coco/bbox_mAP_75'] for _, r in rows])
        cells = [label, ' / '.join(f'{m:.1f}' for m in maps),
                 mean_std(maps), f"{statistics.mean(result['mAP_50']):.1f}",
                 f"{statistics.mean(result['mAP_75']):.1f}"]
        for name, classes in groups:
            values = [100 * group_ap(r, classes, run) for run, r in rows]
            result[name] = values
            cells.append(f"{mean_std(values)} "
                         f"({' / '.join(f'{v:.1f}' for v in values)})")
        print('| ' + ' | '.join(cells) + ' |')
        out.append(result)
    return out


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, KeyError, ValueError) as e:
        sys.exit(f'seed_table.py: error: {e.args[0]}')
