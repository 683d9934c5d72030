"""Train a centerx_mm model.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--auto-scale-lr] [--tensorboard]
                          [--cfg-options key=value ...]
    bash tools/dist_train.sh CONFIG NGPUS [args]   # DDP through torchrun

On a machine without GPU, distributed runs use the gloo backend on CPU.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.runner import Runner  # noqa: E402

from centerx_mm.datasets.checks import check_evaluator_ann_files  # noqa: E402,E501
from centerx_mm.engine import resolve_resume  # noqa: E402
from centerx_mm.utils import register_all_modules  # noqa: E402
from centerx_mm.utils.misc import (add_run_args, export_local_rank,  # noqa: E402,E501
                                   load_config, setup_run)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a centerx_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or without a value from the newest '
        'checkpoint in the work dir that loads (unusable ones are skipped '
        'and named)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: fp16 on a GPU, bf16 on a CPU with bf16 '
        'instructions (AVX512-BF16/AMX), else fp32 with a warning')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the LR by (GPUs x batch size) / '
        'auto_scale_lr.base_batch_size, as mmdet')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also log to TensorBoard (event files under '
        'WORK_DIR/<timestamp>/vis_data; tensorboard --logdir WORK_DIR)')
    add_run_args(parser)
    return export_local_rank(parser.parse_args(argv))


def enable_amp(cfg) -> None:
    """``--amp``: make ``cfg.optim_wrapper`` an ``AmpOptimWrapper`` (ours
    in the ``centerx_mm`` scope, which also trains on CPUs)."""
    from mmengine.logging import print_log
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type in ('AmpOptimWrapper', 'CenterXAmpOptimWrapper'):
        print_log('--amp: the config already trains with an AmpOptimWrapper',
                  logger='current')
    elif wrapper_type == 'OptimWrapper':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        raise ValueError(
            f'--amp needs optim_wrapper.type OptimWrapper or AmpOptimWrapper, '
            f'the config has {wrapper_type!r}: set optim_wrapper.type='
            "'AmpOptimWrapper' in the config instead of --amp")


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        if 'base_batch_size' not in (cfg.get('auto_scale_lr') or {}):
            raise ValueError(
                f'--auto-scale-lr: {args.config} has no '
                'auto_scale_lr.base_batch_size (the total batch size its LR '
                'is meant for), e.g. auto_scale_lr = dict(enable=False, '
                'base_batch_size=16)')
        cfg.auto_scale_lr.enable = True
    if args.tensorboard:
        backends = cfg.visualizer.setdefault('vis_backends', [])
        if not any(b.get('type') == 'TensorboardVisBackend'
                   for b in backends):
            backends.append(dict(type='TensorboardVisBackend'))
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    setup_run(cfg, args.config, args.work_dir, args.launcher)
    check_evaluator_ann_files(cfg)
    if cfg.get('resume'):
        # newest usable checkpoint, or None (fresh start, said loudly)
        cfg.load_from = resolve_resume(cfg.get('load_from'), cfg.work_dir)
        cfg.resume = cfg.load_from is not None

    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
