"""Small helpers shared by the command-line tools."""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``, as in mmdet's
    tools; call :func:`export_local_rank` after parsing."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.bbox_head.num_classes=3')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> argparse.Namespace:
    """Set ``LOCAL_RANK`` from ``--local-rank`` unless the launcher did."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(path: str, cfg_options=None) -> Config:
    """Read a config with a clear error for a missing file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def setup_run(cfg: Config, config_path: str, work_dir=None,
              launcher: str = 'none') -> None:
    """Set ``launcher`` and ``work_dir`` (default
    ``./work_dirs/<config name>``) and, without CUDA, CPU distributed."""
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    setup_cpu_distributed(cfg, launcher)


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Without CUDA, DDP runs on CPU: gloo backend, no device_ids."""
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if not torch.distributed.is_initialized():
        # mmengine's init_dist calls torch.cuda.set_device; start gloo here.
        torch.distributed.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
