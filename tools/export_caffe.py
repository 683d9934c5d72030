"""Export a CenterX checkpoint to Caffe (.prototxt + .caffemodel) and check it
with OpenCV's Caffe importer against PyTorch.

    python tools/export_caffe.py CONFIG CHECKPOINT --out DIR/centerx
        [--shape H W] [--img IMG [IMG ...]] [--score-thr 0.3]
        [--json-out res.json]

Writes ``DIR/centerx.prototxt``, ``DIR/centerx.caffemodel`` and
``DIR/centerx.json`` (runtime settings). Input blob ``data``: (1, 3, H, W)
float32 RGB after mean/std; outputs ``heatmap`` (sigmoid), ``heatmap_max``
(its 3x3 max-pool), ``wh``, ``offset``; peaks and boxes are computed in numpy
(``centerx_mm.apis.OpenCVCaffeDetector``). The check loads the files with
``cv2.dnn.readNetFromCaffe`` (OpenCV 4.x) and prints the max abs difference of
the head outputs to PyTorch on the images (or a random input), and with
images the detections above ``--score-thr`` of both.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='export CenterX to Caffe')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', required=True,
        help='output prefix: PREFIX.prototxt/.caffemodel/.json')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'))
    parser.add_argument('--img', nargs='+', help='image(s) for the check')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--json-out', help='write the check result (json)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from centerx_mm.checkpoint import refuse_remote
    refuse_remote(args.checkpoint)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    import numpy as np

    from centerx_mm.apis import OpenCVCaffeDetector, load_image
    from centerx_mm.deploy import deploy_settings
    from centerx_mm.deploy.caffe import (compare_caffe_with_pytorch,
                                         export_caffe)
    from centerx_mm.models.utils import build_trained_detector
    from centerx_mm.utils import register_all_modules
    from tools.train import load_config
    register_all_modules()
    for img in args.img or []:
        load_image(img)  # clear error before the export
    cfg = load_config(args.config)
    model = build_trained_detector(cfg, args.checkpoint)
    prototxt, caffemodel = args.out + '.prototxt', args.out + '.caffemodel'
    runtime = export_caffe(model, deploy_settings(cfg), prototxt, caffemodel,
                           input_hw=args.shape)
    print(f'saved {prototxt}, {caffemodel} (Caffe layers: '
          f'{", ".join(runtime["layer_types"])})')

    detector = OpenCVCaffeDetector(prototxt, caffemodel)
    if not args.img:
        _, h, w = runtime['input_bhw']
        inputs = np.random.RandomState(0).randn(1, 3, h, w).astype(
            np.float32)
        diffs = compare_caffe_with_pytorch(model, prototxt, caffemodel,
                                           inputs)
        print('max |OpenCV Caffe - PyTorch| (random input): ' +
              ', '.join(f'{k} {v:.3g}' for k, v in diffs.items()))
        result = dict(max_abs_diff=diffs, layer_types=runtime['layer_types'])
    else:
        result = dict(
            layer_types=runtime['layer_types'],
            **check_images(model, detector, prototxt, caffemodel, args.img,
                           args.score_thr))
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


def check_images(model, detector, prototxt, caffemodel, images,
                 score_thr) -> dict:
    """Head outputs and detections of Caffe (OpenCV + numpy) vs PyTorch."""
    import cv2
    import numpy as np
    import torch

    from centerx_mm.apis import load_image, match_dets
    from centerx_mm.deploy.caffe import compare_caffe_with_pytorch
    diffs, box_diff, same, counts = {}, 0.0, True, [0, 0]
    # a second net: one OpenCV net must always be asked for the same outputs
    net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    for img in images:
        inputs, metas = detector.preprocess([load_image(img)])
        img_diffs = compare_caffe_with_pytorch(
            model, prototxt, caffemodel, inputs, net=net)
        for k, v in img_diffs.items():
            diffs[k] = max(diffs.get(k, 0.0), v)
        ours = detector(img, score_thr=score_thr)
        with torch.no_grad():
            maps = model(torch.from_numpy(inputs), mode='tensor')
            meta = dict(metas[0], batch_input_shape=inputs.shape[2:])
            ref = model.bbox_head.predict_by_feat(*maps, [meta])[0]
        ref = ref[ref.scores > score_thr]
        counts[0] += len(ours['scores'])
        counts[1] += len(ref)
        if len(ref) != len(ours['scores']):
            same = False
        elif len(ref):
            # match_dets pairs near-tied detections that the two top-K
            # orders may swap (a position-by-position diff would report the
            # distance between two different objects)
            match = match_dets(
                np.concatenate([ours['bboxes'], ours['scores'][:, None]],
                               1)[None], ours['labels'][None],
                torch.cat([ref.bboxes, ref.scores[:, None]], 1).numpy()[None],
                ref.labels.numpy()[None],
                score_tol=max(1e-5, 2 * img_diffs['heatmap']))
            box_diff = max(box_diff, match['max_abs_diff'])
            same &= match['labels_identical']
    print(f'{len(images)} images, max |OpenCV Caffe - PyTorch|: ' +
          ', '.join(f'{k} {v:.3g}' for k, v in diffs.items()))
    print(f'detections with score > {score_thr}: Caffe+numpy {counts[0]}, '
          f'PyTorch {counts[1]}, max |bboxes diff| {box_diff:.3g} px, same '
          f'labels/counts {same}')
    return dict(
        num_images=len(images),
        max_abs_diff=diffs,
        caffe_dets=counts[0],
        pytorch_dets=counts[1],
        max_abs_diff_bboxes=box_diff,
        dets_identical=same)


if __name__ == '__main__':
    main()
