"""No checkpoint named by a URL is ever fetched or unpickled (issue 16).

A pickle payload is served on 127.0.0.1; every place a checkpoint name can
come from is pointed at it, and the test asserts that the server was never
contacted, that the payload never ran, and that no error advises loading
with ``weights_only=False``.
"""
import http.server
import os
import os.path as osp
import threading
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint

from centerx_mm.checkpoint import UnsafeCheckpointError
from centerx_mm.registry import MODELS
from tests.helpers import (TINY_CONFIG, data_options, make_tiny_dataset,
                           run_tool, write)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _Payload:
    """Unpickling it creates the directory ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker, ))


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """An HTTP server on 127.0.0.1 serving the payload at any path; counts
    requests. Yields (base URL, marker path, request list)."""
    root = tmp_path_factory.mktemp('remote')
    marker = root / 'payload_ran'
    payload = root / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Payload(marker)}, payload)
    body = payload.read_bytes()
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):

        def do_GET(self):  # noqa: N802
            requests.append(self.path)
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield (f'http://127.0.0.1:{httpd.server_port}', marker, requests,
           str(payload))
    httpd.shutdown()


@pytest.fixture(autouse=True)
def _no_payload(server, monkeypatch, tmp_path):
    """Every test: a private torch hub dir; afterwards the payload has not
    run and the server has not been asked for anything."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    _, marker, requests, _ = server
    yield
    assert not marker.exists(), 'the pickled payload was executed'
    assert requests == [], f'the server was contacted: {requests}'


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('shapes'), num_train=2,
                             num_val=2)


def _refused(excinfo, url):
    msg = str(excinfo.value)
    assert url in msg, msg
    assert 'weights_only=False' not in msg and 'weights_only` set to ' \
        'False' not in msg, msg
    return msg


def test_payload_is_live(server, tmp_path):
    """Control: the file does run code when unpickled without the
    allowlist, so the assertions of the other tests can fail."""
    _, marker, _, payload = server
    torch.load(payload, weights_only=False)
    assert marker.exists()
    os.rmdir(marker)


@pytest.mark.parametrize('scheme', [
    'http://127.0.0.1:1/a.pth', 'https://example.com/a.pth',
    's3://bucket/a.pth', 'open-mmlab://resnet18', 'openmmlab://resnet18',
    'torchvision://resnet18', 'modelzoo://resnet18', 'mmcls://x',
    'pavi://x/a.pth', 'open-mmlab:s3://bucket/a.pth', 'hf://x/a.pth'
])
def test_every_remote_scheme_is_refused_by_mmengine(scheme):
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(scheme)
    assert 'only local files' in _refused(err, scheme)


def test_load_from_url_in_tools_train(server, tiny_data, tmp_path):
    from tools.train import main
    url = server[0] + '/load_from.pth'
    with pytest.raises(UnsafeCheckpointError) as err:
        main([TINY_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
              *data_options(tiny_data), f'load_from={url}',
              f'experiment_name={uuid.uuid4().hex}'])
    _refused(err, url)


def test_resume_url_in_tools_train(server, tiny_data, tmp_path):
    from tools.train import main
    url = server[0] + '/resume.pth'
    with pytest.raises(Exception) as err:
        main([TINY_CONFIG, '--work-dir', str(tmp_path), '--resume', url,
              '--cfg-options', *data_options(tiny_data)])
    assert 'only local files' in _refused(err, url)


def _tiny_cfg(tiny_data, work_dir, **options):
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict(
        dict(opt.split('=', 1) for opt in data_options(tiny_data)))
    cfg.merge_from_dict(
        dict(work_dir=str(work_dir), experiment_name=uuid.uuid4().hex,
             **options))
    return cfg


def test_last_checkpoint_url_with_mmengine_resume(server, tiny_data,
                                                  tmp_path):
    """mmengine's own auto-resume (what mmdet's train.py does) reads the
    URL from last_checkpoint: the loader refuses it."""
    url = server[0] + '/last.pth'
    write(tmp_path / 'last_checkpoint', url)
    runner = Runner.from_cfg(_tiny_cfg(tiny_data, tmp_path, resume=True))
    with pytest.raises(UnsafeCheckpointError) as err:
        runner.train()
    _refused(err, url)


def test_last_checkpoint_url_with_tools_train(server, tiny_data, tmp_path):
    """tools/train.py --resume ignores it, says so, and (no checkpoint at
    all) says loudly that it starts from iteration 0."""
    url = server[0] + '/last.pth'
    write(tmp_path / 'last_checkpoint', url)
    out = run_tool(['tools/train.py', TINY_CONFIG, '--work-dir',
                    str(tmp_path), '--resume', '--cfg-options',
                    *data_options(tiny_data), 'train_cfg.max_iters=1'],
                   env=dict(TORCH_HOME=str(tmp_path / 'torch_home')))
    text = out.stdout + out.stderr
    assert f'names the remote URL {url!r}: ignored' in text
    assert 'STARTS FROM ITERATION 0' in text


@pytest.mark.parametrize('level', ['model', 'backbone', 'neck', 'bbox_head'])
def test_init_cfg_url_at_any_level(server, level):
    url = server[0] + f'/{level}.pth'
    cfg = Config.fromfile(TINY_CONFIG).model
    init_cfg = dict(type='Pretrained', checkpoint=url)
    if level == 'model':
        cfg.init_cfg = init_cfg
    else:
        cfg[level].init_cfg = init_cfg
    field = 'model' if level == 'model' else f'model.{level}'
    with pytest.raises(ValueError, match=f'{field}.init_cfg.checkpoint=.*'
                       'never downloads'):
        MODELS.build(cfg)
    # Even a module that skips the build-time check (mmengine's
    # PretrainedInit goes through load_checkpoint) is refused.
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(model, url)
    _refused(err, url)


def test_teacher_checkpoint_url(server):
    from centerx_mm.models.utils import load_teacher
    url = server[0] + '/teacher.pth'
    with pytest.raises(UnsafeCheckpointError) as err:
        load_teacher(TINY_CONFIG, url)
    assert 'model.teacher_ckpt' in _refused(err, url)


@pytest.mark.parametrize('tool', [
    'test', 'demo', 'export_onnx', 'export_caffe', 'deploy'])
def test_tools_refuse_url_checkpoints(server, tiny_data, tmp_path, tool):
    url = server[0] + f'/{tool}.pth'
    img = osp.join(tiny_data, 'val', '000000.png')
    argv = {
        'test': [TINY_CONFIG, url],
        'demo': [img, TINY_CONFIG, url, '--out-file', str(tmp_path / 'o')],
        'export_onnx': [TINY_CONFIG, url, '--out', str(tmp_path / 'x')],
        'export_caffe': [TINY_CONFIG, url, '--out', str(tmp_path / 'x')],
        'deploy': [
            osp.join(REPO, 'configs/deploy/centerx_onnxruntime_dynamic.py'),
            TINY_CONFIG, url, img, '--work-dir', str(tmp_path)
        ],
    }[tool]
    module = __import__(f'tools.{tool}', fromlist=['main'])
    with pytest.raises(UnsafeCheckpointError) as err:
        module.main(argv)
    _refused(err, url)
