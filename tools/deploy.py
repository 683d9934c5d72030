"""Convert a CenterX checkpoint with mmdeploy 1.3.1 (ONNX Runtime, TensorRT).

    python tools/deploy.py DEPLOY_CFG MODEL_CFG CHECKPOINT IMG
        --work-dir DIR [--device cpu] [--test] [--test-out metrics.json]
        [--dump-info]

DEPLOY_CFG is one of ``configs/deploy/`` (they set
``codebase_config.module=['centerx_mm.deploy']``: our head rewriter and the
torch >= 2.9 shim). Writes ``DIR/end2end.onnx`` (outputs ``dets`` [B, K, 5]
and ``labels`` [B, K]), then:

- ONNX Runtime: runs the ONNX model and the PyTorch model on IMG through
  mmdeploy and prints both detections and their difference; ``--test``
  evaluates the ONNX Runtime model on the config's test set with mmdeploy's
  test runner (COCO mAP).
- TensorRT: checks the graph against the ONNX-TensorRT 8.6/10.1 operator
  tables; builds ``DIR/end2end.engine`` when TensorRT and a GPU are there
  (``--device cuda:0``), otherwise says so and stops after the ONNX file.

``--dump-info`` also writes mmdeploy's SDK files (``deploy.json``,
``pipeline.json``, ``detail.json``) into DIR, as mmdeploy's
``tools/deploy.py --dump-info``.
"""
import argparse
import importlib.util
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmdeploy conversion')
    parser.add_argument('deploy_cfg', help='configs/deploy/*.py')
    parser.add_argument('model_cfg', help='model config')
    parser.add_argument('checkpoint', help='model checkpoint')
    parser.add_argument('img', help='image used for export and the check')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--test', action='store_true',
        help='evaluate the backend model on the test set (ONNX Runtime)')
    parser.add_argument('--test-out', help='write the report (json)')
    parser.add_argument(
        '--dump-info', action='store_true',
        help="write mmdeploy's SDK files (deploy/pipeline/detail.json)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from centerx_mm.checkpoint import refuse_remote
    refuse_remote(args.checkpoint)
    for what, path in (('deploy config', args.deploy_cfg),
                       ('model config', args.model_cfg),
                       ('checkpoint', args.checkpoint), ('image', args.img)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} not found: {path}')
    from centerx_mm.apis import load_image
    load_image(args.img)  # clear error for an unreadable image

    import torch
    from mmdeploy.apis import build_task_processor, torch2onnx
    from mmdeploy.utils import get_backend, get_ir_config, load_config
    from mmengine.registry import DefaultScope

    import centerx_mm.deploy  # noqa: F401  (rewriters, shim)
    from centerx_mm.deploy import check_exportable, check_standard_onnx
    from centerx_mm.deploy.compat import (cpu_export_for_gpu_backends,
                                          reset_task_scope)
    from centerx_mm.models.utils import (build_trained_detector,
                                         plain_model_cfg)
    from centerx_mm.utils import register_all_modules
    register_all_modules()
    deploy_cfg, model_cfg = load_config(args.deploy_cfg, args.model_cfg)
    # No ImageNet init_cfg file needed; mmdeploy loads non-strictly, so the
    # checkpoint is checked here first (keys, shapes, classes), and DCN.
    model_cfg.model = plain_model_cfg(model_cfg.model)
    check_exportable(build_trained_detector(model_cfg, args.checkpoint))
    backend = get_backend(deploy_cfg).value
    onnx_file = osp.join(args.work_dir, get_ir_config(deploy_cfg)['save_file'])

    reset_task_scope()
    with cpu_export_for_gpu_backends():
        torch2onnx(args.img, args.work_dir, onnx_file, deploy_cfg, model_cfg,
                   args.checkpoint, args.device)
    import onnx
    check_standard_onnx(onnx.load(onnx_file))
    print(f'saved {onnx_file}')
    report = {'onnx': onnx_file}
    if args.dump_info:
        import copy

        from mmdeploy.backend.sdk.export_info import export2SDK

        # copies: export2SDK rewrites the pipeline into SDK transforms
        export2SDK(copy.deepcopy(deploy_cfg), copy.deepcopy(model_cfg),
                   args.work_dir, pth=args.checkpoint, device=args.device)
        report['sdk_files'] = [
            osp.join(args.work_dir, f)
            for f in ('deploy.json', 'pipeline.json', 'detail.json')
        ]
        print(f'saved {", ".join(report["sdk_files"])}')

    if backend == 'tensorrt':
        from centerx_mm.deploy.trt_check import check_tensorrt_graph
        for version in ('8.6', '10.1'):
            problems = check_tensorrt_graph(onnx_file, version)
            report[f'tensorrt_{version}_problems'] = problems
            print(f'TensorRT {version} operator-table check: ' +
                  ('OK' if not problems else '; '.join(problems)))
        if importlib.util.find_spec('tensorrt') is None or \
                not torch.cuda.is_available() or args.device == 'cpu':
            print('TensorRT engine not built: it needs the tensorrt package '
                  'and a GPU. On such a machine run the same command with '
                  '--device cuda:0.')
            return _save(report, args.test_out)
        from mmdeploy.apis.utils import to_backend
        report['backend_files'] = to_backend(
            backend, [onnx_file], args.work_dir, deploy_cfg=deploy_cfg,
            device=args.device)
        print(f'saved {report["backend_files"]}')
        backend_files = report['backend_files']
    elif backend == 'onnxruntime':
        backend_files = [onnx_file]
    else:
        raise ValueError(f'backend {backend!r}: configs/deploy/ has '
                         'onnxruntime and tensorrt configs')

    reset_task_scope()
    task = build_task_processor(model_cfg, deploy_cfg, args.device)
    # mmdeploy's mmdet codebase switches the default scope to 'mmdet'.
    with DefaultScope.overwrite_default_scope(model_cfg.default_scope):
        report.update(check_backend(task, backend_files, args, deploy_cfg))
    return _save(report, args.test_out)


def _save(report: dict, path) -> dict:
    if path:
        with open(path, 'w') as f:
            json.dump(report, f, indent=2, default=float)
    return report


def check_backend(task, backend_files, args, deploy_cfg) -> dict:
    """Run the backend and PyTorch on ``args.img`` through mmdeploy and
    compare; with ``--test`` evaluate the backend on the test set."""
    import torch
    report = {}
    backend_model = task.build_backend_model(backend_files,
                                             task.update_data_preprocessor)
    torch_model = task.build_pytorch_model(args.checkpoint)
    input_shape = deploy_cfg.onnx_config.get('input_shape')
    data, _ = task.create_input(args.img, input_shape)
    with torch.no_grad():
        ours = backend_model.test_step(data)[0].pred_instances
        ref = torch_model.test_step(data)[0].pred_instances
    # PyTorch clips boxes to the image, mmdeploy's End2EndModel does not.
    ori_h, ori_w = data['data_samples'][0].ori_shape[:2]
    boxes = ours.bboxes.clone()
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, ori_w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, ori_h)
    diff = float((boxes - ref.bboxes).abs().max()) if len(ours) else 0.
    report.update(
        num_dets=len(ours),
        max_abs_diff_bboxes_vs_pytorch=diff,
        labels_identical=bool((ours.labels == ref.labels).all()))
    print(f'{deploy_cfg.backend_config.type}: {len(ours)} dets, top-3 '
          f'scores {ours.scores[:3].tolist()}; max |bboxes - PyTorch| = '
          f'{diff:.3g} px, labels identical: {report["labels_identical"]}')
    if args.test:
        runner = task.build_test_runner(backend_model, args.work_dir)
        report['test_metrics'] = runner.test()
    return report

if __name__ == '__main__':
    main()
