"""Shared helpers for the test suite."""
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(REPO, 'tests', 'data', 'tiny_shapes_config.py')


def make_tiny_dataset(root, num_train=8, num_val=4, **kwargs):
    """Generate a tiny shapes dataset under ``root``; returns ``root``."""
    from centerx_mm.datasets.shapes_generator import generate_shapes_dataset
    generate_shapes_dataset(
        str(root), num_train=num_train, num_val=num_val, **kwargs)
    return str(root)


def data_options(root):
    """--cfg-options pointing the tiny config at a generated dataset."""
    root = str(root).rstrip('/') + '/'
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/instances_val.json',
        f'test_evaluator.ann_file={root}annotations/instances_val.json',
    ]


def run_tool(args, timeout=300, check=True, env=None, **kwargs):
    """Run ``python <args>`` in the repo root; returns CompletedProcess."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    full_env.update(env or {})
    proc = subprocess.run([sys.executable] + list(args),
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=timeout,
                          env=full_env,
                          **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc
