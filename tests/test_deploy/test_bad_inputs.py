"""Clear errors for inputs the deployment tools cannot use."""
import copy
import os.path as osp

import numpy as np
import pytest

from centerx_mm.apis import (ONNXRuntimeDetector, OpenCVCaffeDetector,
                             RuntimeInputError, load_image)
from centerx_mm.deploy import (CenterXExportModel, ExportError,
                               check_exportable, deploy_settings, export_onnx)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def static_onnx(tiny, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('bad') / 'static.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg))
    return out


def test_dcn_export_fails_naming_the_layer(tiny, tmp_path):
    from centerx_mm.registry import MODELS
    cfg = copy.deepcopy(tiny.cfg)
    cfg.model.neck.use_dcn = True
    model = MODELS.build(cfg.model).eval()
    with pytest.raises(ExportError) as err:
        check_exportable(model)
    msg = str(err.value)
    assert 'neck.deconv_layers.0.conv (mmcv.ops.modulated_deform_conv.' \
        'ModulatedDeformConv2dPack)' in msg
    assert 'neck.deconv_layers.2.conv' in msg and 'use_dcn=False' in msg
    with pytest.raises(ExportError, match='neck.deconv_layers.0.conv'):
        export_onnx(model, str(tmp_path / 'dcn.onnx'),
                    deploy_settings(tiny.cfg))
    assert not (tmp_path / 'dcn.onnx').exists()


def test_deploy_tool_refuses_dcn_before_mmdeploy(tiny, tmp_path):
    import torch

    from centerx_mm.registry import MODELS
    from tools.deploy import main
    cfg = copy.deepcopy(tiny.cfg)
    cfg.model.neck.use_dcn = True
    cfg_file = str(tmp_path / 'dcn_cfg.py')
    cfg.dump(cfg_file)
    ckpt = str(tmp_path / 'dcn.pth')  # a checkpoint that fits the config
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, ckpt)
    with pytest.raises(ExportError, match='ModulatedDeformConv2dPack'):
        main([
            osp.join(REPO, 'configs/deploy/centerx_onnxruntime_dynamic.py'),
            cfg_file, ckpt, tiny.img, '--work-dir',
            str(tmp_path / 'w')
        ])


@pytest.mark.parametrize('tool', ['export_onnx', 'export_caffe', 'deploy'])
def test_missing_checkpoint(tiny, tmp_path, tool):
    missing = str(tmp_path / 'nope.pth')
    argv = {
        'export_onnx': [tiny.cfg_file, missing, '--out', 'x.onnx'],
        'export_caffe': [tiny.cfg_file, missing, '--out', 'x'],
        'deploy': [
            osp.join(REPO, 'configs/deploy/centerx_onnxruntime_dynamic.py'),
            tiny.cfg_file, missing, tiny.img, '--work-dir', str(tmp_path)
        ],
    }[tool]
    module = __import__(f'tools.{tool}', fromlist=['main'])
    with pytest.raises(FileNotFoundError, match='checkpoint not found: .*'
                       'nope.pth'):
        module.main(argv)


def test_unreadable_image(tiny, tmp_path, static_onnx):
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'not an image at all')
    with pytest.raises(RuntimeInputError, match='cannot decode image .*'
                       'broken.png'):
        ONNXRuntimeDetector(static_onnx)(str(bad))
    with pytest.raises(FileNotFoundError, match='image not found: .*gone'):
        load_image(str(tmp_path / 'gone.jpg'))
    with pytest.raises(RuntimeInputError, match=r'shape \(8, 8\)'):
        load_image(np.zeros((8, 8), np.uint8))
    from tools.demo import main as demo
    with pytest.raises(IOError, match='broken.png'):
        demo([str(bad), tiny.cfg_file, static_onnx, '--backend',
              'onnxruntime', '--out-file', str(tmp_path / 'o.jpg')])


def test_onnx_input_shape_that_does_not_fit(static_onnx):
    det = ONNXRuntimeDetector(static_onnx)
    assert det.input_bhw == (1, 128, 128)
    with pytest.raises(RuntimeInputError,
                       match=r"\(1, 3, 96, 128\) does not fit input 'input' "
                       r'\[1, 3, 128, 128\]'):
        det.infer(np.zeros((1, 3, 96, 128), np.float32))
    with pytest.raises(RuntimeInputError, match='dtype uint8 does not fit'):
        det.infer(np.zeros((1, 3, 128, 128), np.uint8))
    with pytest.raises(RuntimeInputError, match='does not fit'):
        det.infer(np.zeros((1, 1, 128, 128), np.float32))


def test_dynamic_input_must_be_multiple_of_stride(tiny, tmp_path):
    out = str(tmp_path / 'dyn.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg), dynamic=True)
    with pytest.raises(RuntimeInputError, match='multiples of 32'):
        ONNXRuntimeDetector(out).infer(np.zeros((1, 3, 100, 96), np.float32))


def test_onnx_without_metadata_or_missing(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                      [1, 3, 4, 4])
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3, 4, 4])
    plain = str(tmp_path / 'plain.onnx')
    onnx.save(
        helper.make_model(
            helper.make_graph([helper.make_node('Relu', ['input'], ['y'])],
                              'g', [x], [y]),
            opset_imports=[helper.make_opsetid('', 11)], ir_version=8),
        plain)
    with pytest.raises(RuntimeInputError, match='no centerx.* metadata'):
        ONNXRuntimeDetector(plain)
    with pytest.raises(FileNotFoundError, match='ONNX file not found'):
        ONNXRuntimeDetector(str(tmp_path / 'none.onnx'))
    (tmp_path / 'junk.onnx').write_bytes(b'\x00garbage')
    with pytest.raises(RuntimeInputError, match='cannot load'):
        ONNXRuntimeDetector(str(tmp_path / 'junk.onnx'))
    with pytest.raises(FileNotFoundError, match='Caffe file not found'):
        OpenCVCaffeDetector(str(tmp_path / 'a.prototxt'),
                            str(tmp_path / 'a.caffemodel'))


def test_export_argument_errors(tiny, tmp_path):
    with pytest.raises(ValueError, match='TensorRT needs 0 < K < 3840'):
        CenterXExportModel(tiny.model, topk=4000)
    with pytest.raises(ValueError, match="mode='boxes'"):
        CenterXExportModel(tiny.model, mode='boxes')
    with pytest.raises(ExportError, match='multiple of pad_size_divisor=32'):
        export_onnx(tiny.model, str(tmp_path / 'x.onnx'),
                    deploy_settings(tiny.cfg), input_hw=(100, 128))


def test_config_without_resize_needs_dynamic_or_shape(tiny, tmp_path):
    cfg = copy.deepcopy(tiny.cfg)
    cfg.test_dataloader.dataset.pipeline = [
        t for t in cfg.test_dataloader.dataset.pipeline
        if t['type'] != 'Resize'
    ]
    settings = deploy_settings(cfg)
    assert settings['pipeline']['steps'] == []
    with pytest.raises(ExportError, match='no fixed output size'):
        export_onnx(tiny.model, str(tmp_path / 'x.onnx'), settings)
