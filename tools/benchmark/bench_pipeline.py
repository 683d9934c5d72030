"""Data pipeline throughput in ONE process (= per dataloader worker): decode +
augment + packing, no targets. Our train pipeline
(configs/_base_/datasets/shapes.py) vs mmdet 3.3's CenterNet train pipeline
(``centernet_r18_8xb16-crop512-140e_coco.py``: LoadImageFromFile,
LoadAnnotations, PhotoMetricDistortion, RandomCenterCropPad, Resize,
RandomFlip, PackDetInputs) on the same images, side by side, interleaved
blocks, median times.

Each row compares the two pipelines at one output size: ``shipped`` is each
config as it is (ours 128x128, mmdet 512x512: different work); the
``same size S`` rows set both to an SxS output (ours: RandomResize scale
and RandomCrop size; mmdet: RandomCenterCropPad crop_size and Resize scale).

    flock /tmp/centerx_cpu.lock python tools/benchmark/bench_pipeline.py

Reported ratio: images/s ours / mmdet (> 1: ours is faster).
"""
import argparse
import contextlib
import copy
import io
import os.path as osp
import random
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import (REPO, command_line,  # noqa: E402
                     interleaved_median_ms, load_mmdet_config, machine_line,
                     markdown_table)

OUR_CONFIG = 'configs/_base_/datasets/shapes.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--data-root', default=osp.join(REPO, 'data', 'shapes'),
        help='COCO-format shapes dataset (annotations/instances_train.json, '
        'train/)')
    parser.add_argument(
        '--sizes', type=int, nargs='*', default=[512, 128],
        help='output sizes S for the "same size S" rows')
    parser.add_argument(
        '--no-photometric-sizes', type=int, nargs='*', default=[512],
        help='extra "same size S" rows with mmdet\'s PhotoMetricDistortion '
        'removed (ours has no photometric augmentation)')
    parser.add_argument('--no-shipped', action='store_true',
                        help='skip the row with both configs as shipped')
    parser.add_argument('--images', type=int, default=40,
                        help='images per timed block')
    parser.add_argument('--repeats', type=int, default=7,
                        help='timed blocks per pipeline')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def pipelines(size=None, photometric=True):
    """(ours, mmdet's) train pipeline configs; ``size``: both set to an
    ``size`` x ``size`` output, None: as in the config files;
    ``photometric=False`` drops mmdet's PhotoMetricDistortion (and loads
    float32 images, as RandomCenterCropPad needs)."""
    from mmengine.config import Config

    ours = copy.deepcopy(
        Config.fromfile(osp.join(REPO, OUR_CONFIG)).train_pipeline)
    theirs = copy.deepcopy(load_mmdet_config().train_pipeline)
    if not photometric:
        theirs = [t for t in theirs if t['type'] != 'PhotoMetricDistortion']
        # PhotoMetricDistortion made the image float32, which
        # RandomCenterCropPad requires; now the loader does it.
        theirs[0]['to_float32'] = True
    if size is not None:
        for t in ours:
            if t['type'] == 'RandomResize':
                t['scale'] = (size, size)
            elif t['type'] == 'RandomCrop':
                t['crop_size'] = (size, size)
        for t in theirs:
            if t['type'] == 'RandomCenterCropPad':
                t['crop_size'] = (size, size)
            elif t['type'] == 'Resize':
                t['scale'] = (size, size)
    return ours, theirs


def mean_size(shapes) -> str:
    """Mean output ``HxW`` over packed samples' ``inputs`` shapes."""
    h = sum(s[-2] for s in shapes) / len(shapes)
    w = sum(s[-1] for s in shapes) / len(shapes)
    return f'{h:.0f}x{w:.0f}'


def main(argv=None):
    """Run the benchmark, print a markdown table, return the results.

    Returns:
        dict: ``rows``: list of dicts (row, ours_out, mmdet_out, ours_ips,
        mmdet_ips, ratio), ``command``.
    """
    args = parse_args(argv)
    from mmengine.registry import DefaultScope

    from centerx_mm.datasets import CenterXCocoDataset
    from centerx_mm.utils import register_all_modules
    register_all_modules()

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    ann_file = osp.join(args.data_root, 'annotations', 'instances_train.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'{ann_file} not found; generate the dataset with python '
            'tools/dataset_converters/make_shapes_dataset.py --out-dir '
            'data/shapes')

    def dataset(pipeline, scope):
        # Same dataset class and data_info for both; only the pipeline
        # differs (its transforms are built in ``scope``).
        with DefaultScope.overwrite_default_scope(scope), \
                contextlib.redirect_stdout(io.StringIO()):  # pycocotools
            return CenterXCocoDataset(
                data_root=args.data_root,
                ann_file='annotations/instances_train.json',
                data_prefix=dict(img='train/'),
                metainfo=dict(
                    classes=('ring', 'star', 'cross', 'triangle')),
                filter_cfg=dict(filter_empty_gt=False),
                pipeline=pipeline)

    settings = ([] if args.no_shipped else [('shipped configs', None, True)])
    settings += [(f'same size {s}', s, True) for s in args.sizes]
    settings += [(f'same size {s}, mmdet w/o PhotoMetricDistortion', s,
                  False) for s in args.no_photometric_sizes]
    rows = []
    for name, size, photometric in settings:
        ours_cfg, theirs_cfg = pipelines(size, photometric)
        ds_ours = dataset(ours_cfg, 'centerx_mm')
        ds_theirs = dataset(theirs_cfg, 'mmdet')
        n = min(args.images, len(ds_ours))
        outs = {}

        def block(ds, key):
            shapes = []
            for i in range(n):
                results = ds.prepare_data(i)
                if results is None:
                    raise RuntimeError(f'{key} pipeline dropped sample {i}')
                shapes.append(results['inputs'].shape)
            outs[key] = mean_size(shapes)

        # As in a dataloader worker: one torch thread, OpenCV single-threaded
        # (mmengine's default env_cfg opencv_num_threads=0).
        threads = torch.get_num_threads(), cv2.getNumThreads()
        torch.set_num_threads(1)
        cv2.setNumThreads(0)
        try:
            ms = interleaved_median_ms(
                dict(
                    ours=lambda: block(ds_ours, 'ours'),
                    mmdet=lambda: block(ds_theirs, 'mmdet')),
                args.repeats,
                args.warmup,
                per_call=n)
        finally:
            torch.set_num_threads(threads[0])
            cv2.setNumThreads(threads[1])
        rows.append(
            dict(
                row=name,
                ours_out=outs['ours'],
                mmdet_out=outs['mmdet'],
                ours_ms=ms['ours'],
                mmdet_ms=ms['mmdet'],
                ours_ips=1e3 / ms['ours'],
                mmdet_ips=1e3 / ms['mmdet'],
                ratio=ms['mmdet'] / ms['ours']))

    command = command_line('bench_pipeline.py', argv)
    print(f'`{command}`  ({machine_line()})\n')
    print(f'Train pipeline throughput in one process (1 torch thread, '
          f'cv2.setNumThreads(0), as a dataloader worker) on {args.data_root} '
          f'({n} images per block, median of {args.repeats} interleaved '
          'blocks). Ours: SafeLoadImageFromFile, LoadAnnotations, '
          'RandomResize(0.75-1.25), RandomCrop, RandomFlip, PackDetInputs. '
          'mmdet: LoadImageFromFile, LoadAnnotations, PhotoMetricDistortion, '
          'RandomCenterCropPad, Resize, RandomFlip, PackDetInputs.\n')
    print(
        markdown_table(
            ['row', 'ours mean output', 'mmdet mean output', 'ours ms/img',
             'mmdet ms/img', 'ours img/s', 'mmdet img/s',
             'img/s ours/mmdet'],
            [[r['row'], r['ours_out'], r['mmdet_out'], r['ours_ms'],
              r['mmdet_ms'], r['ours_ips'], r['mmdet_ips'], r['ratio']]
             for r in rows]))
    return dict(rows=rows, command=command)


if __name__ == '__main__':
    main()
