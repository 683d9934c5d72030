"""Evaluate a checkpoint (COCO mAP through mmdet's CocoMetric).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out preds.pkl]
                         [--show-dir DIR] [--tta] [--cfg-options key=value ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NGPUS [args]

``--tta``: flip test-time augmentation with the config's ``tta_model`` and
``tta_pipeline`` (mmdet's ``DetTTAModel``, as mmdet's CenterNet).
A relative ``--show-dir`` goes under WORK_DIR/<timestamp>/, as in mmdet.

A checkpoint from a distillation run works with the student's plain config
(or the distillation config: its student is built). The checkpoint must fit
the model exactly (keys, shapes, class names); the config's ImageNet
``init_cfg`` file is not needed.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import ConfigDict  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from centerx_mm.datasets.checks import check_evaluator_ann_files  # noqa: E402,E501
from centerx_mm.models.utils import (config_classes,  # noqa: E402
                                     load_trained_weights, plain_model_cfg)
from centerx_mm.utils import register_all_modules  # noqa: E402
from centerx_mm.utils.misc import (add_run_args, export_local_rank,  # noqa: E402,E501
                                   load_config, setup_run)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where evaluation logs go')
    parser.add_argument(
        '--out', help='dump predictions to a pickle file (*.pkl)')
    parser.add_argument(
        '--show-dir',
        help='save images with drawn predictions here (a relative path '
        'goes under WORK_DIR/<timestamp>/)')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='score threshold for --show-dir drawings')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='flip test-time augmentation (tta_model + tta_pipeline of the '
        'config)')
    add_run_args(parser)
    return export_local_rank(parser.parse_args(argv))


def main(argv=None):
    args = parse_args(argv)
    from centerx_mm.checkpoint import refuse_remote
    refuse_remote(args.checkpoint)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    # Loaded below, strictly; no init_cfg (ImageNet file) needed.
    cfg.load_from = None
    cfg.resume = False
    cfg.model = plain_model_cfg(cfg.model)
    if args.show_dir:
        vis = cfg.default_hooks.visualization
        vis.draw = True
        # DetVisualizationHook joins it to WORK_DIR/<timestamp>; an absolute
        # path stays as it is.
        vis.test_out_dir = args.show_dir
        vis.score_thr = args.score_thr
    if args.tta:
        missing = [k for k in ('tta_model', 'tta_pipeline') if not cfg.get(k)]
        if missing:
            raise ValueError(
                f'--tta: {args.config} has no {" / ".join(missing)} (see '
                'configs/_base_/default_runtime.py and '
                'configs/_base_/datasets/shapes.py)')
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl: {args.out}')
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(
            dict(type='DumpDetResults', out_file_path=args.out))
    setup_run(cfg, args.config, args.work_dir, args.launcher)
    check_evaluator_ann_files(cfg)

    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    if args.tta:  # DetTTAModel: the detector is its ``module``
        model = model.module
    load_trained_weights(model, args.checkpoint, config_classes(cfg),
                         model_desc=f'config {args.config}')
    metrics = runner.test()
    if args.show_dir:
        print('drawings saved in ' + osp.join(runner.work_dir,
                                              runner.timestamp, args.show_dir))
    return metrics


if __name__ == '__main__':
    main()
