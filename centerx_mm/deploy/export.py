"""ONNX export of a CenterX detector with the decode inside the graph
(design notes "模型加速": no NMS, so the whole detector is one graph and the
user writes no post-processing).

Used by ``tools/export_onnx.py`` (no mmdeploy needed), by the Caffe export
(``mode='raw'``) and by the benchmark.
"""
import json
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from centerx_mm.models.utils.decode import (centerx_sparse,
                                            decode_head_outputs)
from centerx_mm.apis.runtime import pipeline_of
from .errors import ExportError
from .pipeline import fixed_input_hw, parse_test_pipeline

#: output names of each export mode, in order.
OUTPUT_NAMES = {
    'dets': ('dets', 'labels'),
    'sparse': ('heatmap', 'wh', 'offset'),
    'raw': ('heatmap_logits', 'wh', 'offset'),
}
#: input formats: what the graph's ``input`` holds (the input is named
#: ``input``, as in mmdeploy's graphs, so one name serves both exports).
INPUT_FORMATS = ('normalized', 'uint8', 'float')
STANDARD_DOMAINS = ('', 'ai.onnx')


def output_names_of(detector: nn.Module, mode: str) -> Tuple[str, ...]:
    """Graph output names of ``mode`` for ``detector``'s head: the
    :data:`OUTPUT_NAMES` of a ``CenterXHead``, ``ltrb`` instead of ``wh`` and
    ``offset`` for a ``CenterXTTFHead`` (``head.out_names``)."""
    out_names = getattr(getattr(detector, 'bbox_head', None), 'out_names',
                        OUTPUT_NAMES['raw'])
    if mode == 'dets':
        return OUTPUT_NAMES['dets']
    first = OUTPUT_NAMES[mode][0]
    return (first, ) + tuple(out_names[1:])


def check_exportable(model: nn.Module) -> None:
    """Refuse layers that have no standard-ONNX export (mmcv custom ops,
    e.g. DCNv2 in ``CTResNetNeck(use_dcn=True)``), naming each layer.

    Raises:
        ExportError: with ``name (class)`` of every offending module.
    """
    bad = [
        f'{name} ({type(m).__module__}.{type(m).__name__})'
        for name, m in model.named_modules()
        if type(m).__module__.startswith('mmcv.ops')
    ]
    if bad:
        raise ExportError(
            'cannot export to standard ONNX: these layers are mmcv custom '
            'ops that ONNX Runtime / TensorRT / OpenVINO / Caffe run only '
            'with plugins: ' + ', '.join(bad) +
            '. Use a model without them (e.g. CTResNetNeck(use_dcn=False)).')


def deploy_settings(cfg) -> dict:
    """What export and runtime need from a model config.

    Returns:
        dict: ``mean``/``std`` (RGB order, 0-255), ``bgr_to_rgb``,
        ``pad_size_divisor``, ``pad_value`` (of the data preprocessor,
        after normalisation), ``pipeline`` (the test pipeline,
        :func:`parse_test_pipeline`), ``test_scale`` (w, h) of its
        ``Resize`` or None, ``classes``, ``topk``, ``kernel``.

    Raises:
        ExportError: naming a test-pipeline transform that cannot be
        exported.
    """
    pre = cfg.model.get('data_preprocessor', {})
    test_cfg = cfg.model.get('test_cfg') or {}
    head_test_cfg = cfg.model.get('bbox_head', {}).get('test_cfg') or {}
    test_cfg = {**test_cfg, **head_test_cfg}
    pipeline = parse_test_pipeline(
        cfg.get('test_dataloader', {}).get('dataset', {}).get(
            'pipeline', cfg.get('test_pipeline', [])))
    resize = [s for s in pipeline['steps'] if s['type'] == 'resize']
    metainfo = cfg.get('metainfo') or cfg.get('test_dataloader', {}).get(
        'dataset', {}).get('metainfo') or {}
    return dict(
        mean=[float(v) for v in pre.get('mean', [0., 0., 0.])],
        std=[float(v) for v in pre.get('std', [1., 1., 1.])],
        bgr_to_rgb=bool(pre.get('bgr_to_rgb', False)),
        pad_size_divisor=int(pre.get('pad_size_divisor', 1)),
        pad_value=float(pre.get('pad_value', 0)),
        pipeline=pipeline,
        test_scale=tuple(resize[0]['scale']) if resize else None,
        classes=list(metainfo.get('classes', [])),
        topk=int(test_cfg.get('topk', 100)),
        kernel=int(test_cfg.get('local_maximum_kernel', 3)))


def default_input_hw(settings: dict) -> Tuple[int, int]:
    """(H, W): the test pipeline's output size (e.g. the ``Resize`` scale)
    rounded up to ``pad_size_divisor``.

    Raises:
        ExportError: when the size depends on the image (no ``Resize``, or
        ``RandomCenterCropPad``): export with dynamic H/W or a given size.
    """
    size = fixed_input_hw(pipeline_of(settings))
    if size is None:
        raise ExportError(
            'the test pipeline has no fixed output size (no Resize, or '
            'RandomCenterCropPad padding each image to its own size): export '
            'with dynamic height/width (--dynamic) or give the input size '
            '(--shape H W)')
    div = max(settings['pad_size_divisor'], 1)
    h, w = size
    return (-(-h // div) * div, -(-w // div) * div)


class CenterXExportModel(nn.Module):
    """Detector + optional in-graph preprocessing + decode, one graph.

    Args:
        detector (nn.Module): a CenterX detector; ``detector(x,
            mode='tensor')`` gives ``(heatmap_logits, wh, offset)``.
        mode (str): ``'dets'``: ``dets`` (B, K, 5) (x1, y1, x2, y2, score)
            in input pixels + ``labels`` (B, K) int64, by
            :func:`centerx_decode`; ``'sparse'``: heatmap probabilities zero
            except at peaks (B, C, H/4, W/4), ``wh`` and ``offset``
            (B, 2, H/4, W/4) in feature cells, by :func:`centerx_sparse`;
            ``'raw'``: the head maps (logits), for Caffe and timing.
        input_format (str): ``'normalized'``: float32 RGB already
            ``(x - mean) / std`` (what mmdet's data preprocessor gives);
            ``'uint8'`` or ``'float'``: BGR 0..255 images (uint8 or float32),
            channel flip and mean/std happen in the graph.
        mean, std (sequence): RGB mean/std, 0..255 scale.
        bgr_to_rgb (bool): flip channels in the graph (``uint8``/``float``).
        topk (int): K of the decode (TensorRT: K < 3840).
        kernel (int): peak max-pool window.
    """

    def __init__(self,
                 detector: nn.Module,
                 mode: str = 'dets',
                 input_format: str = 'normalized',
                 mean: Sequence[float] = (0., 0., 0.),
                 std: Sequence[float] = (1., 1., 1.),
                 bgr_to_rgb: bool = True,
                 topk: int = 100,
                 kernel: int = 3) -> None:
        super().__init__()
        if mode not in OUTPUT_NAMES:
            raise ValueError(f'mode={mode!r}: use one of {list(OUTPUT_NAMES)}')
        if input_format not in INPUT_FORMATS:
            raise ValueError(f'input_format={input_format!r}: use one of '
                             f'{list(INPUT_FORMATS)}')
        if not 0 < topk < 3840:
            raise ValueError(f'topk={topk}: TensorRT needs 0 < K < 3840')
        self.detector = detector
        self.mode = mode
        self.input_format = input_format
        self.bgr_to_rgb = bgr_to_rgb
        self.topk = topk
        self.kernel = kernel
        self.register_buffer('mean', torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer('std', torch.tensor(std).view(1, -1, 1, 1))

    def preprocess(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) input in ``input_format`` -> normalized float RGB."""
        if self.input_format == 'normalized':
            return image
        x = image.float()
        if self.bgr_to_rgb:
            # Gather with a constant index: standard everywhere.
            x = x.index_select(1, torch.tensor([2, 1, 0]))
        return (x - self.mean) / self.std

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        x = self.preprocess(image)
        head_outs = self.detector(x, mode='tensor')
        if self.mode == 'dets':
            return decode_head_outputs(head_outs, x.shape[2:], self.topk,
                                       self.kernel)
        if self.mode == 'sparse':
            return (centerx_sparse(head_outs[0], self.kernel),
                    *head_outs[1:])
        return tuple(head_outs)


def check_standard_onnx(onnx_model) -> None:
    """Every node must be a standard ``ai.onnx`` op (no plugin domains).

    Raises:
        ExportError: naming the non-standard nodes and their domains.
    """
    bad = sorted({
        f'{n.domain}::{n.op_type} (node {n.name})'
        for n in onnx_model.graph.node if n.domain not in STANDARD_DOMAINS
    })
    if bad:
        raise ExportError('the exported graph has non-standard ops that '
                          'need runtime plugins: ' + ', '.join(bad))


def export_onnx(detector: nn.Module,
                out_file: str,
                settings: dict,
                input_hw: Optional[Tuple[int, int]] = None,
                batch_size: int = 1,
                dynamic: Union[bool, str] = False,
                opset: int = 11,
                mode: str = 'dets',
                input_format: str = 'normalized',
                topk: Optional[int] = None) -> Dict[str, str]:
    """Export ``detector`` to ``out_file`` with the TorchScript exporter.

    Args:
        detector (nn.Module): CenterX detector (eval mode is set here).
        out_file (str): ``.onnx`` path.
        settings (dict): :func:`deploy_settings` of the model config.
        input_hw (tuple, optional): static (H, W); default: the test scale
            rounded up to ``pad_size_divisor``.
        batch_size (int): batch of the example input (static batch).
        dynamic (bool | str): True: batch, height and width are dynamic
            axes; ``'batch'``: only the batch.
        opset (int): ONNX opset, 11..17 (TensorRT 8.6 reads up to 17).
        mode, input_format: see :class:`CenterXExportModel`.
        topk (int, optional): K; default ``settings['topk']``.

    Returns:
        dict: the metadata written into the model (``centerx.*`` keys), read
        back by :class:`centerx_mm.apis.ONNXRuntimeDetector`.
    """
    import onnx
    check_exportable(detector)
    if input_hw is None and dynamic and dynamic != 'batch':
        try:  # any size: the example input only
            input_hw = default_input_hw(settings)
        except ExportError:
            input_hw = (256, 256)
    input_hw = tuple(input_hw or default_input_hw(settings))
    div = max(settings['pad_size_divisor'], 1)
    if input_hw[0] % div or input_hw[1] % div:
        raise ExportError(f'input size {input_hw} must be a multiple of '
                          f'pad_size_divisor={div}')
    wrapper = CenterXExportModel(
        detector.eval(),
        mode=mode,
        input_format=input_format,
        mean=settings['mean'],
        std=settings['std'],
        bgr_to_rgb=settings['bgr_to_rgb'],
        topk=topk or settings['topk'],
        kernel=settings['kernel']).eval()
    dtype = torch.uint8 if input_format == 'uint8' else torch.float32
    if input_format == 'normalized':
        example = torch.randn(batch_size, 3, *input_hw)
    else:
        example = torch.randint(0, 256, (batch_size, 3, *input_hw)).to(dtype)
    output_names = list(output_names_of(detector, mode))
    dynamic_axes = None
    if dynamic:
        spatial = dynamic != 'batch'
        dynamic_axes = {
            'input': {0: 'batch', 2: 'height', 3: 'width'} if spatial else {
                0: 'batch'}
        }
        for name in output_names:
            dynamic_axes[name] = {0: 'batch', 2: 'feat_height', 3:
                                  'feat_width'} if spatial and mode != 'dets' \
                else {0: 'batch'}
    if osp.dirname(osp.abspath(out_file)):
        import os
        os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (example, ),
            out_file,
            dynamo=False,
            input_names=['input'],
            output_names=output_names,
            opset_version=opset,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True)
    model = onnx.load(out_file)
    check_standard_onnx(model)
    meta = {
        'centerx.mode': mode,
        'centerx.input_format': input_format,
        'centerx.mean': json.dumps(settings['mean']),
        'centerx.std': json.dumps(settings['std']),
        'centerx.bgr_to_rgb': json.dumps(settings['bgr_to_rgb']),
        'centerx.pad_size_divisor': str(div),
        'centerx.pad_value': json.dumps(settings.get('pad_value', 0.)),
        'centerx.pipeline': json.dumps(pipeline_of(settings)),
        'centerx.test_scale': json.dumps(settings.get('test_scale')),
        'centerx.classes': json.dumps(settings['classes']),
        'centerx.topk': str(wrapper.topk),
        'centerx.kernel': str(wrapper.kernel),
        'centerx.stride': str(_head_stride(detector, input_hw)),
    }
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, out_file)
    return meta


def _head_stride(detector: nn.Module, input_hw: Tuple[int, int]) -> int:
    """Input pixels per heatmap cell (4 for CenterNet)."""
    with torch.no_grad():
        heat = detector(torch.zeros(1, 3, *input_hw), mode='tensor')[0]
    return input_hw[0] // heat.shape[2]
