"""A trained detector from its config and checkpoint, loaded strictly: the
one path of ``tools/test.py``, ``tools/demo.py``, the exporters,
``tools/deploy.py``, ``evaluate_onnx`` and the distillation teachers.

- The config's ``init_cfg`` (ImageNet file) is dropped at every level, as in
  mmdet's ``init_detector``: the checkpoint holds all weights, so a machine
  without the pretrained file can still test or export.
- The checkpoint is read weights-only (:mod:`centerx_mm.checkpoint`); its
  keys and shapes must equal the model's, and its
  ``meta.dataset_meta.classes`` the config's class names. Errors list the
  first few offending keys.
"""
import copy
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.config import ConfigDict

from centerx_mm.checkpoint import (CheckpointMismatchError,
                                   checkpoint_classes, checkpoint_state_dict,
                                   load_checkpoint_safely,
                                   state_dict_mismatch)


def config_classes(cfg) -> Optional[Tuple[str, ...]]:
    """``metainfo.classes`` of a config: top level, else the first found in
    the train, val or test dataloader's dataset (also inside wrappers)."""
    top = cfg.get('metainfo') or {}
    if top.get('classes'):
        return tuple(top['classes'])
    stack = [(cfg.get(f'{split}_dataloader') or {}).get('dataset')
             for split in ('train', 'val', 'test')]
    while stack:
        ds = stack.pop(0)
        if isinstance(ds, (list, tuple)):
            stack.extend(ds)
        elif isinstance(ds, dict):
            classes = (ds.get('metainfo') or {}).get('classes')
            if classes:
                return tuple(classes)
            stack.extend(ds.get(k) for k in ('dataset', 'datasets')
                         if ds.get(k) is not None)
    return None


def _drop_init_cfg(cfg) -> None:
    if isinstance(cfg, dict):
        cfg.pop('init_cfg', None)
        cfg.pop('pretrained', None)
        for value in cfg.values():
            _drop_init_cfg(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _drop_init_cfg(value)


def plain_model_cfg(model_cfg: dict) -> dict:
    """A copy of ``model_cfg`` as a plain detector for trained weights: a
    distiller config becomes its student (distillation keys dropped), and
    every ``init_cfg``/``pretrained`` is removed, at any level."""
    from centerx_mm.registry import MODELS
    cfg = copy.deepcopy(ConfigDict(model_cfg))
    cls = MODELS.get(cfg.get('type'))
    student_type = getattr(cls, 'STUDENT_TYPE', None)
    if student_type is not None:
        for key in cls.DISTILL_KEYS:
            cfg.pop(key, None)
        cfg['type'] = student_type
    _drop_init_cfg(cfg)
    return cfg


def load_trained_weights(model: nn.Module,
                         checkpoint: str,
                         classes: Optional[Sequence[str]] = None,
                         field: str = 'checkpoint',
                         model_desc: str = 'the config',
                         assign: bool = False) -> dict:
    """Load ``checkpoint`` into ``model`` weights-only and strictly.

    Args:
        classes: the config's class names; when the checkpoint's meta names
            classes too, both must be equal (same names, same order).
        field, model_desc: how errors name the checkpoint and the model,
            e.g. ``'model.teacher_ckpt'``, ``'model.teacher_config t.py'``.
        assign: the checkpoint's tensors become the parameters (no second
            copy in memory; only for a model no optimizer holds yet).

    Returns:
        dict: the dataset meta: the checkpoint's ``meta.dataset_meta``, else
        ``{'classes': classes}`` (classes may be None).

    Raises:
        CheckpointMismatchError: missing, unexpected or shape-mismatched
            keys (the first four of each listed), or other class names.
        FileNotFoundError, UnsafeCheckpointError, RuntimeError: see
            :func:`centerx_mm.checkpoint.load_checkpoint_safely`.
    """
    ckpt = load_checkpoint_safely(checkpoint, map_location='cpu')
    ckpt_classes = checkpoint_classes(ckpt)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    dataset_meta = dict((meta or {}).get('dataset_meta') or {}) \
        if isinstance(meta, dict) else {}
    state = checkpoint_state_dict(ckpt, checkpoint)
    del ckpt, meta  # optimizer state etc.: not kept
    problem = state_dict_mismatch(model.state_dict(), state)
    if problem:
        raise CheckpointMismatchError(
            f'{field}: checkpoint {checkpoint} does not fit the model of '
            f'{model_desc}: {problem}')
    if classes is not None and ckpt_classes is not None and tuple(
            classes) != ckpt_classes:
        raise CheckpointMismatchError(
            f'{field}: checkpoint {checkpoint} was trained on classes '
            f'{list(ckpt_classes)} but {model_desc} names '
            f'{list(classes)}; class names and order must match (fix '
            'metainfo.classes, or pick the right checkpoint)')
    model.load_state_dict(state, strict=True, assign=assign)
    if not dataset_meta.get('classes'):
        dataset_meta['classes'] = None if classes is None else tuple(classes)
    return dataset_meta


def build_trained_detector(cfg,
                           checkpoint: str,
                           device: str = 'cpu',
                           field: str = 'checkpoint',
                           model_desc: Optional[str] = None,
                           check_classes: bool = True) -> nn.Module:
    """The detector of ``cfg.model`` (:func:`plain_model_cfg`) with the
    weights of ``checkpoint`` (:func:`load_trained_weights`), in eval mode
    on ``device``, with ``model.cfg`` and ``model.dataset_meta`` set as
    mmdet's ``init_detector`` does (so ``inference_detector`` works).

    ``check_classes=False`` (teachers, whose checkpoint says what they were
    trained on): the checkpoint's class names win over the config's, which
    are only the fallback."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    from centerx_mm.registry import MODELS
    if model_desc is None:
        model_desc = f'config {getattr(cfg, "filename", None) or "(dict)"}'
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        model = revert_sync_batchnorm(
            MODELS.build(plain_model_cfg(cfg.model)))
    classes = config_classes(cfg)
    model.dataset_meta = load_trained_weights(
        model, checkpoint, classes if check_classes else None, field,
        model_desc, assign=True)
    if not model.dataset_meta.get('classes'):
        model.dataset_meta['classes'] = classes
    model.dataset_meta.setdefault('palette', 'random')
    model.cfg = cfg
    return model.to(device).eval()
