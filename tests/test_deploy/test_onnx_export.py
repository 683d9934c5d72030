"""ONNX export with the decode in the graph vs PyTorch (ONNX Runtime)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from centerx_mm.apis import (ONNXRuntimeDetector, evaluate_onnx, match_dets,
                             sparse_to_dets)
from centerx_mm.deploy import deploy_settings, export_onnx
from centerx_mm.deploy.trt_check import check_tensorrt_graph
from centerx_mm.models.utils.decode import (centerx_decode, centerx_peaks,
                                            centerx_sparse)


def run(onnx_file, x):
    sess = ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider'])
    return sess.run(None, {'input': x})


def test_match_dets_tolerates_only_near_tie_swaps():
    ref = np.array([[[0, 0, 4, 4, .9], [8, 8, 9, 9, .5], [1, 1, 2, 2, .5]]],
                   np.float32)
    ref_labels = np.array([[1, 0, 2]])
    swapped = ref[:, [0, 2, 1]]  # equal scores: order not defined
    out = match_dets(swapped, ref_labels[:, [0, 2, 1]], ref, ref_labels)
    assert out == dict(max_abs_diff=0.0, labels_identical=True, swapped=2)
    wrong = ref.copy()
    wrong[0, 0, 4] = .8  # a real score difference is not forgiven
    out = match_dets(wrong, ref_labels, ref, ref_labels)
    assert not out['labels_identical']
    assert out['max_abs_diff'] == pytest.approx(.1)


def torch_dets(model, x, topk=100):
    with torch.no_grad():
        heat, wh, off = model(torch.from_numpy(x), mode='tensor')
        return centerx_decode(heat, wh, off, x.shape[2:], topk)


def test_dynamic_dets_match_pytorch(tiny, tmp_path):
    out = str(tmp_path / 'dyn.onnx')
    meta = export_onnx(tiny.model, out, deploy_settings(tiny.cfg),
                       dynamic=True)
    assert meta['centerx.classes'] == \
        '["ring", "star", "cross", "triangle"]'
    assert meta['centerx.stride'] == '4'
    rng = np.random.RandomState(0)
    for shape in ((1, 3, 128, 128), (2, 3, 64, 96)):  # one graph, 2 shapes
        x = rng.randn(*shape).astype(np.float32)
        dets, labels = run(out, x)
        ref_dets, ref_labels = torch_dets(tiny.model, x)
        assert dets.shape == (shape[0], 100, 5)
        match = match_dets(dets, labels, ref_dets.numpy(),
                           ref_labels.numpy())
        assert match['max_abs_diff'] <= 1e-3 and match['labels_identical']
        # boxes are real boxes: 2..6 cells wide -> 8..24 px at stride 4
        widths = dets[..., 2] - dets[..., 0]
        assert widths.min() > 4 and widths.max() < 30


def test_uint8_in_graph_preprocessing_matches_data_preprocessor(tiny,
                                                                tmp_path):
    """BGR uint8 in, flip + mean/std in the graph == mmdet's
    DetDataPreprocessor (bgr_to_rgb, mean/std) followed by PyTorch."""
    from centerx_mm.registry import MODELS
    out = str(tmp_path / 'u8.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg),
                input_format='uint8')
    img = np.random.RandomState(1).randint(0, 256, (1, 3, 128, 128),
                                           dtype=np.uint8)
    dets, labels = run(out, img)
    pre = MODELS.build(tiny.cfg.model.data_preprocessor)
    normed = pre(dict(inputs=[torch.from_numpy(img[0])]),
                 False)['inputs'].numpy()
    ref_dets, ref_labels = torch_dets(tiny.model, normed)
    match = match_dets(dets, labels, ref_dets.numpy(), ref_labels.numpy())
    assert match['max_abs_diff'] <= 1e-3 and match['labels_identical']
    graph = onnx.load(out).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert check_tensorrt_graph(out, '8.6') == []
    assert check_tensorrt_graph(out, '10.1') == []


def test_sparse_mode_and_numpy_scan(tiny, tmp_path):
    out = str(tmp_path / 'sparse.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg), mode='sparse')
    x = np.random.RandomState(2).randn(1, 3, 128, 128).astype(np.float32)
    heat, wh, off = run(out, x)
    with torch.no_grad():
        ref_heat, ref_wh, ref_off = tiny.model(torch.from_numpy(x),
                                               mode='tensor')
    np.testing.assert_allclose(heat, centerx_sparse(ref_heat).numpy(),
                               atol=1e-5)
    assert (heat > 0).sum() < heat.size / 4  # zero except at peaks
    # Scanning a threshold gives the boxes the top-k decode gives.
    thr = float(np.sort(heat.reshape(-1))[-20])  # 19 cells above it
    dets, labels = sparse_to_dets(heat[0], wh[0], off[0], (128, 128), thr)
    ref_dets, ref_labels = centerx_decode(ref_heat, ref_wh, ref_off,
                                          (128, 128), topk=len(dets))
    assert len(dets) == 19
    np.testing.assert_allclose(dets, ref_dets[0].numpy(), atol=1e-3)
    assert (labels == ref_labels[0].numpy()).all()


def test_runtime_class_matches_pytorch_inference(tiny, tmp_path):
    """ONNXRuntimeDetector on a non-square image == mmdet inference with the
    test pipeline (keep-ratio resize, pad to 32, rescale, clip)."""
    from mmdet.apis import inference_detector
    out = str(tmp_path / 'rt.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg), dynamic=True)
    ours = ONNXRuntimeDetector(out)(tiny.img)
    tiny.model.cfg = tiny.cfg
    ref = inference_detector(tiny.model, tiny.img).pred_instances
    np.testing.assert_allclose(ours['bboxes'], ref.bboxes.numpy(), atol=1e-3)
    np.testing.assert_allclose(ours['scores'], ref.scores.numpy(), atol=1e-5)
    assert (ours['labels'] == ref.labels.numpy()).all()


def test_evaluate_onnx_tensor_feed_equals_pytorch(tiny, tmp_path):
    out = str(tmp_path / 'eval.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg), dynamic=True)
    res = evaluate_onnx(tiny.cfg, out, tiny.ckpt, feed='tensor')
    assert res['labels_identical']
    assert res['max_abs_diff_dets'] <= 1e-3
    assert abs(res['onnx']['coco/bbox_mAP'] -
               res['pytorch']['coco/bbox_mAP']) <= 1e-3


def test_peaks_fp16_where_the_design_notes_trick_fails():
    """The original ``relu(x - maxpool(x) + 1e-9) * 1e9`` loses every peak
    in FP16 (1e-9 underflows to 0) and its 1e9 is inf in FP16 (0 * inf =
    NaN in an FP16 engine); the comparison cast keeps the peaks."""
    s = torch.zeros(1, 1, 6, 6, dtype=torch.float16)
    s[0, 0, 1, 1], s[0, 0, 1, 2], s[0, 0, 4, 4] = 0.9, 0.4, 0.25
    hmax = F.max_pool2d(s, 3, stride=1, padding=1)
    trick = torch.relu(s - hmax + torch.tensor(1e-9, dtype=torch.float16))
    assert trick.max() == 0  # all peaks lost
    big = torch.tensor(1e9, dtype=torch.float16)
    assert torch.isinf(big) and torch.isnan(trick[0, 0, 0, 0] * big)
    peaks = centerx_peaks(s)
    assert peaks.dtype == torch.float16
    assert peaks[0, 0, 1, 1] == s[0, 0, 1, 1] and peaks[0, 0, 4, 4] == \
        s[0, 0, 4, 4]
    assert int((peaks > 0).sum()) == 2


def test_fp16_decode_graph_keeps_fp32_box_math_at_1024px(tmp_path):
    """An FP16 graph (what an FP16 engine computes) decodes in fp32: at a
    1024x1024 input (256x256 maps, 1 fp16 ulp = 0.25-0.5 px at these
    coordinates) its boxes are within 0.05 px of the fp32 graph's, with
    identical labels."""

    class Decode(torch.nn.Module):

        def forward(self, heat, wh, off):
            return centerx_decode(heat, wh, off, (1024, 1024), topk=8)

    torch.manual_seed(0)
    heat = torch.full((1, 3, 256, 256), -6.)
    heat.view(-1)[torch.randperm(3 * 256 * 256)[:8]] = torch.linspace(3, -1, 8)
    wh, off = torch.rand(1, 2, 256, 256) * 40, torch.rand(1, 2, 256, 256)
    outs = {}
    for dtype in (torch.float16, torch.float32):
        # both graphs see the same (fp16-representable) head values
        args = tuple(t.half().to(dtype) for t in (heat, wh, off))
        out = str(tmp_path / f'decode_{dtype}.onnx')
        torch.onnx.export(
            Decode(), args, out, dynamo=False, opset_version=11,
            input_names=['heat', 'wh', 'off'],
            output_names=['dets', 'labels'])
        sess = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
        outs[dtype] = sess.run(
            None, dict(zip(['heat', 'wh', 'off'],
                           [t.numpy() for t in args])))
    dets16, labels16 = outs[torch.float16]
    dets32, labels32 = outs[torch.float32]
    assert dets16.dtype == np.float32 and np.isfinite(dets16).all()
    assert dets32[..., :4].max() > 900  # boxes far out on the input
    assert np.abs(dets16 - dets32).max() <= 0.05
    assert (labels16 == labels32).all()
