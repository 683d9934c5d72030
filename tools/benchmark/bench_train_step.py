"""Full training step with the batch already in memory (data preprocessor +
forward + loss + backward + optimizer step, i.e. ``model.train_step``): our
``CenterX`` (configs/_base_/models/centerx_r18.py) vs mmdet 3.3 ``CenterNet``
built from mmdet's own config ``centernet_r18_8xb16-crop512-140e_coco.py``
(ResNet-18, CTResNetNeck without DCN, CenterNetHead), side by side in one
process, interleaved, median times.

Both models get the same weights (mmdet's initialised state dict loaded into
ours: the parameter names are identical), the same optimizer, the same input
batch and the same random gt boxes; the first-step losses are checked to agree,
so both sides do the same work.

    flock /tmp/centerx_cpu.lock python tools/benchmark/bench_train_step.py

Goal (issue 2): time ratio ours / mmdet <= 1.0.

A second table (issue 10, fast training) times our training-speed options
against the same mmdet fp32 step, interleaved in one run: ours in fp32
without and with ``channels_last`` (``CenterXDataPreprocessor``), ours with
``--amp`` (``AmpOptimWrapper``: bf16 autocast on a CPU with bf16
instructions) + ``channels_last``, and the TTF head (``CenterXTTFHead``)
with ``--amp``. mmdet cannot use ``--amp`` on a CPU, so its fp32 step is the
reference. Goal: ours ``--amp`` / mmdet fp32 <= 0.5 at R18, 256 px, batch 16:

    python tools/benchmark/bench_train_step.py --settings 256x4x16
"""
import argparse
import copy
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import (REPO, command_line,  # noqa: E402
                     interleaved_median_ms, load_mmdet_config, machine_line,
                     markdown_table, random_boxes, torch_threads)

GOAL = 1.0
FAST_GOAL = 0.5  # issue 10: ours --amp / mmdet fp32
OUR_CONFIG = 'configs/_base_/models/centerx_r18.py'
TTF_CONFIG = 'configs/_base_/models/centerx_r18w32_ttf.py'  # its head
# Our schedule's optimizer (configs/_base_/schedules/schedule_shapes_3k.py),
# used for both models.
OPTIM_WRAPPER = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--settings', nargs='+', default=['128x4x16', '512x80x8'],
        help='INPUTxCLASSESxBATCH: square input, classes, batch size; '
        '128x4x16 is our shapes config, 512x80x8 the COCO size')
    parser.add_argument('--num-boxes', type=int, default=8,
                        help='random gt boxes per image')
    parser.add_argument('--depth', type=int, default=18,
                        help='ResNet depth for both models')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--head-repeats', type=int, default=20,
                        help='repeats of the head-only timing')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--no-fast', action='store_true',
        help='skip the fast-training table (fp32/channels_last/--amp/TTF)')
    parser.add_argument(
        '--threads', type=int, default=None,
        help='torch threads for both sides (default: torch\'s default)')
    return parser.parse_args(argv)


def build_models(num_classes: int, depth: int):
    """(ours, mmdet's) detectors with identical weights."""
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from centerx_mm.registry import MODELS
    from centerx_mm.utils import register_all_modules
    register_all_modules()

    theirs_cfg = load_mmdet_config().model
    theirs_cfg.backbone.init_cfg = None  # no download; weights copied below
    theirs_cfg.backbone.depth = depth
    theirs_cfg.bbox_head.num_classes = num_classes
    neck_in = 512 if depth < 50 else 2048  # ResNet last-stage channels
    theirs_cfg.neck.in_channels = neck_in
    if theirs_cfg.neck.use_dcn:
        raise ValueError('mmdet CenterNet config: expected use_dcn=False')
    with DefaultScope.overwrite_default_scope('mmdet'):
        theirs = MMDET_MODELS.build(theirs_cfg)
    theirs.init_weights()

    ours_cfg = Config.fromfile(osp.join(REPO, OUR_CONFIG)).model
    ours_cfg.backbone.depth = depth
    ours_cfg.neck.in_channels = neck_in
    ours_cfg.bbox_head.num_classes = num_classes
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        ours = MODELS.build(ours_cfg)
    ours.load_state_dict(theirs.state_dict())  # strict: same names
    return ours, theirs


def fast_variants(ours, num_classes: int):
    """Our training-speed options (issue 10), each ``(model, optim_wrapper
    cfg)``: models share ``ours``' weights (the TTF head its backbone and
    neck)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from centerx_mm.registry import MODELS
    amp = dict(copy.deepcopy(OPTIM_WRAPPER), type='AmpOptimWrapper')

    def variant(channels_last: bool, ttf: bool = False):
        model = copy.deepcopy(ours)
        if ttf:
            cfg = Config.fromfile(osp.join(REPO, OUR_CONFIG)).model
            head = Config.fromfile(osp.join(REPO, TTF_CONFIG)).model.bbox_head
            cfg.bbox_head = dict(head, num_classes=num_classes,
                                 in_channels=cfg.bbox_head.in_channels,
                                 feat_channels=cfg.bbox_head.feat_channels)
            cfg.backbone.depth = ours.backbone.depth
            cfg.neck.in_channels = 512 if ours.backbone.depth < 50 else 2048
            with DefaultScope.overwrite_default_scope('centerx_mm'):
                model = MODELS.build(cfg)
            model.init_weights()
            model.backbone.load_state_dict(ours.backbone.state_dict())
            model.neck.load_state_dict(ours.neck.state_dict())
        model.data_preprocessor.channels_last = channels_last
        return model.train()

    return {
        'ours fp32, NCHW': (variant(False), OPTIM_WRAPPER),
        'ours fp32, channels_last': (variant(True), OPTIM_WRAPPER),
        'ours --amp, channels_last': (variant(True), amp),
        'ours TTF head --amp, channels_last': (variant(True, ttf=True), amp),
    }


def make_batch(gen, batch, size, num_classes, num_boxes):
    """``model.train_step`` input: uint8 images and DetDataSamples."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    inputs = [
        torch.randint(0, 256, (3, size, size), generator=gen,
                      dtype=torch.uint8) for _ in range(batch)
    ]
    samples = []
    for _ in range(batch):
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size), ori_shape=(size, size),
                scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=random_boxes(gen, num_boxes, size, size),
            labels=torch.randint(0, num_classes, (num_boxes, ),
                                 generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def head_step(model, feats, data_samples):
    """Head forward, targets, losses and backward (no optimizer step)."""
    losses = model.bbox_head.loss(feats, data_samples)
    loss, _ = model.parse_losses(losses)
    loss.backward()


def main(argv=None):
    """Run the benchmark, print a markdown table, return the results.

    Returns:
        dict: ``rows``: list of dicts (input, classes, batch, ours_ms,
        mmdet_ms, ratio, head_ours_ms, head_mmdet_ms, head_ratio,
        first_loss_ours, first_loss_mmdet), ``command``, ``goal``.
    """
    args = parse_args(argv)
    with torch_threads(args.threads):
        return _run(args, argv)


def _run(args, argv):
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper

    # Quiet: no per-parameter init_weights log lines.
    MMLogger.get_instance('bench_train_step', log_level='WARNING')

    gen = torch.Generator().manual_seed(args.seed)
    rows = []
    for setting in args.settings:
        try:
            size, num_classes, batch = (int(v) for v in setting.split('x'))
        except ValueError:
            raise ValueError(f'--settings: expected INPUTxCLASSESxBATCH like '
                             f'128x4x16, got {setting!r}') from None
        torch.manual_seed(args.seed)
        ours, theirs = build_models(num_classes, args.depth)
        ours.train()
        theirs.train()
        data = make_batch(gen, batch, size, num_classes, args.num_boxes)
        data_ours, data_theirs = data, copy.deepcopy(data)
        optim_ours = build_optim_wrapper(ours, copy.deepcopy(OPTIM_WRAPPER))
        optim_theirs = build_optim_wrapper(theirs,
                                           copy.deepcopy(OPTIM_WRAPPER))

        # Same weights, same batch: the first-step losses must agree.
        loss_ours = ours.train_step(data_ours, optim_ours)
        loss_theirs = theirs.train_step(data_theirs, optim_theirs)
        first = (float(loss_ours['loss'].detach()),
                 float(loss_theirs['loss'].detach()))
        if not abs(first[0] - first[1]) <= 1e-3 * abs(first[1]) + 1e-5:
            raise AssertionError(
                f'{setting}: first-step loss differs, ours {first[0]} vs '
                f'mmdet {first[1]}: the two models do not do the same work')

        ms = interleaved_median_ms(
            dict(
                ours=lambda: ours.train_step(data_ours, optim_ours),
                mmdet=lambda: theirs.train_step(data_theirs, optim_theirs)),
            args.repeats, args.warmup)

        # The only code the two models do not share: head forward + targets
        # + losses + their backward, from fixed neck features.
        pre = ours.data_preprocessor(copy.deepcopy(data), True)
        with torch.no_grad():
            feats = ours.extract_feat(pre['inputs'])
        feats = tuple(f.requires_grad_() for f in feats)
        head_ms = interleaved_median_ms(
            dict(
                ours=lambda: head_step(ours, feats, pre['data_samples']),
                mmdet=lambda: head_step(theirs, feats, pre['data_samples'])),
            args.head_repeats, args.warmup)
        fast = []
        if not args.no_fast:
            fast = fast_rows(args, ours, theirs, optim_theirs, data,
                             num_classes)
        rows.append(
            dict(
                fast=fast,
                input=size,
                classes=num_classes,
                batch=batch,
                ours_ms=ms['ours'],
                mmdet_ms=ms['mmdet'],
                ratio=ms['ours'] / ms['mmdet'],
                head_ours_ms=head_ms['ours'],
                head_mmdet_ms=head_ms['mmdet'],
                head_ratio=head_ms['ours'] / head_ms['mmdet'],
                first_loss_ours=first[0],
                first_loss_mmdet=first[1]))

    command = command_line('bench_train_step.py', argv)
    print(f'`{command}`  ({machine_line()})\n')
    print(f'Training step (train_step: preprocess + forward + loss + backward '
          f'+ AdamW step), ResNet-{args.depth} + CTResNetNeck(no DCN), '
          f'{args.num_boxes} boxes/img, median of {args.repeats} interleaved '
          'steps; same weights, first-step losses checked equal. "head": '
          'the part the models do not share (head forward + targets + losses '
          f'+ backward from fixed neck features), median of '
          f'{args.head_repeats}.\n')
    print(
        markdown_table(
            ['input', 'classes', 'batch', 'ours ms', 'mmdet ms', 'ours/mmdet',
             f'goal <= {GOAL}', 'head ours ms', 'head mmdet ms',
             'head ours/mmdet', 'first loss ours / mmdet'],
            [[r['input'], r['classes'], r['batch'], r['ours_ms'],
              r['mmdet_ms'], r['ratio'],
              'met' if r['ratio'] <= GOAL else 'NOT met', r['head_ours_ms'],
              r['head_mmdet_ms'], r['head_ratio'],
              f"{r['first_loss_ours']:.4f} / {r['first_loss_mmdet']:.4f}"]
             for r in rows]))
    fast = [dict(r, input=row['input'], classes=row['classes'],
                 batch=row['batch']) for row in rows for r in row['fast']]
    if fast:
        print(f'\nFast-training options (issue 10): the same train_step '
              f'timed against mmdet\'s fp32 step, all interleaved in one '
              f'run, median of {args.repeats}. bf16 = AmpOptimWrapper '
              'autocast on this CPU (fp32 where it has no bf16 '
              'instructions).\n')
        print(
            markdown_table(
                ['input', 'classes', 'batch', 'variant', 'autocast', 'ms',
                 'mmdet fp32 ms', 'ratio', f'goal <= {FAST_GOAL} (--amp)'],
                [[r['input'], r['classes'], r['batch'], r['variant'],
                  r['autocast'], r['ms'], r['mmdet_ms'], r['ratio'],
                  ('met' if r['ratio'] <= FAST_GOAL else 'NOT met')
                  if r['variant'] == 'ours --amp, channels_last' else '']
                 for r in fast]))
    return dict(rows=rows, fast=fast, command=command, goal=GOAL,
                fast_goal=FAST_GOAL)


def fast_rows(args, ours, theirs, optim_theirs, data, num_classes):
    """Time :func:`fast_variants` and mmdet's fp32 step, interleaved."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    fns, autocast = {}, {}
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        for name, (model, wrapper_cfg) in fast_variants(
                ours, num_classes).items():
            wrapper = build_optim_wrapper(model, copy.deepcopy(wrapper_cfg))
            batch = copy.deepcopy(data)
            fns[name] = (lambda m=model, w=wrapper, b=batch: m.train_step(
                b, w))
            dtype = getattr(wrapper, 'cast_dtype', None)
            autocast[name] = str(dtype).replace('torch.', '') \
                if dtype is not None else '-'
    batch_theirs = copy.deepcopy(data)
    fns['mmdet fp32'] = lambda: theirs.train_step(batch_theirs, optim_theirs)
    ms = interleaved_median_ms(fns, args.repeats, args.warmup)
    return [
        dict(variant=name, autocast=autocast[name], ms=ms[name],
             mmdet_ms=ms['mmdet fp32'], ratio=ms[name] / ms['mmdet fp32'])
        for name in autocast
    ]


if __name__ == '__main__':
    main()
