"""Caffe export, loaded back with OpenCV 4.x's Caffe importer."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from centerx_mm.deploy import ExportError, deploy_settings
from centerx_mm.deploy.caffe import (_caffe_pool_size, _Converter, caffe_pb2,
                                     compare_caffe_with_pytorch, export_caffe)
from tests.test_deploy.conftest import check_caffe_dets


@pytest.fixture(scope='module')
def caffe_files(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp('caffe')
    prototxt, caffemodel = str(out / 'net.prototxt'), str(
        out / 'net.caffemodel')
    runtime = export_caffe(tiny.model, deploy_settings(tiny.cfg), prototxt,
                           caffemodel)
    return prototxt, caffemodel, runtime


def test_caffe_layers_and_files(caffe_files):
    from google.protobuf import text_format
    prototxt, caffemodel, runtime = caffe_files
    assert runtime['layer_types'] == [
        'BatchNorm', 'Convolution', 'Crop', 'Deconvolution', 'Eltwise',
        'Input', 'Pooling', 'ReLU', 'Scale', 'Sigmoid'
    ]
    assert runtime['input_bhw'] == [1, 128, 128]
    net = text_format.Parse(open(prototxt).read(), caffe_pb2().NetParameter())
    assert all(len(layer.blobs) == 0 for layer in net.layer)
    deconv = [layer for layer in net.layer if layer.type == 'Deconvolution']
    assert len(deconv) == 3
    p = deconv[0].convolution_param
    assert (p.kernel_h, p.stride_h, p.pad_h) == (4, 2, 1)
    binary = caffe_pb2().NetParameter.FromString(open(caffemodel,
                                                      'rb').read())
    bn = [layer for layer in binary.layer if layer.type == 'BatchNorm'][0]
    assert len(bn.blobs) == 3 and list(bn.blobs[2].data) == [1.0]
    # ResNet's 3x3/2 max-pool: Caffe rounds up (33), PyTorch down (32)
    assert _caffe_pool_size(64, 3, 2, 1) == 33
    assert _caffe_pool_size(64, 2, 2, 0) == 32  # the Crop reference
    tops = [layer.top[0] for layer in binary.layer]
    assert {'heatmap', 'heatmap_max', 'wh', 'offset'} <= set(tops)


def test_opencv_caffe_head_outputs_match_pytorch(tiny, caffe_files):
    prototxt, caffemodel, _ = caffe_files
    x = np.random.RandomState(0).randn(1, 3, 128, 128).astype(np.float32)
    diffs = compare_caffe_with_pytorch(tiny.model, prototxt, caffemodel, x)
    assert set(diffs) == {'heatmap_logits', 'wh', 'offset', 'heatmap'}
    assert max(diffs.values()) <= 1e-3, diffs


def test_caffe_detector_numpy_postprocess_matches_pytorch(tiny, caffe_files):
    prototxt, caffemodel, _ = caffe_files
    check_caffe_dets(tiny.model, prototxt, caffemodel, tiny.img, 11)


def test_unsupported_op_is_named():
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3, 16, 16])
    scales = helper.make_tensor('s', TensorProto.FLOAT, [4], [1, 1, 2, 2])
    node = helper.make_node('Resize', ['x', '', 's'], ['y'], name='up1',
                            mode='nearest')
    model = helper.make_model(
        helper.make_graph([node], 'g', [x], [y], initializer=[scales]),
        opset_imports=[helper.make_opsetid('', 11)])
    with pytest.raises(ExportError, match="Resize node 'up1'"):
        _Converter(model, 'data').convert()


def test_export_caffe_tool_checks_several_images(tiny, tmp_path):
    """The tool's check over several images (one OpenCV net per output
    list: reusing one net with changing outputs corrupts it in OpenCV)."""
    import glob
    import os.path as osp

    from tools.export_caffe import main
    images = sorted(glob.glob(osp.join(tiny.data, 'val', '*.png')))[:3]
    res = main([tiny.cfg_file, tiny.ckpt, '--out', str(tmp_path / 'net'),
                '--img', *images, '--score-thr', '0.2'])
    assert res['num_images'] == 3
    assert max(res['max_abs_diff'].values()) <= 1e-3
    assert res['dets_identical'] and res['caffe_dets'] == res['pytorch_dets']
    assert res['max_abs_diff_bboxes'] <= 1e-3
