import os

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from centerx_mm.utils import UnsafeCheckpointError, load_checkpoint_safely


class _Evil:
    """Pickles to a call of os.system: must never run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_runner_style_checkpoint_loads(tmp_path):
    buf = HistoryBuffer()
    buf.update(0.5)
    path = tmp_path / 'ok.pth'
    torch.save({'state_dict': {'w': torch.ones(2)},
                'message_hub': {'log_scalars': {'train/loss': buf}},
                'meta': {'iter': 3, 'dataset_meta': {'classes': ('a', )}}},
               path)
    ckpt = load_checkpoint_safely(str(path))
    assert ckpt['meta']['iter'] == 3
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 0.5
    # mmengine's own loader (resume, load_from, init_cfg) goes through it.
    assert _load_checkpoint(str(path))['meta']['iter'] == 3


def test_pickled_code_is_refused_not_run(tmp_path):
    marker = tmp_path / 'executed'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': _Evil(marker)}, path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r'evil\.pth.*GLOBAL posix\.system'):
        load_checkpoint_safely(str(path))
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(str(path))
    assert not marker.exists()


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    import pickle

    import numpy as np

    class _Getattr:

        def __init__(self, obj, name):
            self.obj, self.name = obj, name

        def __reduce__(self):
            return (getattr, (self.obj, self.name))

    for obj, name in ((HistoryBuffer, '__init__'), (np.ndarray, 'tofile')):
        path = tmp_path / 'getattr.pth'
        torch.save({'x': _Getattr(obj, name)}, path,
                   pickle_protocol=pickle.HIGHEST_PROTOCOL)
        with pytest.raises(UnsafeCheckpointError, match='getattr'):
            load_checkpoint_safely(str(path))


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_safely(str(tmp_path / 'nope.pth'))
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(b'not a checkpoint at all')
    with pytest.raises((RuntimeError, UnsafeCheckpointError),
                       match='truncated.pth'):
        load_checkpoint_safely(str(bad))
