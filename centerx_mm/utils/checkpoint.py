"""Checkpoint loading with ``torch.load(weights_only=True)`` semantics.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6
defaults it to True, so resuming a full runner checkpoint fails on the few
non-tensor types mmengine itself writes (``HistoryBuffer`` and the numpy
arrays/scalars inside it). We allowlist exactly those types and replace
mmengine's local-file loader, so every load (``load_from``, ``--resume``,
``init_cfg=dict(type='Pretrained')``, teachers) is weights-only, and a file
that needs arbitrary pickled code is refused with a message naming it.
"""
import os.path as osp
import pickle
from typing import Optional

import numpy as np
import torch


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint needs pickled code outside the weights-only allowlist."""


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


def load_checkpoint_safely(filename: str,
                           map_location: Optional[str] = None) -> dict:
    """``torch.load(filename, weights_only=True)`` with clear errors.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the file needs code outside the allowlist
            (the offending global is named in the message); it is not run.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message is long; keep the paragraph that names the global.
        paras = [p.strip() for p in str(err).split('\n\n') if p.strip()]
        reason = paras[1] if len(paras) > 1 else (paras or [''])[0]
        reason = ' '.join(reason.replace('WeightsUnpickler error:',
                                         '').split())
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: it is not loadable with '
            f'torch.load(weights_only=True) ({reason.strip()}). Arbitrary '
            'pickled code is never executed. If you trust the file, re-save '
            'its weights as plain tensors, e.g. torch.save({"state_dict": '
            'model.state_dict()}, path).') from None
    except (RuntimeError, EOFError, ValueError) as err:
        raise RuntimeError(
            f'Checkpoint file {filename} is not a readable PyTorch '
            f'checkpoint (truncated or corrupt?): {err}') from None


def _load_from_local(filename: str, map_location=None) -> dict:
    if filename.startswith('file://'):
        filename = filename[7:]
    return load_checkpoint_safely(filename, map_location)


def register_safe_checkpoint_loader() -> None:
    """Make :func:`load_checkpoint_safely` mmengine's local-file loader."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
