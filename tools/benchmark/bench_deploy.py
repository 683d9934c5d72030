"""Deployment latency on CPU, end to end per image (preprocess + network +
decode + boxes back to the image), side by side in one process, interleaved
rounds, median times:

- ``pytorch``: our CenterX R18 in PyTorch eager (same preprocessing, the
  decode ``centerx_decode``);
- ``ort_fp32`` / ``ort_int8``: the ``tools/export_onnx.py``-style graph
  (uint8 BGR input, mean/std + decode inside) and its ``tools/quantize.py``
  INT8 version (QDQ, per-channel, MinMax calibration on ``--calib`` random
  images: latency does not depend on the calibration), run by
  ``centerx_mm.apis.ONNXRuntimeDetector``;
- ``ov_fp32`` / ``ov_int8``: the same two files run by
  ``centerx_mm.apis.OpenVINODetector`` (``INFERENCE_PRECISION_HINT`` f32;
  ``--ov-bf16`` adds ``ov_bf16``, OpenVINO's default on AVX512-BF16/AMX
  CPUs); skipped with a note when ``openvino`` is not installed;
- ``ort_mmdet``: mmdet 3.3 ``CenterNet`` R18
  (``centernet_r18_8xb16-crop512-140e_coco.py``, no DCN) exported by mmdeploy
  1.3.1 and run the mmdeploy way on ONNX Runtime (``create_input``: mmdet
  test pipeline + data preprocessor; ``End2EndModel.test_step``): mmdeploy's
  best CPU path here (its OpenVINO wrapper needs the pre-2024 OpenVINO API
  and it has no ONNX Runtime INT8, docs/deployment.md).

Both detectors: 80 classes, K=100, SxS network input (static H/W, batch
dynamic), random weights (latency does not depend on them). Images: 640x480
BGR. Also: the networks alone (``session.run`` on a ready tensor) and the
decode alone (the decode graph on head maps of an SxS input), whose share of
each end-to-end time is reported. The input size and thread count are
printed with the tables.

    flock /tmp/centerx_cpu.lock python tools/benchmark/bench_deploy.py \\
        --batches 1 8 --repeats 10 --threads 2
"""
import argparse
import copy
import os.path as osp
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import (REPO, command_line,  # noqa: E402
                     interleaved_median_ms, machine_line, markdown_table)

MMDET_CONFIG = 'centernet/centernet_r18_8xb16-crop512-140e_coco.py'
OUR_CONFIG = 'configs/_base_/models/centerx_r18.py'
# ONNX Runtime threads must not spin after a run: the rounds interleave with
# PyTorch, whose threads they would starve.
NO_SPIN = {'session.intra_op.allow_spinning': '0'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=512,
                        help='network input S (SxS)')
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2,
                        help='torch and ONNX Runtime intra-op threads')
    parser.add_argument('--img-size', type=int, nargs=2, default=[640, 480],
                        metavar=('W', 'H'))
    parser.add_argument('--num-classes', type=int, default=80)
    parser.add_argument('--calib', type=int, default=8,
                        help='random calibration images of the INT8 graph')
    parser.add_argument('--ov-bf16', action='store_true',
                        help='also OpenVINO with its bf16 precision hint')
    parser.add_argument('--no-openvino', action='store_true',
                        help='skip the OpenVINO rows')
    parser.add_argument('--work-dir', help='keep the ONNX files here')
    return parser.parse_args(argv)


def build_ours(num_classes):
    from mmengine.config import Config

    from centerx_mm.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, OUR_CONFIG))
    cfg.model.bbox_head.num_classes = num_classes
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval(), cfg


def mmdet_cfg(size, num_classes):
    import mmdet
    from mmengine.config import Config
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                    MMDET_CONFIG)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found (mmdet 3.3 with its .mim '
                                'configs is needed)')
    cfg = Config.fromfile(path)
    if cfg.model.neck.use_dcn:
        raise ValueError(f'{MMDET_CONFIG}: expected use_dcn=False')
    cfg.model.backbone.init_cfg = None  # nothing is downloaded
    cfg.model.bbox_head.num_classes = num_classes
    # Fixed SxS input as for our model (mmdeploy's static shape turns the
    # Resize into a plain resize to SxS).
    cfg.test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(size, size), keep_ratio=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor'))
    ]
    return cfg


def mmdeploy_cfg(size):
    """Our ONNX Runtime static deploy config at SxS with a dynamic batch (the
    mmdet codebase serves mmdet's CenterNet the same way)."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/deploy/centerx_onnxruntime_static-128x128.py'))
    cfg.onnx_config.input_shape = [size, size]
    cfg.onnx_config.dynamic_axes = dict(
        input={0: 'batch'}, dets={0: 'batch'}, labels={0: 'batch'})
    return cfg


def torch_detector(model, settings):
    """PyTorch eager with the runtime's letterbox and rescale: only the
    network + :func:`centerx_decode` differ from ``ort_ours``."""
    from centerx_mm.apis.runtime import _LetterboxDetector
    from centerx_mm.models.utils.decode import decode_head_outputs

    class TorchDetector(_LetterboxDetector):
        input_bhw = (None, *settings['input_hw'])

        def infer(self, batch):
            with torch.no_grad():
                maps = model(torch.from_numpy(batch), mode='tensor')
                dets, labels = decode_head_outputs(maps, batch.shape[2:],
                                                   settings['topk'])
            return [dets.numpy(), labels.numpy()]

    return TorchDetector(dict(settings, mode='dets',
                              input_format='normalized'))


def main(argv=None):
    args = parse_args(argv)
    from mmdeploy.apis import build_task_processor, torch2onnx
    from mmengine.registry import DefaultScope

    from centerx_mm.apis import (BackendUnavailableError,
                                 ONNXRuntimeDetector, OpenVINODetector,
                                 import_openvino)
    from centerx_mm.deploy import export_onnx
    from centerx_mm.deploy.quantize import quantize_onnx
    from centerx_mm.models.utils.decode import centerx_decode
    from centerx_mm.utils import register_all_modules
    torch.set_num_threads(args.threads)
    register_all_modules()
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_deploy_')
    size = args.size

    # -- ours: export + runtime
    model, cfg = build_ours(args.num_classes)
    pre = cfg.model.data_preprocessor
    settings = dict(
        mean=list(pre.mean), std=list(pre.std), bgr_to_rgb=pre.bgr_to_rgb,
        pad_size_divisor=pre.pad_size_divisor, test_scale=(size, size),
        classes=[str(i) for i in range(args.num_classes)], topk=100,
        kernel=3, input_hw=(size, size))
    ours_onnx = osp.join(work, 'ours.onnx')
    export_onnx(model, ours_onnx, settings, input_hw=(size, size),
                dynamic='batch', input_format='uint8', opset=13)
    rng = np.random.RandomState(0)
    img_w, img_h = args.img_size
    images = [
        rng.randint(0, 256, (img_h, img_w, 3), dtype=np.uint8)
        for _ in range(max(max(args.batches), args.calib))
    ]
    int8_onnx = osp.join(work, 'ours_int8.onnx')
    quantize_onnx(ours_onnx, int8_onnx, images[:args.calib])
    runners = {
        'ort_fp32': ONNXRuntimeDetector(
            ours_onnx, num_threads=args.threads, session_config=NO_SPIN),
        'ort_int8': ONNXRuntimeDetector(
            int8_onnx, num_threads=args.threads, session_config=NO_SPIN),
    }
    notes = []
    try:
        if args.no_openvino:
            raise BackendUnavailableError('--no-openvino')
        import_openvino()
        for name, path in (('ov_fp32', ours_onnx), ('ov_int8', int8_onnx)):
            runners[name] = OpenVINODetector(path, num_threads=args.threads)
        if args.ov_bf16:
            runners['ov_bf16'] = OpenVINODetector(
                ours_onnx, num_threads=args.threads, precision='bf16')
    except BackendUnavailableError as err:
        notes.append(f'OpenVINO rows skipped: {err}')
    torch_det = torch_detector(model, settings)

    # -- decode alone: the same function as an ONNX graph
    class Decode(torch.nn.Module):

        def forward(self, heat, wh, off):
            return centerx_decode(heat, wh, off, (size, size), 100)

    feat = size // 4
    decode_onnx = osp.join(work, 'decode.onnx')
    dec_args = (torch.randn(1, args.num_classes, feat, feat),
                torch.rand(1, 2, feat, feat), torch.rand(1, 2, feat, feat))
    torch.onnx.export(
        Decode(), dec_args, decode_onnx, dynamo=False, opset_version=11,
        input_names=['heat', 'wh', 'off'], output_names=['dets', 'labels'],
        dynamic_axes={k: {0: 'batch'} for k in ('heat', 'wh', 'off')})

    # -- mmdet CenterNet R18 through mmdeploy
    mm_cfg = mmdet_cfg(size, args.num_classes)
    dep_cfg = mmdeploy_cfg(size)
    mm_ckpt = osp.join(work, 'mmdet_centernet_r18_random.pth')
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import MODELS as MMDET_MODELS
        torch.manual_seed(0)
        mm_model = MMDET_MODELS.build(copy.deepcopy(mm_cfg.model))
        mm_model.init_weights()
        torch.save({'state_dict': mm_model.state_dict()}, mm_ckpt)
        mm_dir = osp.join(work, 'mmdet_mmdeploy')
        torch2onnx(images[0], mm_dir, 'end2end.onnx', dep_cfg, mm_cfg,
                   mm_ckpt, 'cpu')
        task = build_task_processor(mm_cfg, dep_cfg, 'cpu')
        mm_backend = task.build_backend_model(
            [osp.join(mm_dir, 'end2end.onnx')], task.update_data_preprocessor)
    _set_threads(mm_backend, args.threads)

    mm_sess = _session(osp.join(mm_dir, 'end2end.onnx'), args.threads)
    dec_sess = _session(decode_onnx, args.threads)

    results = []
    for batch in args.batches:
        imgs = images[:batch]
        u8 = np.zeros((batch, 3, size, size), np.uint8)
        f32 = np.zeros((batch, 3, size, size), np.float32)
        dec_in = dict(
            heat=np.random.randn(batch, args.num_classes, feat,
                                 feat).astype(np.float32),
            wh=np.random.rand(batch, 2, feat, feat).astype(np.float32),
            off=np.random.rand(batch, 2, feat, feat).astype(np.float32))

        def mmdet_e2e():
            with DefaultScope.overwrite_default_scope('mmdet'):
                data, _ = task.create_input(imgs, [size, size])
                with torch.no_grad():
                    return mm_backend.test_step(data)

        fns = dict(pytorch=lambda: torch_det(imgs))
        for name, runner in runners.items():
            fns[name] = (lambda r: lambda: r(imgs))(runner)
        fns['ort_mmdet'] = mmdet_e2e
        for name, runner in runners.items():
            fns[f'net_{name}'] = (lambda r: lambda: r.run(u8))(runner)
        fns['net_ort_mmdet'] = lambda: mm_sess.run(None, {'input': f32})
        fns['decode'] = lambda: dec_sess.run(None, dec_in)
        ms = interleaved_median_ms(
            fns, repeats=args.repeats, warmup=args.warmup, per_call=batch)
        results.append(dict(batch=batch, ms_per_image=ms))
    paths = ['pytorch', *runners, 'ort_mmdet']
    table = latency_table(results, paths)
    ours = [p for p in runners]
    summary = []
    for res in results:
        ms = res['ms_per_image']
        best = min(ours, key=lambda p: ms[p])
        res.update(
            best_ours=best,
            best_ours_vs_mmdet=ms['ort_mmdet'] / ms[best],
            int8_vs_fp32_ort=ms['ort_fp32'] / ms['ort_int8'],
            decode_share_percent={
                p: 100 * ms['decode'] / ms[p] for p in ours})
        summary.append(
            f'batch {res["batch"]}: ORT INT8 {res["int8_vs_fp32_ort"]:.2f}x '
            f'faster than ORT fp32; best of ours {best} '
            f'{res["best_ours_vs_mmdet"]:.2f}x faster than mmdet+mmdeploy '
            f'(ORT fp32, its best CPU path here); decode '
            f'{ms["decode"]:.2f} ms/img = ' + ', '.join(
                f'{v:.1f}% of {p}'
                for p, v in res['decode_share_percent'].items()))
    print(f'input {size}x{size}, images {img_w}x{img_h}, '
          f'{args.num_classes} classes, K=100, {args.threads} threads '
          f'(torch, ONNX Runtime intra-op, OpenVINO INFERENCE_NUM_THREADS), '
          f'INT8 calibrated on {args.calib} random images')
    print(machine_line())
    print(table)
    for line in summary + notes:
        print(line)
    print(command_line('bench_deploy.py', argv))
    return dict(rows=results, table=table, summary=summary, notes=notes,
                work_dir=work)


def latency_table(results, paths) -> str:
    """Rows: paths (end to end, then network only); columns: ms/img and the
    ratio to ``ort_fp32`` at each batch size."""
    header = ['path']
    for res in results:
        header += [f'b{res["batch"]} ms/img', f'b{res["batch"]} vs ORT fp32']
    rows = []
    for prefix, names in (('', paths), ('net_', [
            p for p in paths if p != 'pytorch'])):
        for name in names:
            row = [(prefix and 'graph only (session.run): ') + name]
            for res in results:
                ms = res['ms_per_image']
                ref = ms[f'{prefix}ort_fp32']
                row += [ms[prefix + name], ref / ms[prefix + name]]
            rows.append(row)
    row = ['decode alone']
    for res in results:
        row += [res['ms_per_image']['decode'], '']
    rows.append(row)
    return markdown_table(header, rows)


def _session(path, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    for key, value in NO_SPIN.items():
        opts.add_session_config_entry(key, value)
    return ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])


def _set_threads(backend_model, threads):
    """Rebuild mmdeploy's ORT session with our thread settings."""
    wrapper = backend_model.wrapper
    wrapper.sess = _session(wrapper.sess._model_path, threads)
    wrapper.io_binding = wrapper.sess.io_binding()

if __name__ == '__main__':
    main()
