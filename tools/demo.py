"""Detect objects in one image and save a picture with the boxes.

    python tools/demo.py IMG CONFIG CHECKPOINT --out-file out.jpg
                         [--score-thr 0.3] [--device cpu]
    python tools/demo.py IMG CONFIG MODEL.onnx --backend onnxruntime|openvino
                         --out-file out.jpg [--score-thr 0.3]

With ``--backend onnxruntime`` or ``openvino`` the model is a
``tools/export_onnx.py`` (fp32) or ``tools/quantize.py`` (INT8) file run by
``centerx_mm.apis.build_detector`` (the test pipeline it carries, the
runtime, boxes mapped back to the image); CONFIG only supplies the
visualizer.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import mmcv  # noqa: E402
from mmdet.apis import inference_detector  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from centerx_mm.checkpoint import refuse_remote  # noqa: E402
from centerx_mm.datasets.checks import image_problem  # noqa: E402
from centerx_mm.models.utils import build_trained_detector  # noqa: E402
from centerx_mm.registry import VISUALIZERS  # noqa: E402
from centerx_mm.utils import register_all_modules  # noqa: E402
from tools.train import load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='centerx_mm image demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint', help='checkpoint file (.onnx for onnxruntime)')
    parser.add_argument(
        '--out-file', required=True, help='where to save the drawing')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--backend', choices=['pytorch', 'onnxruntime', 'openvino'],
        default='pytorch')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    return parser.parse_args(argv)


def run_exported(onnx_file: str, img: str, backend: str = 'onnxruntime'):
    """Detect with ``build_detector(onnx_file, backend)``; returns a
    ``DetDataSample`` (boxes in image pixels) and the dataset meta (classes
    from the model)."""
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from centerx_mm.apis import build_detector
    detector = build_detector(onnx_file, backend)
    out = detector(img)
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.from_numpy(out['bboxes']),
        scores=torch.from_numpy(out['scores']),
        labels=torch.from_numpy(out['labels']))
    return sample, dict(classes=tuple(detector.classes))


def main(argv=None):
    args = parse_args(argv)
    refuse_remote(args.checkpoint)
    for what, path in (('image', args.img), ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} not found: {path}')
    img = cv2.imread(args.img, cv2.IMREAD_COLOR)  # None if undecodable
    if img is None:
        raise IOError(f'cannot decode image {args.img}')
    if image_problem(img.shape):
        raise ValueError(f'{args.img}: {image_problem(img.shape)}')
    img = mmcv.bgr2rgb(img)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    if args.backend != 'pytorch':
        result, dataset_meta = run_exported(args.checkpoint, args.img,
                                            args.backend)
    else:
        model = build_trained_detector(cfg, args.checkpoint, args.device)
        result = inference_detector(model, args.img)
        dataset_meta = model.dataset_meta

    visualizer = VISUALIZERS.build(cfg.visualizer)
    visualizer.dataset_meta = dataset_meta
    visualizer.add_datasample(
        'result',
        img,
        data_sample=result,
        draw_gt=False,
        show=False,
        pred_score_thr=args.score_thr,
        out_file=args.out_file)
    keep = result.pred_instances.scores > args.score_thr
    print(f'{int(keep.sum())} boxes with score > {args.score_thr} '
          f'drawn into {args.out_file}')
    return result


if __name__ == '__main__':
    main()
