"""``tools/train.py --amp`` on a CPU: bf16 autocast training whose
checkpoint holds fp32 weights that load into the plain fp32 model and the
ONNX exporter unchanged."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from centerx_mm.engine.optimizers import cpu_has_native_bf16
from tests.helpers import (TINY_CONFIG, data_options, make_tiny_dataset,
                           run_tool)


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path')
def test_amp_training_saves_fp32_checkpoint_that_exports(tmp_path):
    from centerx_mm.apis import ONNXRuntimeDetector
    from centerx_mm.deploy import deploy_settings, export_onnx
    from centerx_mm.registry import MODELS
    data = make_tiny_dataset(tmp_path / 'data', num_train=4, num_val=2)
    work = str(tmp_path / 'work')
    proc = run_tool([
        'tools/train.py', TINY_CONFIG, '--amp', '--work-dir', work,
        '--cfg-options', *data_options(data), 'train_cfg.max_iters=2'
    ])
    out = proc.stdout + proc.stderr
    if cpu_has_native_bf16():
        assert 'training in fp32 instead' not in out
    else:  # the one warning line of the fallback
        assert out.count('training in fp32 instead') == 1
    assert 'amp_skipped_total: 0' in out  # no non-finite loss
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), weights_only=False)
    state = ckpt['state_dict']
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {
        torch.float32
    }
    assert 'loss_scaler' not in ckpt['optimizer']  # no scaler on CPU
    exp_avg = [s['exp_avg'] for s in ckpt['optimizer']['state'].values()]
    assert exp_avg and all(t.dtype == torch.float32 for t in exp_avg)

    cfg = Config.fromfile(TINY_CONFIG)  # the plain fp32 model
    cfg.merge_from_dict(dict(o.split('=', 1) for o in data_options(data)))
    model = MODELS.build(cfg.model)
    model.load_state_dict(state, strict=True)
    onnx_file = str(tmp_path / 'amp.onnx')
    export_onnx(model.eval(), onnx_file, deploy_settings(cfg))
    img = osp.join(data, 'val', '000000.png')
    result = ONNXRuntimeDetector(onnx_file)(img)
    assert np.isfinite(result['bboxes']).all() and len(result['bboxes']) > 0
