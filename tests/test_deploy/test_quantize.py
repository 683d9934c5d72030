"""INT8 post-training quantization (tools/quantize.py): the graph it writes,
its boxes against fp32, and the errors for bad calibration data and bad
model files."""
import glob
import json
import os.path as osp
import shutil

import numpy as np
import onnx
import pytest

from centerx_mm.apis import (ONNXRuntimeDetector, RuntimeInputError,
                             build_detector)
from centerx_mm.deploy import deploy_settings, export_onnx
from centerx_mm.deploy.quantize import (CalibrationError, find_calib_images,
                                        network_nodes, quantize_onnx)


@pytest.fixture(scope='module')
def fp32_and_int8(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp('int8')
    fp32 = str(out / 'fp32.onnx')
    export_onnx(tiny.model, fp32, deploy_settings(tiny.cfg), opset=13)
    int8 = str(out / 'int8.onnx')
    images = sorted(glob.glob(osp.join(tiny.data, '*', '*.png')))
    info = quantize_onnx(fp32, int8, images, method='minmax')
    return fp32, int8, info


def test_int8_graph_layout(fp32_and_int8):
    """QDQ per-channel int8 network; preprocessing-free decode and the
    head's last convolutions stay fp32; metadata kept."""
    fp32, int8, info = fp32_and_int8
    model = onnx.load(int8)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count('QuantizeLinear') > 10
    props = {p.key: p.value for p in model.metadata_props}
    assert props['centerx.precision'] == 'int8'
    assert json.loads(props['centerx.quantization'])['method'] == 'minmax'
    assert props['centerx.pipeline'] == {
        p.key: p.value for p in onnx.load(fp32).metadata_props
    }['centerx.pipeline']
    parts = network_nodes(onnx.load(fp32))
    assert len(parts['head_last']) == 3  # heatmap, wh, offset 1x1 convs
    assert info['fp32_head_last_nodes'] == sorted(parts['head_last'])
    by_output = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.name in parts['head_last']:  # fp32 weights
            assert node.input[1] not in by_output
        if node.op_type in ('TopK', 'Where', 'GatherElements'):  # decode
            assert all(by_output.get(i) is None or by_output[i].op_type !=
                       'DequantizeLinear' for i in node.input)
    weights = [n for n in model.graph.node if n.op_type == 'DequantizeLinear'
               and any(a.name == 'axis' for a in n.attribute)]
    assert weights  # per-channel weight scales


@pytest.mark.parametrize('method,head', [('minmax', 'fp32'),
                                         ('minmax', 'int8'),
                                         ('entropy', 'fp32'),
                                         ('percentile', 'fp32')])
def test_int8_peaks_and_boxes_close_to_fp32(tiny, tmp_path, method, head):
    """Quantize -> run -> the fp32 model's top-20 peaks stay peaks, with
    their scores within 0.01 and their boxes within 0.1 px (sparse graphs:
    the maps at the same cells, so near-tie reordering of the top-K does not
    hide or fake an error). The model is conftest's deterministic tiny
    detector (spread heatmap logits, boxes of 2..6 cells): a model trained
    well enough for mAP is the lead's benchmark (docs/deployment.md)."""
    from centerx_mm.apis import load_image, sparse_to_dets
    fp32 = str(tmp_path / 'sparse.onnx')
    export_onnx(tiny.model, fp32, deploy_settings(tiny.cfg), mode='sparse',
                opset=13)
    int8 = str(tmp_path / 'sparse_int8.onnx')
    calib = sorted(glob.glob(osp.join(tiny.data, 'train', '*.png')))
    quantize_onnx(fp32, int8, calib, method=method,
                  fp32_head_last=head == 'fp32')
    ref_det, q_det = ONNXRuntimeDetector(fp32), ONNXRuntimeDetector(int8)
    for img in sorted(glob.glob(osp.join(tiny.data, 'val', '*.png'))):
        x, _ = ref_det.preprocess([load_image(img)])
        heat, wh, off = ref_det.infer(x)
        q_heat, q_wh, q_off = q_det.infer(x)
        thr = float(np.sort(heat.ravel())[-21])  # the top-20 peaks
        cls, ys, xs = np.nonzero(heat[0] > thr)
        assert len(cls) == 20 and (q_heat[0][cls, ys, xs] > 0).all()
        np.testing.assert_allclose(q_heat[0][cls, ys, xs],
                                   heat[0][cls, ys, xs], atol=0.01)
        ref, _ = sparse_to_dets(heat[0], wh[0], off[0], (128, 128), thr)
        at_peaks = np.zeros_like(heat[0])
        at_peaks[cls, ys, xs] = heat[0][cls, ys, xs]  # fp32 order
        ours, _ = sparse_to_dets(at_peaks, q_wh[0], q_off[0], (128, 128),
                                 thr)
        np.testing.assert_allclose(ours[:, :4], ref[:, :4], atol=0.1)
        assert (ref[:, 2] - ref[:, 0]).min() > 4  # real boxes


def test_calibration_errors_name_the_dir_or_file(tiny, tmp_path,
                                                 fp32_and_int8):
    fp32 = fp32_and_int8[0]
    with pytest.raises(FileNotFoundError,
                       match='calibration directory not found: .*nodir'):
        find_calib_images(str(tmp_path / 'nodir'), 10)
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('no images here')
    with pytest.raises(CalibrationError, match='empty has no image files'):
        find_calib_images(str(empty), 10)
    with pytest.raises(CalibrationError, match='--num-calib must be >= 1'):
        find_calib_images(str(empty), 0)
    bad = tmp_path / 'bad'
    bad.mkdir()
    shutil.copy(tiny.img, bad / 'a_good.png')
    (bad / 'b_broken.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    found = find_calib_images(str(bad), 5)
    assert [osp.basename(f) for f in found] == ['a_good.png', 'b_broken.jpg']
    with pytest.raises(CalibrationError,
                       match='calibration image: cannot decode image .*'
                       'b_broken.jpg'):
        quantize_onnx(fp32, str(tmp_path / 'q.onnx'), found)
    assert not (tmp_path / 'q.onnx').exists()


def test_quantize_tool_errors(tiny, tmp_path):
    from tools.quantize import main
    base = [tiny.cfg_file, tiny.ckpt, '--out', str(tmp_path / 'q.onnx')]
    with pytest.raises(FileNotFoundError, match='calibration directory'):
        main(base + ['--calib-dir', str(tmp_path / 'missing')])
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        main([tiny.cfg_file, str(tmp_path / 'no.pth'), '--out', 'q.onnx',
              '--calib-dir', tiny.data])


def test_not_onnx_and_wrong_input_for_int8(tmp_path, fp32_and_int8):
    int8 = fp32_and_int8[1]
    junk = tmp_path / 'model.onnx'
    junk.write_bytes(b'PK\x03\x04 a zip file, not a protobuf')
    from tests.test_deploy.test_openvino import OPENVINO_MISSING
    for backend in ('onnxruntime', ) + (() if OPENVINO_MISSING else
                                        ('openvino', )):
        with pytest.raises(RuntimeInputError,
                           match='model.onnx is not an ONNX model'):
            build_detector(str(junk), backend)
    det = ONNXRuntimeDetector(int8)
    assert det.input_bhw == (1, 128, 128)
    with pytest.raises(RuntimeInputError,
                       match=r"\(1, 3, 96, 96\) does not fit input '\w+' "
                       r'\[1, 3, 128, 128\] of .*int8.onnx'):
        det.infer(np.zeros((1, 3, 96, 96), np.float32))
    with pytest.raises(RuntimeInputError,
                       match=r'\(2, 3, 128, 128\) does not fit'):
        det.infer(np.zeros((2, 3, 128, 128), np.float32))
    with pytest.raises(RuntimeInputError, match='dtype float64 does not fit'):
        det.infer(np.zeros((1, 3, 128, 128)))


def test_quantize_tool_writes_and_evaluates_int8(tiny, tmp_path):
    """The INT8-vs-fp32 mAP command: every (method, head) model written,
    then PyTorch, fp32 ONNX and the INT8 models evaluated in one pass; the
    INT8 files run with the demo like any ONNX model."""
    from tools.demo import main as demo
    from tools.quantize import main
    out = str(tmp_path / 'q.onnx')
    res = main([
        tiny.cfg_file, tiny.ckpt, '--calib-dir',
        osp.join(tiny.data, 'train'), '--num-calib', '2', '--out', out,
        '--head-last', 'fp32', 'int8', '--dynamic', '--input-format',
        'normalized', '--eval', 'tensor', '--eval-out',
        str(tmp_path / 'r.json')
    ])
    names = ['int8_minmax_head-fp32', 'int8_minmax_head-int8']
    assert sorted(res['int8']) == names
    assert res['int8'][names[0]]['num_images'] == 2
    files = [res['int8'][n]['file'] for n in names]
    assert [osp.basename(f) for f in files] == [
        'q_minmax_head-fp32.onnx', 'q_minmax_head-int8.onnx'
    ]
    metrics = res['metrics']
    assert set(metrics) >= {'onnx', 'pytorch', *names}
    assert metrics['labels_identical']  # fp32 graph == PyTorch
    assert metrics['onnx']['coco/bbox_mAP'] == pytest.approx(
        metrics['pytorch']['coco/bbox_mAP'], abs=1e-3)
    assert json.load(open(tmp_path / 'r.json'))['fp32'] == res['fp32']
    result = demo([tiny.img, tiny.cfg_file, files[1], '--backend',
                   'onnxruntime', '--out-file', str(tmp_path / 'o.jpg')])
    ref = ONNXRuntimeDetector(files[1])(tiny.img)
    np.testing.assert_array_equal(result.pred_instances.bboxes.numpy(),
                                  ref['bboxes'])
