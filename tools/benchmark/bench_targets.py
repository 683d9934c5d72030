"""Target generation: ours (``centernet_targets``, vectorised over the batch)
vs mmdet 3.3 ``CenterNetHead.get_targets`` (Python loop per box), side by
side in one process, interleaved, median times. Both outputs are checked to be
identical before timing, so the two sides always do the same work.

    flock /tmp/centerx_cpu.lock python tools/benchmark/bench_targets.py

Goal (issue 2): time ratio ours / mmdet <= 0.1.
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import (command_line, interleaved_median_ms,  # noqa: E402
                     machine_line, markdown_table, random_boxes,
                     torch_threads)

GOAL = 0.1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument(
        '--num-boxes', type=int, nargs='+', default=[5, 30, 100],
        help='boxes per image, one table row each')
    parser.add_argument(
        '--settings', nargs='+', default=['512x80', '128x4'],
        help='INPUTxCLASSES: square network input (maps are input/4) and '
        'number of classes; 512x80 is COCO CenterNet, 128x4 our shapes')
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--profile', type=int, default=0, metavar='N',
        help='also print the N torch ops where ours spends most time '
        '(torch.profiler, self CPU time, by input shape), per row')
    parser.add_argument(
        '--threads', type=int, default=None,
        help='torch threads for both sides (default: torch\'s default)')
    return parser.parse_args(argv)


def check_equal(ours, avg, ref, ref_avg, what):
    """Raise if ours differ from mmdet's in any element."""
    pairs = [('heatmap', 'center_heatmap_target'), ('wh', 'wh_target'),
             ('offset', 'offset_target'),
             ('wh_offset_weight', 'wh_offset_target_weight')]
    for k_ours, k_ref in pairs:
        if not torch.equal(ours[k_ours], ref[k_ref]):
            diff = (ours[k_ours] - ref[k_ref]).abs().max()
            raise AssertionError(f'{what}: {k_ours} differs from mmdet '
                                 f'{k_ref} (max abs diff {diff})')
    if avg != int(ref_avg):
        raise AssertionError(f'{what}: avg_factor {avg} != mmdet {ref_avg}')


def profile_top(fn, top, calls=3):
    """The ``top`` torch ops of ``fn`` by self CPU time (torch.profiler,
    grouped by input shape): list of (op, input shapes, ms per call, share
    of fn's profiled op time)."""
    from torch.profiler import profile
    with profile(record_shapes=True) as prof:
        for _ in range(calls):
            fn()
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events = sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]
    return [(e.key, str(e.input_shapes), e.self_cpu_time_total / calls / 1e3,
             e.self_cpu_time_total / total) for e in events]


def main(argv=None):
    """Run the benchmark, print a markdown table, return the results.

    Returns:
        dict: ``rows``: list of dicts (input, maps, classes, boxes, ours_ms,
        mmdet_ms, ratio, profile), ``command``, ``goal``.
    """
    args = parse_args(argv)
    with torch_threads(args.threads):
        return _run(args, argv)


def _run(args, argv):
    from mmdet.models.dense_heads import CenterNetHead

    from centerx_mm.models.utils import centernet_targets

    gen = torch.Generator().manual_seed(args.seed)
    rows = []
    for setting in args.settings:
        try:
            in_size, num_classes = (int(v) for v in setting.split('x'))
        except ValueError:
            raise ValueError(f'--settings: expected INPUTxCLASSES like '
                             f'512x80, got {setting!r}') from None
        feat = in_size // 4
        head = CenterNetHead(
            in_channels=8, feat_channels=8, num_classes=num_classes)
        for num in args.num_boxes:
            bboxes = [
                random_boxes(gen, num, in_size, in_size)
                for _ in range(args.batch)
            ]
            labels = [
                torch.randint(0, num_classes, (num, ), generator=gen)
                for _ in range(args.batch)
            ]
            feat_shape = (args.batch, num_classes, feat, feat)

            def run_mmdet():
                return head.get_targets(bboxes, labels, feat_shape,
                                        (in_size, in_size))

            def run_ours():
                return centernet_targets(bboxes, labels, num_classes,
                                         (feat, feat), (in_size, in_size))

            with torch.no_grad():
                ours, avg = run_ours()
                ref, ref_avg = run_mmdet()
                check_equal(ours, avg, ref, ref_avg,
                            f'input {in_size}, {num} boxes/img')
                ms = interleaved_median_ms(
                    dict(ours=run_ours, mmdet=run_mmdet), args.repeats,
                    args.warmup)
                top = profile_top(run_ours, args.profile) \
                    if args.profile else []
            rows.append(
                dict(
                    input=in_size,
                    maps=f'{feat}x{feat}',
                    classes=num_classes,
                    boxes=num,
                    ours_ms=ms['ours'],
                    mmdet_ms=ms['mmdet'],
                    ratio=ms['ours'] / ms['mmdet'],
                    profile=top))

    command = command_line('bench_targets.py', argv)
    print(f'`{command}`  ({machine_line()})\n')
    print(f'Target generation, batch {args.batch}, median of {args.repeats} '
          'interleaved runs; outputs checked identical.\n')
    print(
        markdown_table(
            ['input', 'maps', 'classes', 'boxes/img', 'ours ms', 'mmdet ms',
             'ours/mmdet', f'goal <= {GOAL}'],
            [[r['input'], r['maps'], r['classes'], r['boxes'], r['ours_ms'],
              r['mmdet_ms'], r['ratio'],
              'met' if r['ratio'] <= GOAL else 'NOT met'] for r in rows]))
    for r in rows:
        if r['profile']:
            print(f"\nWhere ours spends its time, input {r['input']}, "
                  f"{r['classes']} classes, {r['boxes']} boxes/img "
                  '(torch.profiler, self CPU):\n')
            print(
                markdown_table(['op', 'input shapes', 'ms/call', 'share'],
                               [[op, shapes, t, f'{share:.0%}']
                                for op, shapes, t, share in r['profile']]))
    return dict(rows=rows, command=command, goal=GOAL)


if __name__ == '__main__':
    main()
