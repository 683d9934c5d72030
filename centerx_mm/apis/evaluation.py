"""Evaluate an exported ONNX model (fp32 or INT8, on ONNX Runtime or
OpenVINO) on a config's test set, side by side with the PyTorch checkpoint
and other ONNX models (same dataloader, same ``CocoMetric`` as
``tools/test.py``).

Two ways to feed the ONNX model:

- ``'tensor'``: the exact tensors PyTorch gets (test pipeline + the model's
  data preprocessor, batch padded to a multiple of 32). Needs a graph with
  ``input_format='normalized'`` and dynamic height/width. ``dets`` and
  ``labels`` are compared with the PyTorch decode element by element.
- ``'runtime'``: the runner (:func:`build_detector`) on each image file (its
  own test pipeline, :func:`apply_pipeline`), i.e. what a user of the
  runtime class gets.
"""
import copy
from typing import Dict, Optional

import numpy as np
import torch

from .runtime import build_detector, rescale_dets


def match_dets(dets: np.ndarray,
               labels: np.ndarray,
               ref_dets: np.ndarray,
               ref_labels: np.ndarray,
               score_tol: float = 1e-5) -> dict:
    """Compare two batches of top-K dets, tolerating swapped near-ties.

    Top-K order among scores equal to within float noise is not defined, so
    an entry may be matched to any unused reference entry whose score is
    within ``score_tol`` and whose label is the same (the closest box).

    Args:
        dets, ref_dets (ndarray): (B, K, 5); labels, ref_labels: (B, K).

    Returns:
        dict: ``max_abs_diff`` (px and score, over matched entries),
        ``labels_identical`` (every entry found a same-label partner),
        ``swapped`` (entries matched to another position).
    """
    max_diff, ok, swapped = 0.0, True, 0
    for det, lab, ref, ref_lab in zip(dets, labels, ref_dets, ref_labels):
        used = np.zeros(len(ref), bool)
        for i in range(len(det)):
            cand = np.where(~used & (ref_lab == lab[i]) &
                            (np.abs(ref[:, 4] - det[i, 4]) <= score_tol))[0]
            if len(cand) == 0:
                ok = False
                max_diff = max(max_diff, float(np.abs(det[i] - ref[i]).max()))
                continue
            diffs = np.abs(ref[cand] - det[i]).max(axis=1)
            j = cand[int(np.argmin(diffs))]
            used[j] = True
            swapped += int(j != i)
            max_diff = max(max_diff, float(diffs.min()))
    return dict(max_abs_diff=max_diff, labels_identical=ok, swapped=swapped)


def _to_instances(result: dict):
    from mmengine.structures import InstanceData
    inst = InstanceData()
    inst.bboxes = torch.from_numpy(result['bboxes'])
    inst.scores = torch.from_numpy(result['scores'])
    inst.labels = torch.from_numpy(result['labels'])
    return inst


def evaluate_onnx(cfg,
                  onnx_file: str,
                  checkpoint: Optional[str] = None,
                  feed: str = 'tensor',
                  max_batches: Optional[int] = None,
                  backend: str = 'onnxruntime',
                  others: Optional[Dict[str, str]] = None,
                  runner_kwargs: Optional[dict] = None) -> dict:
    """COCO metrics of the ONNX model (and of the PyTorch model, and of
    ``others``), in one pass over the test set.

    Args:
        cfg (Config): model config with ``test_dataloader`` and
            ``test_evaluator``.
        onnx_file (str): a ``tools/export_onnx.py`` or ``tools/quantize.py``
            graph in ``dets`` mode.
        checkpoint (str, optional): PyTorch weights; when given, PyTorch is
            evaluated in the same pass and compared.
        feed (str): ``'tensor'`` or ``'runtime'`` (module docstring).
        max_batches (int, optional): stop early (for tests).
        backend (str): ``'onnxruntime'`` or ``'openvino'``.
        others (dict, optional): name -> more ONNX files (e.g. INT8 models)
            evaluated with the same feed and backend.
        runner_kwargs (dict, optional): arguments of the runner class.

    Returns:
        dict: ``onnx`` (metrics), ``pytorch`` (metrics, with checkpoint),
        one entry per name of ``others``, and for ``feed='tensor'`` with a
        checkpoint: ``max_abs_diff_dets`` (px), ``labels_identical`` and
        ``near_tie_swaps`` of ``onnx_file`` over all images and all K dets
        (:func:`match_dets`).
    """
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner

    from centerx_mm.models.utils import (build_trained_detector,
                                         plain_model_cfg)
    from centerx_mm.models.utils.decode import decode_head_outputs
    from centerx_mm.registry import MODELS
    if feed not in ('tensor', 'runtime'):
        raise ValueError(f'feed={feed!r}: use tensor or runtime')
    files = {'onnx': onnx_file, **(others or {})}
    if 'pytorch' in files:
        raise ValueError("'pytorch' cannot name an ONNX model")
    runners = {
        name: build_detector(path, backend, **(runner_kwargs or {}))
        for name, path in files.items()
    }
    for name, runner in runners.items():
        _check_evaluable(runner, files[name], feed)
    detector = runners['onnx']
    settings = detector.settings
    if checkpoint is not None:  # strict: keys, shapes, classes
        model = build_trained_detector(cfg, checkpoint)
    else:  # only its data preprocessor is used
        model = MODELS.build(plain_model_cfg(cfg.model)).eval()
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluators = {
        name: Evaluator(copy.deepcopy(cfg.test_evaluator))
        for name in runners
    }
    if checkpoint is not None:
        evaluators['pytorch'] = Evaluator(copy.deepcopy(cfg.test_evaluator))
    for evaluator in evaluators.values():
        evaluator.dataset_meta = loader.dataset.metainfo
    max_diff, same_labels, swapped = 0.0, True, 0
    topk = int(settings['topk'])
    for i, data in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        with torch.no_grad():
            data = model.data_preprocessor(data, False)
        inputs, samples = data['inputs'], data['data_samples']
        metas = [s.metainfo for s in samples]
        for name, runner in runners.items():
            if feed == 'tensor':
                outs = runner.infer(inputs.numpy())
                results = [
                    rescale_dets(d, lb, m)
                    for d, lb, m in zip(outs[0], outs[1], metas)
                ]
                if name == 'onnx':
                    dets, labels = outs
            else:
                results = runner([s.img_path for s in samples])
            onnx_samples = copy.deepcopy(samples)
            for sample, result in zip(onnx_samples, results):
                sample.pred_instances = _to_instances(result)
            evaluators[name].process(data_samples=onnx_samples)
        if checkpoint is None:
            continue
        with torch.no_grad():
            maps = model(inputs, mode='tensor')
            preds = model.bbox_head.predict_by_feat(
                *maps, batch_img_metas=metas)
            if feed == 'tensor':
                ref_dets, ref_labels = decode_head_outputs(
                    maps, inputs.shape[2:], topk, int(settings['kernel']))
                match = match_dets(dets, labels, ref_dets.numpy(),
                                   ref_labels.numpy())
                max_diff = max(max_diff, match['max_abs_diff'])
                same_labels &= match['labels_identical']
                swapped += match['swapped']
        torch_samples = copy.deepcopy(samples)
        for sample, pred in zip(torch_samples, preds):
            sample.pred_instances = pred
        evaluators['pytorch'].process(data_samples=torch_samples)
    num = len(loader.dataset) if max_batches is None else min(
        len(loader.dataset), max_batches * loader.batch_size)
    out = {name: ev.evaluate(num) for name, ev in evaluators.items()}
    if checkpoint is not None and feed == 'tensor':
        out.update(
            max_abs_diff_dets=max_diff,
            labels_identical=same_labels,
            near_tie_swaps=swapped)
    return out


def _check_evaluable(runner, onnx_file: str, feed: str) -> None:
    if runner.settings['mode'] != 'dets':
        raise ValueError(f'{onnx_file}: evaluation needs a dets-mode graph, '
                         f'got mode={runner.settings["mode"]}')
    if feed == 'tensor' and (runner.settings['input_format'] != 'normalized'
                             or runner.input_bhw[1] is not None):
        raise ValueError(
            f'{onnx_file}: feed="tensor" needs --input-format normalized '
            '--dynamic (the batch tensors have varying sizes); use '
            'feed="runtime" for this graph')
