"""Export a CenterX checkpoint to ONNX with the decode inside the graph
(no mmdeploy needed), optionally check it against PyTorch and TensorRT.

    python tools/export_onnx.py CONFIG CHECKPOINT --out model.onnx
        [--dynamic] [--opset 11] [--mode dets|sparse]
        [--input-format normalized|uint8|float] [--shape H W] [--batch 1]
        [--topk K] [--check-trt] [--eval tensor|runtime]

Outputs (``--mode dets``, default): ``dets`` [B, K, 5] (x1, y1, x2, y2,
score) in network-input pixels and ``labels`` [B, K]; ``--mode sparse``:
``heatmap`` [B, C, H/4, W/4] zero except at peaks, ``wh`` and ``offset``
[B, 2, H/4, W/4] in feature cells. Run it with
``centerx_mm.apis.ONNXRuntimeDetector`` or ``tools/demo.py --backend
onnxruntime``.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='export CenterX to ONNX')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--dynamic', action='store_true',
        help='dynamic batch, height and width')
    parser.add_argument('--opset', type=int, default=11)
    parser.add_argument(
        '--mode', choices=['dets', 'sparse'], default='dets',
        help='dets: dets+labels; sparse: peak heatmap + wh + offset')
    parser.add_argument(
        '--input-format', choices=['normalized', 'uint8', 'float'],
        default='normalized',
        help='normalized: float RGB after mean/std (mmdet/mmdeploy input); '
        'uint8/float: BGR 0..255, mean/std and channel flip in the graph')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'),
        help='static input size (default: the test scale, padded to the '
        'pad_size_divisor)')
    parser.add_argument('--batch', type=int, default=1,
                        help='static batch size')
    parser.add_argument('--topk', type=int, help='K (default: test_cfg)')
    parser.add_argument(
        '--check-trt', action='store_true',
        help='check the graph against the ONNX-TensorRT 8.6/10.1 tables')
    parser.add_argument(
        '--eval', choices=['tensor', 'runtime'],
        help='evaluate ONNX and PyTorch on the test set (COCO mAP, dets '
        'difference); tensor needs --dynamic --input-format normalized')
    parser.add_argument('--eval-out', help='write the --eval result (json)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from centerx_mm.checkpoint import refuse_remote
    refuse_remote(args.checkpoint)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    from centerx_mm.deploy import deploy_settings, export_onnx
    from centerx_mm.models.utils import build_trained_detector
    from centerx_mm.utils import register_all_modules
    from tools.train import load_config
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    model = build_trained_detector(cfg, args.checkpoint)
    meta = export_onnx(
        model,
        args.out,
        deploy_settings(cfg),
        input_hw=args.shape,
        batch_size=args.batch,
        dynamic=args.dynamic,
        opset=args.opset,
        mode=args.mode,
        input_format=args.input_format,
        topk=args.topk)
    print(f'saved {args.out} (mode={meta["centerx.mode"]}, input '
          f'{meta["centerx.input_format"]}, opset {args.opset}, '
          f'{"dynamic" if args.dynamic else "static"} shape)')
    result = {}
    if args.check_trt:
        from centerx_mm.deploy.trt_check import check_tensorrt_graph
        for version in ('8.6', '10.1'):
            problems = check_tensorrt_graph(args.out, version)
            result[f'tensorrt_{version}_problems'] = problems
            print(f'TensorRT {version} table check: ' +
                  ('OK' if not problems else '; '.join(problems)))
    if args.eval:
        from centerx_mm.apis import evaluate_onnx
        metrics = evaluate_onnx(cfg, args.out, args.checkpoint, args.eval)
        result.update(metrics)
        for name in ('onnx', 'pytorch'):
            print(f'{name} bbox_mAP: {metrics[name]["coco/bbox_mAP"]}')
        if 'max_abs_diff_dets' in metrics:
            print(f'max |dets_onnx - dets_pytorch| = '
                  f'{metrics["max_abs_diff_dets"]:.3g} px, labels identical: '
                  f'{metrics["labels_identical"]}')
    if args.eval_out:
        with open(args.eval_out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
