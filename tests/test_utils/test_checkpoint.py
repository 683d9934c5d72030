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


def test_truncated_zero_filled_and_empty_files(tmp_path):
    """Named as unreadable, never with torch's advice to load with
    weights_only=False (which would run whatever the file holds)."""
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.ones(1000)}}, good)
    data = good.read_bytes()
    cases = {'truncated.pth': data[:len(data) // 2],
             'zeros.pth': bytes(len(data)), 'empty.pth': b''}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(RuntimeError) as err:
            load_checkpoint_safely(str(tmp_path / name))
        msg = str(err.value)
        assert name in msg and 'truncated or corrupt' in msg, msg
        assert 'weights_only' not in msg, msg
    assert 'starts with zero bytes' in _msg(tmp_path / 'zeros.pth')
    assert 'empty (0 bytes)' in _msg(tmp_path / 'empty.pth')


def _msg(path):
    try:
        load_checkpoint_safely(str(path))
    except RuntimeError as err:
        return str(err)
    raise AssertionError(f'{path} loaded')


def test_safe_loader_is_installed_on_purpose_in_a_fresh_interpreter(
        tmp_path):
    """Importing centerx_mm (or centerx_mm.deploy) changes nothing in
    mmengine; register_all_modules() installs the loader. The loader's
    module imports nothing from centerx_mm.models, and the models do not
    reach up into centerx_mm.utils."""
    import subprocess
    import sys

    from tests.helpers import REPO
    ckpt = tmp_path / 'runner.pth'
    buf = HistoryBuffer()
    buf.update(1.0)
    torch.save({'state_dict': {'w': torch.ones(2)},
                'message_hub': {'log_scalars': {'loss': buf}}}, ckpt)
    code = f'''
import sys
import centerx_mm
import centerx_mm.checkpoint as ck
assert 'centerx_mm.models' not in sys.modules, 'checkpoint imports models'
assert not ck.safe_checkpoint_loader_installed(), 'installed by an import'
import centerx_mm.models.utils.teacher
assert 'centerx_mm.utils' not in sys.modules, 'models import centerx_mm.utils'
import centerx_mm.deploy
assert not ck.safe_checkpoint_loader_installed(), 'installed by deploy'
from mmengine.runner.checkpoint import _load_checkpoint
try:
    _load_checkpoint({str(ckpt)!r})
except Exception as err:
    assert 'HistoryBuffer' in str(err), err
else:
    raise AssertionError('torch default loader read a HistoryBuffer')
from centerx_mm.utils import register_all_modules
register_all_modules()
assert ck.safe_checkpoint_loader_installed()
assert _load_checkpoint({str(ckpt)!r})['message_hub']['log_scalars'][
    'loss'].current() == 1.0
try:
    _load_checkpoint('https://127.0.0.1:9/x.pth')
except ck.UnsafeCheckpointError:
    pass
else:
    raise AssertionError('URL loaded')
print('fresh interpreter OK')
'''
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert 'fresh interpreter OK' in proc.stdout
