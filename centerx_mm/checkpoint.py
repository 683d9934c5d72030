"""Checkpoint files: weights-only loading, strict key checks, durable writes.

The lowest layer of centerx_mm: it imports torch, numpy and mmengine, never
``centerx_mm.models`` (teachers, tools, hooks and the dataset all build on
it).

- :func:`load_checkpoint_safely`: ``torch.load(weights_only=True)`` of a
  LOCAL file, with an allowlist of exactly the non-tensor types mmengine
  writes (``HistoryBuffer`` and its numpy contents). Remote names
  (``http(s)://``, ``s3://``, ``open-mmlab://``, ``torchvision://`` ...) are
  refused: their mmengine loaders unpickle with ``weights_only=False``.
- :func:`install_safe_checkpoint_loader`: makes it the only loader behind
  mmengine's ``CheckpointLoader`` (``load_from``, ``--resume``,
  ``init_cfg=dict(type='Pretrained')`` at any level), whatever the scheme.
  Called by :func:`centerx_mm.utils.register_all_modules`; importing
  centerx_mm changes nothing in mmengine.
- :func:`state_dict_mismatch`: missing / unexpected / shape-mismatched keys,
  the first few named.
- :func:`write_atomically`: tmp file + fsync + ``os.replace`` + directory
  fsync, so a kill leaves either the old file or the complete new one.
"""
import os
import os.path as osp
import pickle
import re
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

#: ``scheme://`` (``open-mmlab:s3://`` too) that is not ``file://``.
_REMOTE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9+.-]*:)?//')


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint needs pickled code outside the weights-only allowlist,
    or is named by a remote URL; nothing of it is run."""


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights or class names do not fit the model."""


def is_remote(path) -> bool:
    """True for ``scheme://...`` names other than ``file://``."""
    path = str(path)
    return bool(_REMOTE.match(path)) and not path.startswith('file://')


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``builtins.getattr`` while unpickling: HistoryBuffer
    pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``;
    nothing else may be fetched."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean'}
    if obj is HistoryBuffer and name in allowed | set(
            HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')


def _safe_globals() -> list:
    """The non-tensor types that mmengine runner checkpoints contain."""
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [HistoryBuffer, np.ndarray, np.dtype,
            (_history_buffer_getattr, 'builtins.getattr')]
    # numpy >= 2 pickles arrays through numpy._core.multiarray._reconstruct.
    from numpy._core.multiarray import _reconstruct, scalar
    safe += [_reconstruct, scalar]
    safe += [
        type(np.dtype(t)) for t in ('float64', 'float32', 'float16', 'int64',
                                    'int32', 'int8', 'uint8', 'bool')
    ]
    return safe


def _reason(filename: str, err: BaseException) -> str:
    """Why ``filename`` could not be read, without torch's advice to load
    with ``weights_only=False`` (that would run whatever the file holds)."""
    size = osp.getsize(filename)
    if size == 0:
        return 'the file is empty (0 bytes)'
    with open(filename, 'rb') as f:
        head = f.read(64)
    if not any(head):
        return f'the file ({size} bytes) starts with zero bytes'
    text = ' '.join(str(err).replace('WeightsUnpickler error:', '').split())
    sentences = re.split(r'(?<=[.!?])\s+', text)
    kept = [s for s in sentences if not re.search(
        r'weights_only|arbitrary code|trusted source|Re-running', s, re.I)]
    return ' '.join(kept) or type(err).__name__


def refuse_remote(filename, what: str = 'checkpoint') -> None:
    """Raise :class:`UnsafeCheckpointError` if ``filename`` is remote."""
    if is_remote(filename):
        raise UnsafeCheckpointError(
            f'Refusing to load {what} {filename}: centerx_mm loads only local '
            'files. Remote checkpoints (http(s)://, s3://, open-mmlab://, '
            'torchvision://, ...) are never fetched, because the loaders '
            'behind those schemes unpickle arbitrary code. Download the file '
            'yourself from a source you trust and give its local path.')


def load_checkpoint_safely(filename: str,
                           map_location=None,
                           what: str = 'checkpoint') -> dict:
    """``torch.load(filename, weights_only=True)`` of a local file, with
    clear errors. ``file://`` names are local.

    Raises:
        UnsafeCheckpointError: a remote name, or the file needs code
            outside the allowlist (the offending global is named; it is
            never run).
        FileNotFoundError: ``filename`` does not exist.
        RuntimeError: truncated, zero-filled or otherwise unreadable.
    """
    filename = str(filename)
    refuse_remote(filename, what)
    if filename.startswith('file://'):
        filename = filename[len('file://'):]
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'Refusing to load {what} {filename}: it is not loadable with '
            f'torch.load(weights_only=True) ({_reason(filename, err)}). '
            'Arbitrary pickled code is never executed. If you trust the '
            'file, re-save its weights as plain tensors, e.g. '
            'torch.save({"state_dict": model.state_dict()}, path).') from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise RuntimeError(
            f'{what.capitalize()} file {filename} is not a readable PyTorch '
            f'checkpoint (truncated or corrupt?): {_reason(filename, err)}'
        ) from None


def _mmengine_load_checkpoint(cls, filename, map_location=None,
                              logger='current'):
    """Replacement of ``CheckpointLoader.load_checkpoint``: every scheme."""
    from mmengine.logging import print_log
    print_log(f'Loads checkpoint (weights only) from {filename}',
              logger=logger)
    return load_checkpoint_safely(filename, map_location)


def install_safe_checkpoint_loader() -> None:
    """Route every mmengine checkpoint load (any scheme, including ones
    registered later) through :func:`load_checkpoint_safely`. Idempotent."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.load_checkpoint = classmethod(_mmengine_load_checkpoint)


def safe_checkpoint_loader_installed() -> bool:
    """True once :func:`install_safe_checkpoint_loader` has run."""
    from mmengine.runner.checkpoint import CheckpointLoader
    return getattr(CheckpointLoader.load_checkpoint, '__func__',
                   None) is _mmengine_load_checkpoint


def checkpoint_state_dict(ckpt, filename: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a loaded checkpoint (a bare state dict too),
    without a DDP ``module.`` prefix.

    Raises:
        CheckpointMismatchError: no tensors in it.
    """
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointMismatchError(
            f'checkpoint {filename} holds no state_dict of tensors')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def state_dict_mismatch(own: Dict[str, torch.Tensor],
                        state: Dict[str, torch.Tensor],
                        limit: int = 4) -> Optional[str]:
    """``None`` if ``state`` has exactly the keys and shapes of ``own``,
    else e.g. ``'2 missing keys: a, b; 1 shape-mismatched keys: c (5, 16)
    vs (4, 16)'`` (checkpoint shape first), at most ``limit`` keys each."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state)
                   if tuple(own[k].shape) != tuple(state[k].shape))
    parts = []
    for what, keys in (('missing', missing), ('unexpected', unexpected),
                       ('shape-mismatched', wrong)):
        if keys:
            shown = ', '.join(
                f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}'
                if what == 'shape-mismatched' else k for k in keys[:limit])
            more = f' (+{len(keys) - limit} more)' if len(keys) > limit \
                else ''
            parts.append(f'{len(keys)} {what} keys: {shown}{more}')
    return '; '.join(parts) or None


def checkpoint_classes(ckpt) -> Optional[tuple]:
    """``meta.dataset_meta.classes`` of a loaded checkpoint, if any."""
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    classes = ((meta or {}).get('dataset_meta') or {}).get('classes') \
        if isinstance(meta, dict) else None
    return tuple(classes) if classes else None


def resumable_problem(ckpt) -> Optional[str]:
    """``None`` if ``ckpt`` is a training-run checkpoint that ``--resume``
    can continue (``meta.iter``/``epoch``, ``message_hub``, ``state_dict``),
    else what it is."""
    if not isinstance(ckpt, dict):
        return 'it is not a dict'
    meta = ckpt.get('meta')
    has_step = isinstance(meta, dict) and 'iter' in meta and 'epoch' in meta
    if 'state_dict' in ckpt and has_step and 'message_hub' in ckpt:
        return None
    keys = sorted(map(str, ckpt))[:6]
    return ('it holds weights only (keys: ' + ', '.join(keys) + '; no '
            'meta.iter/epoch or message_hub), e.g. a student checkpoint or '
            'a published model')


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Create ``path`` so that a kill at any moment leaves either its
    previous content or the complete new one, never a partial file.

    ``write(tmp)`` writes the new content to ``tmp`` (a hidden file next to
    ``path``); it is then fsynced and renamed over ``path``
    (``os.replace``), and the directory is fsynced so that the rename
    itself survives a power loss.
    """
    folder, name = osp.split(osp.abspath(path))
    tmp = osp.join(folder, f'.{name}.tmp')
    write(tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(folder)


def fsync_dir(folder: str) -> None:
    """fsync a directory (its entries); no-op where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomically(path: str, text: str) -> None:
    """:func:`write_atomically` for a small text file."""

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    write_atomically(path, write)


def stale_tmp_files(folder: str) -> List[str]:
    """Leftovers of :func:`write_atomically` cut short by a kill."""
    if not osp.isdir(folder):
        return []
    return sorted(
        osp.join(folder, n) for n in os.listdir(folder)
        if re.fullmatch(r'\..+\.pth\.tmp|\.last_checkpoint\.tmp', n))
