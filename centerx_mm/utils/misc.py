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
    check_input_scale(cfg, path)
    return cfg


def _pipeline_sizes(transforms) -> set:
    """(w, h) of every ``scale``/``crop_size`` in a pipeline, also inside
    ``TestTimeAug``'s nested lists."""
    sizes = set()
    for t in transforms or []:
        if isinstance(t, (list, tuple)):
            sizes |= _pipeline_sizes(t)
        elif isinstance(t, dict):
            for key in ('scale', 'crop_size'):
                v = t.get(key)
                if isinstance(v, (list, tuple)) and len(v) == 2 and all(
                        isinstance(x, (int, float)) for x in v):
                    sizes.add(tuple(int(x) for x in v))
            sizes |= _pipeline_sizes(t.get('transforms'))
    return sizes


def check_input_scale(cfg: Config, path: str = 'config') -> None:
    """A top-level ``img_scale`` must be the size the pipelines resize or
    crop to. A child config that sets ``img_scale`` changes nothing in the
    pipelines its base already built, so the model would quietly train at
    the base's size: refuse that, naming both sizes.

    Raises:
        ValueError: a dataloader's pipeline uses sizes that do not include
            ``img_scale``.
    """
    scale = cfg.get('img_scale')
    if not (isinstance(scale, (list, tuple)) and len(scale) == 2):
        return
    scale = tuple(int(x) for x in scale)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        stack, sizes = [(cfg.get(name) or {}).get('dataset')], set()
        while stack:
            ds = stack.pop()
            if isinstance(ds, (list, tuple)):
                stack.extend(ds)
            elif isinstance(ds, dict):
                sizes |= _pipeline_sizes(ds.get('pipeline'))
                stack.extend(ds.get(k) for k in ('dataset', 'datasets')
                             if ds.get(k) is not None)
        if sizes and scale not in sizes:
            raise ValueError(
                f'{path}: img_scale={scale} but the {name} pipeline '
                f'resizes/crops to {sorted(sizes)}. The pipelines were built '
                'where they are defined, from the img_scale there; setting '
                'img_scale in a child config does not rebuild them. Set the '
                'size in the config that defines the pipelines (copy '
                'configs/centerx/centerx_r18_own_data.py and edit its '
                'img_scale line), or redefine the pipelines too.')


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


def mmdet_tool_path(relpath: str) -> str:
    """Path of one of mmdet's own tools (``tools/<relpath>``), which the mmdet
    package ships under ``mmdet/.mim/tools``."""
    import mmdet
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', relpath)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"mmdet's tools/{relpath} not found at {path}: this mmdet "
            'install has no .mim/tools (install the mmdet wheel from PyPI, '
            'or run tools/ of an mmdet 3.3 checkout)')
    return path


def run_mmdet_tool(relpath: str) -> None:
    """Run mmdet's ``tools/<relpath>`` as ``__main__`` with this process's
    arguments: the same command line as mmdet's tool, on our configs."""
    import runpy
    import sys

    from centerx_mm.utils import register_all_modules
    path = mmdet_tool_path(relpath)
    # mmdet's tools set the config's default_scope themselves
    register_all_modules(init_default_scope=False)
    sys.path.insert(0, osp.dirname(path))
    runpy.run_path(path, run_name='__main__')
