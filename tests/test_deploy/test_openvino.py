"""OpenVINO as a second CPU runtime of the same ONNX files (fp32 and INT8):
same boxes as ONNX Runtime; the backend is named when it is missing."""
import sys

import numpy as np
import pytest

from centerx_mm.apis import (BackendUnavailableError, ONNXRuntimeDetector,
                             build_detector)
from centerx_mm.deploy import deploy_settings, export_onnx

try:
    import openvino  # noqa: F401
    OPENVINO_MISSING = ''
except ImportError as err:  # pinned in requirements/deploy.txt
    OPENVINO_MISSING = f'openvino cannot be imported here ({err})'
needs_openvino = pytest.mark.skipif(
    bool(OPENVINO_MISSING), reason=OPENVINO_MISSING or 'openvino imports')


@needs_openvino
@pytest.mark.parametrize('kwargs', [
    dict(dynamic=True),
    dict(input_format='uint8'),
    dict(dynamic='batch', batch_size=2, input_format='float'),
])
def test_openvino_runner_equals_onnxruntime(tiny, tmp_path, kwargs):
    import glob
    import os.path as osp

    from centerx_mm.apis import OpenVINODetector
    out = str(tmp_path / 'm.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg), **kwargs)
    ort_det = ONNXRuntimeDetector(out)
    ov_det = build_detector(out, 'openvino', num_threads=1)
    assert isinstance(ov_det, OpenVINODetector)
    assert ov_det.input_bhw == ort_det.input_bhw
    assert ov_det.input_dtype == ort_det.input_dtype
    images = sorted(glob.glob(osp.join(tiny.data, 'val', '*.png')))[:3]
    for ours, ref in zip(ov_det(images), ort_det(images)):
        # f32 precision hint: the fp32 boxes, not OpenVINO's bf16 default
        np.testing.assert_allclose(ours['bboxes'], ref['bboxes'], atol=1e-3)
        np.testing.assert_allclose(ours['scores'], ref['scores'], atol=1e-5)
        assert (ours['labels'] == ref['labels']).all()


@needs_openvino
def test_demo_with_openvino_backend(tiny, tmp_path):
    from tools.demo import main as demo
    out = str(tmp_path / 'm.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg), dynamic=True)
    result = demo([tiny.img, tiny.cfg_file, out, '--backend', 'openvino',
                   '--out-file', str(tmp_path / 'ov.jpg')])
    ref = ONNXRuntimeDetector(out)(tiny.img)
    np.testing.assert_allclose(result.pred_instances.bboxes.numpy(),
                               ref['bboxes'], atol=1e-3)
    assert (tmp_path / 'ov.jpg').stat().st_size > 0


def test_openvino_missing_is_named(tiny, tmp_path, monkeypatch):
    """``--backend openvino`` without the package: one clear error (the
    import is simulated to fail)."""
    from tools.demo import main as demo
    out = str(tmp_path / 'm.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg))
    monkeypatch.setitem(sys.modules, 'openvino', None)  # import fails
    with pytest.raises(BackendUnavailableError,
                       match=r'needs the openvino package.*pip install '
                       r'openvino==2026\.4\.1'):
        build_detector(out, 'openvino')
    with pytest.raises(BackendUnavailableError, match='openvino package'):
        demo([tiny.img, tiny.cfg_file, out, '--backend', 'openvino',
              '--out-file', str(tmp_path / 'o.jpg')])
    with pytest.raises(ValueError, match="backend='tensorrt'"):
        build_detector(out, 'tensorrt')
