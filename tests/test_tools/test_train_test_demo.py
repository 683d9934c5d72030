"""End-to-end tool tests on a tiny generated dataset and a tiny CenterX:
train, kill + --resume, 2-process DDP (gloo), test (COCO mAP), demo."""
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import cv2
import pytest
import torch

from tests.helpers import (REPO, TINY_CONFIG, data_options, make_tiny_dataset,
                           run_tool)


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('shapes'))


@pytest.fixture(scope='module')
def trained(tiny_data, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('train'))
    run_tool(['tools/train.py', TINY_CONFIG, '--work-dir', work,
              '--cfg-options', *data_options(tiny_data),
              'train_cfg.max_iters=4'])
    return work


def last_checkpoint(work):
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def test_train_writes_checkpoints(trained):
    assert sorted(f for f in os.listdir(trained) if f.endswith('.pth')) == [
        'iter_2.pth', 'iter_4.pth'
    ]
    ckpt = torch.load(last_checkpoint(trained), weights_only=False)
    assert ckpt['meta']['iter'] == 4
    assert ckpt['meta']['dataset_meta']['classes'] == ('ring', 'star',
                                                       'cross', 'triangle')


def test_killed_run_resumes_from_last_checkpoint(tiny_data, tmp_path):
    work = str(tmp_path / 'work')
    args = [sys.executable, 'tools/train.py', TINY_CONFIG, '--work-dir', work,
            '--cfg-options', *data_options(tiny_data),
            'train_cfg.max_iters=40']
    log_path = tmp_path / 'killed.log'
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(args, cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT,
                                env=dict(os.environ, OMP_NUM_THREADS='1'))
        deadline = time.time() + 240
        while not osp.exists(osp.join(work, 'iter_4.pth')):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.time() < deadline, 'no checkpoint after 240 s'
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # killed mid-run, no clean-up
        proc.wait()
    done = [int(n) for n in re.findall(r'Iter\(train\) \[\s*(\d+)/40\]',
                                       log_path.read_text())]
    assert done and max(done) < 40, 'the run finished before it was killed'
    # the checkpoint --resume uses: last_checkpoint is written after a
    # checkpoint file is complete (a kill during a save leaves the previous)
    saved = int(re.fullmatch(r'.*iter_(\d+)\.pth',
                             last_checkpoint(work)).group(1))
    # lost at most the checkpoint interval
    assert max(done) - saved <= 2, (done[-5:], sorted(os.listdir(work)))

    out = run_tool(args[1:] + ['--resume'])
    text = out.stdout + out.stderr
    assert f'resumed epoch: 0, iter: {saved}' in text
    assert osp.exists(osp.join(work, 'iter_40.pth'))
    ckpt = torch.load(osp.join(work, 'iter_40.pth'), weights_only=False)
    assert ckpt['meta']['iter'] == 40
    # The resumed run trained only the remaining iterations.
    resumed = [int(n) for n in re.findall(r'Iter\(train\) \[\s*(\d+)/40\]',
                                          text)]
    assert min(resumed) == saved + 1


def test_two_process_ddp_training(tiny_data, tmp_path):
    work = str(tmp_path / 'ddp')
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT='29637')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', TINY_CONFIG, '2', '--work-dir', work,
         '--cfg-options', *data_options(tiny_data), 'train_cfg.max_iters=4'],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-5000:]
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text  # mmengine's name for the world size
    assert osp.exists(osp.join(work, 'iter_4.pth'))


def test_test_tool_reports_coco_map(trained, tiny_data, tmp_path):
    out = run_tool(['tools/test.py', TINY_CONFIG, last_checkpoint(trained),
                    '--work-dir', str(tmp_path), '--out',
                    str(tmp_path / 'preds.pkl'), '--cfg-options',
                    *data_options(tiny_data)])
    text = out.stdout + out.stderr
    assert re.search(r'coco/bbox_mAP: [-\d.]+', text), text[-3000:]
    assert (tmp_path / 'preds.pkl').exists()


def test_demo_draws_image(trained, tiny_data, tmp_path):
    out_file = tmp_path / 'demo.png'
    img = osp.join(tiny_data, 'val', '000000.png')
    out = run_tool(['tools/demo.py', img, TINY_CONFIG,
                    last_checkpoint(trained), '--out-file', str(out_file),
                    '--score-thr', '0.0'])
    assert 'boxes with score' in out.stdout
    drawn = cv2.imread(str(out_file))
    original = cv2.imread(img)
    assert drawn is not None and drawn.shape == original.shape
    assert (drawn != original).any()  # boxes were drawn


def test_tools_clear_errors_for_missing_files(trained, tmp_path):
    out = run_tool(['tools/test.py', TINY_CONFIG, 'nope/missing.pth'],
                   check=False)
    assert out.returncode != 0
    assert 'checkpoint not found: nope/missing.pth' in out.stderr
    out = run_tool(['tools/train.py', 'configs/missing_config.py'],
                   check=False)
    assert 'config file not found: configs/missing_config.py' in out.stderr
    out = run_tool(['tools/demo.py', 'missing.png', TINY_CONFIG,
                    last_checkpoint(trained), '--out-file',
                    str(tmp_path / 'x.png')], check=False)
    assert 'image not found: missing.png' in out.stderr


def test_num_classes_mismatch_fails_at_startup(tiny_data, tmp_path):
    out = run_tool(['tools/train.py', TINY_CONFIG, '--work-dir',
                    str(tmp_path), '--cfg-options', *data_options(tiny_data),
                    'model.bbox_head.num_classes=5'], check=False)
    assert out.returncode != 0
    assert 'model.bbox_head.num_classes=5' in out.stderr
    assert 'has 4 classes' in out.stderr
    assert not any(f.endswith('.pth') for f in os.listdir(tmp_path))
