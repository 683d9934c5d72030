"""Shared helpers for the test suite."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(REPO, 'tests', 'data', 'tiny_shapes_config.py')


# The rest of a tiny student config for the distiller tests, after its
# `_base_`, `data_root` and `train_dataloader` lines: a ResNet-18 with 8 base
# channels, 2-iteration runs, val on `data_root`.
TINY_STUDENT_TAIL = """
model = dict(
    backbone=dict(base_channels=8),
    neck=dict(in_channels=64, num_deconv_filters=(16, 16, 16)),
    bbox_head=dict(in_channels=16, feat_channels=16))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_iters=2, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
"""


def tiny_student_config(base, root, train_dataloader):
    """Config text: ``base`` config made tiny by :data:`TINY_STUDENT_TAIL`,
    data under ``root``; ``train_dataloader`` is the config line(s) that
    point its training data at ``data_root``."""
    return (f'_base_ = [{base!r}]\ndata_root = {root!r}\n' +
            textwrap.dedent(train_dataloader) + TINY_STUDENT_TAIL)


def write(path, text):
    """Write dedented ``text`` to ``path``; returns the path as str."""
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text))
    return str(path)


def save_ckpt(model, path, classes):
    """A minimal checkpoint of ``model`` with ``classes`` in its meta."""
    import torch
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=classes))), str(path))
    return str(path)


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


class capture_log:
    """``with capture_log() as lines:`` collects what ``print_log(...,
    logger='current')`` logs meanwhile (pytest's capsys misses it: the
    logger's stream handler holds the stream of an earlier test)."""

    def __enter__(self):
        import logging

        from mmengine.logging import MMLogger
        lines = []

        class _Handler(logging.Handler):

            def emit(self, record):
                lines.append(record.getMessage())

        self._logger = MMLogger.get_current_instance()
        self._handler = _Handler()
        self._logger.addHandler(self._handler)
        return lines

    def __exit__(self, *exc):
        self._logger.removeHandler(self._handler)
