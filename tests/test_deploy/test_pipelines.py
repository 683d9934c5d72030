"""Every kind of test pipeline exports and runs as mmdet runs it: the
ONNX Runtime runner's boxes are PyTorch ``predict``'s (mmdet
``inference_detector`` with the config's test pipeline) to 1e-3 px, for
keep-ratio resize (+ data preprocessor padding), keep-ratio resize + ``Pad``,
plain resize, and ``RandomCenterCropPad`` (``border``, the COCO configs)."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from centerx_mm.apis import (ONNXRuntimeDetector, apply_pipeline,
                             evaluate_onnx, rescale_dets)
from centerx_mm.deploy import ExportError, deploy_settings, export_onnx
from centerx_mm.deploy.export import default_input_hw
from centerx_mm.structures import restore_boxes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACK = dict(
    type='PackDetInputs',
    meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
               'scale_factor', 'border'))
LOAD = dict(type='LOAD')  # -> the config's own loading transform
ANN = dict(type='LoadAnnotations', with_bbox=True)
# the COCO configs' test pipeline (configs/_base_/datasets/coco_detection.py)
CENTER_PAD = dict(
    type='RandomCenterCropPad', ratios=None, border=None, mean=[0, 0, 0],
    std=[1, 1, 1], to_rgb=True, test_mode=True,
    test_pad_mode=['logical_or', 31], test_pad_add_pix=1)
PIPELINES = {
    'keep_ratio': [LOAD, dict(type='Resize', scale=(128, 128),
                              keep_ratio=True), ANN, PACK],
    'keep_ratio_pad': [
        LOAD, dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='Pad', size=(128, 128), pad_val=dict(img=114)), ANN, PACK
    ],
    'plain_resize': [LOAD, dict(type='Resize', scale=(128, 96)), ANN, PACK],
    'center_pad': [dict(LOAD, to_float32=True), CENTER_PAD, ANN, PACK],
    'center_pad_mean_fill': [
        dict(LOAD, to_float32=True),
        dict(CENTER_PAD, mean=[123.675, 116.28, 103.53]), ANN, PACK
    ],
}


def resolve(cfg, pipeline):
    """``pipeline`` with ``LOAD`` replaced by the config's loader type."""
    load = cfg.test_dataloader.dataset.pipeline[0]['type']
    return [dict(t, type=load) if t['type'] == 'LOAD' else t
            for t in pipeline]


def with_pipeline(cfg, pipeline):
    cfg = copy.deepcopy(cfg)
    pipeline = resolve(cfg, pipeline)
    cfg.test_dataloader.dataset.pipeline = pipeline
    cfg.val_dataloader.dataset.pipeline = pipeline
    return cfg


def images(tiny, num=2):
    return sorted(glob.glob(osp.join(tiny.data, 'val', '*.png')))[:num]


@pytest.mark.parametrize('kind', sorted(PIPELINES))
def test_runtime_boxes_equal_pytorch_predict(tiny, tmp_path, kind):
    from mmdet.apis import inference_detector
    cfg = with_pipeline(tiny.cfg, PIPELINES[kind])
    out = str(tmp_path / f'{kind}.onnx')
    export_onnx(tiny.model, out, deploy_settings(cfg), dynamic=True,
                input_format='uint8' if kind == 'center_pad' else
                'normalized')
    runner = ONNXRuntimeDetector(out)
    tiny.model.cfg = cfg
    for img in images(tiny):
        ours = runner(img)
        ref_sample = inference_detector(tiny.model, img)
        ref = ref_sample.pred_instances
        np.testing.assert_allclose(ours['bboxes'], ref.bboxes.numpy(),
                                   atol=1e-3)
        np.testing.assert_allclose(ours['scores'], ref.scores.numpy(),
                                   atol=1e-5)
        assert (ours['labels'] == ref.labels.numpy()).all()
        if kind.startswith('center_pad'):  # the border really was undone
            top, _, left, _ = ref_sample.metainfo['border']
            assert top > 0 and left > 0
            assert 'scale_factor' not in ref_sample.metainfo


def test_pipeline_steps_equal_mmdet_transforms(tiny):
    """:func:`apply_pipeline` gives mmdet's image and geometry meta."""
    from mmengine.dataset import Compose

    from centerx_mm.apis import load_image
    img_file = images(tiny, 1)[0]
    for kind, pipeline in PIPELINES.items():
        mm = Compose([t for t in resolve(tiny.cfg, pipeline)
                      if t['type'] not in ('LoadAnnotations',
                                           'PackDetInputs')])(
                dict(img_path=img_file, img_id=0))
        spec = deploy_settings(with_pipeline(tiny.cfg, pipeline))['pipeline']
        ours, meta = apply_pipeline(load_image(img_file), spec)
        assert ours.dtype == mm['img'].dtype or kind.startswith('center')
        np.testing.assert_array_equal(ours, mm['img'], err_msg=kind)
        for key in ('scale_factor', 'border'):
            if key in mm:
                np.testing.assert_allclose(meta[key], mm[key], err_msg=kind)
            else:
                assert key not in meta, kind


def test_center_pad_evaluation_equals_pytorch(tiny, tmp_path):
    """``--eval`` on a COCO-style (border) pipeline: ONNX boxes and mAP are
    PyTorch's, fed with the test tensors and with image files."""
    cfg = with_pipeline(tiny.cfg, PIPELINES['center_pad'])
    out = str(tmp_path / 'cp.onnx')
    export_onnx(tiny.model, out, deploy_settings(cfg), dynamic=True)
    res = evaluate_onnx(cfg, out, tiny.ckpt, feed='tensor')
    assert res['labels_identical'] and res['max_abs_diff_dets'] <= 1e-3
    runtime = evaluate_onnx(cfg, out, tiny.ckpt, feed='runtime')
    for r in (res, runtime):
        assert abs(r['onnx']['coco/bbox_mAP'] -
                   r['pytorch']['coco/bbox_mAP']) <= 1e-3
    assert res['pytorch']['coco/bbox_mAP'] == \
        runtime['pytorch']['coco/bbox_mAP']


def test_coco_configs_export_settings():
    for name in ('centerx_r18_140e_coco.py', 'centerx_r50_140e_coco.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'centerx', name))
        settings = deploy_settings(cfg)
        assert settings['pipeline'] == dict(
            to_float32=True,
            steps=[dict(type='center_pad', mode='logical_or', value=31,
                        add_pix=1, fill=[0.0, 0.0, 0.0])])
        assert settings['test_scale'] is None
        assert len(settings['classes']) == 80 or not settings['classes']
        with pytest.raises(ExportError, match='--dynamic'):
            default_input_hw(settings)


def test_export_tool_and_demo_on_center_pad_config(tiny, tmp_path):
    from tools.demo import main as demo
    from tools.export_onnx import main as export
    cfg_file = str(tmp_path / 'cp_cfg.py')
    with_pipeline(tiny.cfg, PIPELINES['center_pad']).dump(cfg_file)
    out = str(tmp_path / 'cp.onnx')
    with pytest.raises(ExportError, match='RandomCenterCropPad.*--dynamic'):
        export([cfg_file, tiny.ckpt, '--out', out])
    export([cfg_file, tiny.ckpt, '--out', out, '--dynamic'])
    img = images(tiny, 1)[0]
    result = demo([img, cfg_file, out, '--backend', 'onnxruntime',
                   '--out-file', str(tmp_path / 'o.jpg')])
    ref = ONNXRuntimeDetector(out)(img)
    np.testing.assert_array_equal(result.pred_instances.bboxes.numpy(),
                                  ref['bboxes'])
    assert osp.isfile(str(tmp_path / 'o.jpg'))
    # a static size: the canvas is the input, the image centred on it
    static = str(tmp_path / 'cp_static.onnx')
    export([cfg_file, tiny.ckpt, '--out', static, '--shape', '256', '256'])
    det = ONNXRuntimeDetector(static)
    batch, metas = det.preprocess([np.zeros((100, 60, 3), np.uint8)])
    assert batch.shape == (1, 3, 256, 256)
    assert metas[0]['border'] == (78, 178, 98, 158)
    with pytest.raises(Exception, match=r'300x60 .* does not fit .* 256x256'):
        det.preprocess([np.zeros((300, 60, 3), np.uint8)])


def test_untranslatable_transforms_are_named(tiny):
    bad = {
        "#1 'RandomFlip' has no runtime equivalent": [
            LOAD, dict(type='RandomFlip', prob=0.5), PACK],
        'Resize after padding': [
            LOAD, dict(type='Pad', size_divisor=32),
            dict(type='Resize', scale=(64, 64)), PACK],
        'random crop': [dict(LOAD, to_float32=True), dict(
            CENTER_PAD, test_mode=False, crop_size=(64, 64),
            test_pad_mode=None), PACK],
        'scale_factor': [LOAD, dict(type='Resize', scale_factor=0.5), PACK],
        "padding_mode='edge'": [
            LOAD, dict(type='Pad', size_divisor=32, padding_mode='edge')],
    }
    for match, pipeline in bad.items():
        with pytest.raises(ExportError, match=match):
            deploy_settings(with_pipeline(tiny.cfg, pipeline))


def test_restore_boxes_border_pad_param_numpy_and_torch():
    boxes = np.array([[10., 20., 50., 300.]], np.float32)
    meta = dict(border=(8, 108, 4, 104), ori_shape=(100, 100))
    np.testing.assert_allclose(
        restore_boxes(boxes.copy(), meta), [[6., 12., 46., 100.]])
    meta = dict(pad_param=(8, 8, 4, 4), scale_factor=(2., 4.),
                ori_shape=(50, 40))
    np.testing.assert_allclose(
        restore_boxes(boxes.copy(), meta), [[3., 3., 23., 50.]])
    np.testing.assert_allclose(
        restore_boxes(torch.from_numpy(boxes.copy()), meta).numpy(),
        [[3., 3., 23., 50.]])
    dets = np.array([[10., 20., 50., 300., .9], [0, 0, 1, 1, .1]],
                    np.float32)
    out = rescale_dets(dets, np.array([3, 1]), meta, score_thr=0.5)
    np.testing.assert_allclose(out['bboxes'], [[3., 3., 23., 50.]])
    assert out['labels'].tolist() == [3]
