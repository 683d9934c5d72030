"""INT8 post-training quantization of a CenterX checkpoint (ONNX Runtime
static quantization, QDQ, per-channel int8 weights), optionally evaluated
against fp32 on the config's test set.

    python tools/quantize.py CONFIG CHECKPOINT --calib-dir DIR \\
        --num-calib N --out model_int8.onnx
        [--method minmax|entropy|percentile ...] [--head-last fp32|int8 ...]
        [--shape H W | --dynamic] [--batch B] [--input-format ...]
        [--fp32-out model_fp32.onnx] [--eval runtime|tensor]
        [--backend onnxruntime|openvino] [--eval-out result.json]

Exports the fp32 graph (``tools/export_onnx.py``'s, opset 13), reads the
first N images of DIR (sorted, sub-folders included) through the test
pipeline the model carries, calibrates, and writes the INT8 graph: the
network in int8, the preprocessing and the decode in fp32, and with
``--head-last fp32`` (default) the head's last convolutions too. Run it like
any exported model: ``tools/demo.py IMG CONFIG model_int8.onnx --backend
onnxruntime|openvino``.

Several ``--method`` / ``--head-last`` values write one model each
(``<out stem>_<method>_head-<fp32|int8>.onnx``); with ``--eval`` all of them,
the fp32 graph and the PyTorch checkpoint are evaluated in one pass over the
test set (COCO mAP) and printed side by side.
"""
import argparse
import itertools
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='INT8 PTQ of CenterX')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--calib-dir', required=True,
                        help='calibration images (e.g. train images)')
    parser.add_argument('--num-calib', type=int, default=100,
                        help='use the first N images of --calib-dir')
    parser.add_argument('--out', required=True, help='INT8 .onnx file')
    parser.add_argument(
        '--method', nargs='+', default=['minmax'],
        choices=['minmax', 'entropy', 'percentile'],
        help='calibration method(s)')
    parser.add_argument(
        '--head-last', nargs='+', default=['fp32'], choices=['fp32', 'int8'],
        help="precision of the head's last convolutions")
    parser.add_argument('--fp32-out',
                        help='fp32 .onnx (default: <out stem>_fp32.onnx)')
    parser.add_argument('--dynamic', action='store_true',
                        help='dynamic batch, height and width')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1,
                        help='static batch size')
    parser.add_argument(
        '--input-format', choices=['normalized', 'uint8', 'float'],
        default='uint8', help='graph input (see tools/export_onnx.py)')
    parser.add_argument('--opset', type=int, default=13,
                        help='>= 13 (per-channel QDQ)')
    parser.add_argument('--reduce-range', action='store_true',
                        help='7-bit weights (CPUs without VNNI)')
    parser.add_argument(
        '--eval', choices=['tensor', 'runtime'],
        help='evaluate PyTorch, fp32 ONNX and INT8 ONNX on the test set')
    parser.add_argument('--backend', choices=['onnxruntime', 'openvino'],
                        default='onnxruntime', help='runtime of --eval')
    parser.add_argument('--eval-out', help='write the result (json)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    return parser.parse_args(argv)


def output_files(out: str, methods, heads) -> dict:
    """(method, head) -> INT8 file: ``out`` itself for one combination."""
    combos = list(itertools.product(methods, heads))
    if len(combos) == 1:
        return {combos[0]: out}
    stem, ext = osp.splitext(out)
    return {(m, h): f'{stem}_{m}_head-{h}{ext or ".onnx"}' for m, h in combos}


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    from centerx_mm.deploy.quantize import find_calib_images
    images = find_calib_images(args.calib_dir, args.num_calib)
    from mmengine.runner import load_checkpoint

    from centerx_mm.deploy import deploy_settings, export_onnx
    from centerx_mm.deploy.quantize import (calibration_batches,
                                            quantize_onnx)
    from centerx_mm.registry import MODELS
    from centerx_mm.utils import register_all_modules
    from tools.train import load_config
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    settings = deploy_settings(cfg)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    fp32 = args.fp32_out or osp.splitext(args.out)[0] + '_fp32.onnx'
    export_onnx(model.eval(), fp32, settings, input_hw=args.shape,
                batch_size=args.batch, dynamic=args.dynamic,
                opset=args.opset, input_format=args.input_format)
    print(f'saved {fp32} (fp32)')
    batches = calibration_batches(fp32, images)
    print(f'calibration: {len(images)} images of {args.calib_dir}')
    result = dict(fp32=fp32, int8={})
    names = {}
    for (method, head), out in output_files(args.out, args.method,
                                            args.head_last).items():
        info = quantize_onnx(fp32, out, images, method=method,
                             fp32_head_last=head == 'fp32',
                             reduce_range=args.reduce_range, batches=batches)
        name = f'int8_{method}_head-{head}'
        names[name] = out
        result['int8'][name] = dict(file=out, **info)
        print(f'saved {out} (INT8, {method} calibration, head last convs '
              f'{head}, {info["quantized_nodes"]} nodes quantized)')
    if args.eval:
        from centerx_mm.apis import evaluate_onnx
        metrics = evaluate_onnx(cfg, fp32, args.checkpoint, args.eval,
                                backend=args.backend, others=names)
        result['metrics'] = metrics
        ref = metrics['onnx']['coco/bbox_mAP']
        print(f'COCO bbox_mAP on the test set ({args.backend}, feed '
              f'{args.eval}):')
        print(f'  pytorch: {metrics["pytorch"]["coco/bbox_mAP"]:.4f}')
        print(f'  fp32 onnx: {ref:.4f}')
        for name in names:
            val = metrics[name]['coco/bbox_mAP']
            print(f'  {name}: {val:.4f} ({val - ref:+.4f} vs fp32)')
    if args.eval_out:
        with open(args.eval_out, 'w') as f:
            json.dump(result, f, indent=2, default=float)
    return result


if __name__ == '__main__':
    main()
