"""The TTF (ltrb) head through every export path of the one decode: ONNX
dets and sparse graphs, the ONNX Runtime runner, mmdeploy and the TensorRT
operator check."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

from centerx_mm.apis import ONNXRuntimeDetector, match_dets, sparse_to_dets
from centerx_mm.deploy import deploy_settings, export_onnx
from centerx_mm.deploy.trt_check import check_tensorrt_graph
from centerx_mm.models.utils.decode import centerx_sparse, decode_head_outputs
from tests.test_deploy.conftest import check_caffe_dets

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tiny_ttf(tiny, tmp_path_factory):
    from centerx_mm.registry import MODELS
    root = tmp_path_factory.mktemp('ttf')
    cfg = Config.fromfile(tiny.cfg_file)
    cfg.model.bbox_head = dict(
        type='CenterXTTFHead', num_classes=4, in_channels=16,
        feat_channels=16)
    cfg_file = str(root / 'tiny_ttf.py')
    cfg.dump(cfg_file)
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # non-degenerate outputs: boxes of a few cells
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
        model.bbox_head.ltrb_head[-1].weight.normal_(0, 0.05)
        model.bbox_head.ltrb_head[-1].bias.uniform_(0.2, 1.5)
        model.bbox_head.heatmap_head[-1].weight.normal_(0, 0.5)
    model.eval()
    ckpt = str(root / 'tiny_ttf.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    return SimpleNamespace(cfg=cfg, cfg_file=cfg_file, model=model,
                           ckpt=ckpt, img=tiny.img)


def run(onnx_file, x):
    sess = ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider'])
    return sess.run(None, {'input': x})


def test_ttf_dets_graph_matches_pytorch(tiny_ttf, tmp_path):
    out = str(tmp_path / 'ttf.onnx')
    export_onnx(tiny_ttf.model, out, deploy_settings(tiny_ttf.cfg),
                dynamic=True)
    assert check_tensorrt_graph(out, '8.6') == []
    assert check_tensorrt_graph(out, '10.1') == []
    rng = np.random.RandomState(0)
    for shape in ((1, 3, 128, 128), (2, 3, 64, 96)):
        x = rng.randn(*shape).astype(np.float32)
        dets, labels = run(out, x)
        with torch.no_grad():
            maps = tiny_ttf.model(torch.from_numpy(x), mode='tensor')
            ref_dets, ref_labels = decode_head_outputs(maps, shape[2:])
        assert len(maps) == 2 and maps[1].shape[1] == 4  # heat, ltrb
        match = match_dets(dets, labels, ref_dets.numpy(),
                           ref_labels.numpy())
        assert match['max_abs_diff'] <= 1e-3 and match['labels_identical']
        widths = dets[..., 2] - dets[..., 0]
        assert widths.min() >= 0 and widths.max() > 4


def test_ttf_sparse_graph_and_numpy_scan(tiny_ttf, tmp_path):
    out = str(tmp_path / 'ttf_sparse.onnx')
    export_onnx(tiny_ttf.model, out, deploy_settings(tiny_ttf.cfg),
                mode='sparse')
    assert [o.name for o in onnx.load(out).graph.output] == [
        'heatmap', 'ltrb'
    ]
    x = np.random.RandomState(2).randn(1, 3, 128, 128).astype(np.float32)
    heat, ltrb = run(out, x)
    with torch.no_grad():
        maps = tiny_ttf.model(torch.from_numpy(x), mode='tensor')
    np.testing.assert_allclose(heat, centerx_sparse(maps[0]).numpy(),
                               atol=1e-5)
    thr = float(np.sort(heat.reshape(-1))[-13])  # 12 cells above it
    dets, labels = sparse_to_dets(heat[0], ltrb[0], None, (128, 128), thr)
    ref_dets, ref_labels = decode_head_outputs(maps, (128, 128), topk=12)
    assert len(dets) == 12
    np.testing.assert_allclose(dets, ref_dets[0].numpy(), atol=1e-3)
    assert (labels == ref_labels[0].numpy()).all()


def test_ttf_runtime_matches_mmdet_inference(tiny_ttf, tmp_path):
    from mmdet.apis import inference_detector
    out = str(tmp_path / 'ttf_rt.onnx')
    export_onnx(tiny_ttf.model, out, deploy_settings(tiny_ttf.cfg),
                dynamic=True)
    ours = ONNXRuntimeDetector(out)(tiny_ttf.img)
    tiny_ttf.model.cfg = tiny_ttf.cfg
    ref = inference_detector(tiny_ttf.model, tiny_ttf.img).pred_instances
    np.testing.assert_allclose(ours['bboxes'], ref.bboxes.numpy(), atol=1e-3)
    assert (ours['labels'] == ref.labels.numpy()).all()


def test_ttf_through_mmdeploy(tiny_ttf, tmp_path):
    from tools.deploy import main
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        report = main([
            osp.join(REPO, 'configs/deploy/centerx_onnxruntime_dynamic.py'),
            tiny_ttf.cfg_file, tiny_ttf.ckpt, tiny_ttf.img, '--work-dir',
            str(tmp_path / 'work')
        ])
    assert [o.name for o in onnx.load(report['onnx']).graph.output] == [
        'dets', 'labels'
    ]
    assert report['max_abs_diff_bboxes_vs_pytorch'] <= 1e-3
    assert report['labels_identical']


def test_ttf_caffe_export_power_layer_matches_pytorch(tiny_ttf, tmp_path):
    """``relu(conv) * ltrb_scale`` -> Caffe ReLU + Power (scale); OpenCV's
    Caffe importer gives the PyTorch maps and, with the numpy decode, the
    PyTorch boxes."""
    from centerx_mm.deploy.caffe import (caffe_pb2,
                                         compare_caffe_with_pytorch,
                                         export_caffe)
    prototxt = str(tmp_path / 'ttf.prototxt')
    caffemodel = str(tmp_path / 'ttf.caffemodel')
    runtime = export_caffe(tiny_ttf.model, deploy_settings(tiny_ttf.cfg),
                           prototxt, caffemodel)
    assert 'Power' in runtime['layer_types']
    assert runtime['outputs'] == ['heatmap', 'heatmap_max', 'ltrb']
    net = caffe_pb2().NetParameter.FromString(open(caffemodel, 'rb').read())
    power = [layer for layer in net.layer if layer.type == 'Power']
    assert len(power) == 1 and power[0].power_param.scale == \
        tiny_ttf.model.bbox_head.ltrb_scale
    x = np.random.RandomState(3).randn(1, 3, 128, 128).astype(np.float32)
    diffs = compare_caffe_with_pytorch(tiny_ttf.model, prototxt, caffemodel,
                                       x)
    assert set(diffs) == {'heatmap_logits', 'ltrb', 'heatmap'}
    assert max(diffs.values()) <= 1e-3, diffs
    check_caffe_dets(tiny_ttf.model, prototxt, caffemodel, tiny_ttf.img, 8)
