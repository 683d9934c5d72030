"""CenterNet decoding: the one implementation used by ``CenterXHead.predict``
and by every export path (``tools/export_onnx.py``, mmdeploy's ONNX Runtime
and TensorRT conversion through ``centerx_mm.deploy``), design notes
section "模型加速" (post-processing inside the network).

Exported with the TorchScript exporter (opset 11..17) it is made of standard
ONNX ops only: Reshape, MaxPool, Equal, Where, Flatten, TopK (constant K),
Sigmoid (on the K winners only), integer Div/Sub, Cast, Gather,
GatherElements, Mul, Add, Unsqueeze, Concat (plus Shape/Slice for dynamic
shapes). ``centerx_mm.deploy.trt_check`` checks an exported graph against the
ONNX-TensorRT 8.6 / 10.1 operator tables.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from centerx_mm.registry import FUNCTIONS


@FUNCTIONS.register_module()
def centerx_peaks(scores: Tensor,
                  kernel: int = 3,
                  fill: float = 0.0) -> Tensor:
    """Keep 3x3 local maxima of ``scores``, ``fill`` elsewhere ("pseudo
    NMS").

    FP16-safe replacement for the design notes' trick
    ``relu(x - maxpool(x) + 1e-9) * 1e9`` (1e-9 underflows to 0 and 1e9 is
    inf in FP16): ``where(x == maxpool(x), x, fill)``, exact in any dtype
    (max-pool returns the very value at a peak). ONNX: Reshape, MaxPool,
    Equal, Where.

    Args:
        scores (Tensor): (B, C, H, W) heatmap probabilities or logits.
        kernel (int): max-pool window, odd.
        fill (float): value off the peaks: 0 for probabilities, -inf for
            logits.

    Returns:
        Tensor: (B, C, H, W), ``scores`` at local maxima, ``fill`` elsewhere.
        Ties (plateaus) keep every tied cell, as mmdet's
        ``get_local_maximum``.
    """
    pad = (kernel - 1) // 2
    height, width = scores.shape[2:]
    # Pool (B*C, 1, H, W): ONNX Runtime then skips its NCHWc reorders
    # (decode 20-40% faster on CPU, docs/deployment.md).
    hmax = F.max_pool2d(
        scores.reshape(-1, 1, height, width), kernel, stride=1,
        padding=pad).reshape(scores.shape)
    return torch.where(scores == hmax, scores,
                       torch.tensor(fill, dtype=scores.dtype))


@FUNCTIONS.register_module()
def centerx_decode(heatmap_logits: Tensor,
                   wh: Tensor,
                   offset: Tensor,
                   input_hw: Tuple[int, int],
                   topk: int = 100,
                   kernel: int = 3) -> Tuple[Tensor, Tensor]:
    """Heads -> top-k boxes in network-input pixels (objects as points).

    Args:
        heatmap_logits (Tensor): (B, C, H, W) pre-sigmoid class heatmap.
        wh (Tensor): (B, 2, H, W) box width/height in feature cells.
        offset (Tensor): (B, 2, H, W) centre offset in feature cells.
        input_hw (tuple): (H_in, W_in) of the network input; boxes are
            scaled by H_in / H and W_in / W.
        topk (int): K, a constant (TensorRT: K < 3840). Must not exceed
            C * H * W.
        kernel (int): peak max-pool window.

    Returns:
        tuple[Tensor, Tensor]: ``dets`` (B, K, 5) as (x1, y1, x2, y2, score)
        sorted by score, and ``labels`` (B, K) int64 class indices.
    """
    batch, num_classes, height, width = heatmap_logits.shape
    if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
        if topk > num_classes * height * width:
            raise ValueError(
                f'test_cfg.topk={topk} exceeds the {num_classes}x{height}x'
                f'{width} heatmap cells; lower topk or enlarge the input.')
    # Peaks and top-K on logits (sigmoid is monotonic, so the same cells
    # win); the sigmoid then runs on the K winners only, not on the map.
    peaks = centerx_peaks(heatmap_logits, kernel, fill=float('-inf'))
    logits_k, inds = peaks.flatten(1).topk(topk, dim=1)
    scores = logits_k.sigmoid()
    area = height * width
    labels = torch.div(inds, area, rounding_mode='trunc')
    pix = inds - labels * area
    ys = torch.div(pix, width, rounding_mode='trunc')
    xs = pix - ys * width
    # One GatherElements per channel (no Expand/ConstantOfShape in ONNX).
    w_k, h_k, off_x, off_y = (
        m.flatten(1).gather(1, pix)
        for m in (wh[:, 0], wh[:, 1], offset[:, 0], offset[:, 1]))
    ctr_x = xs.to(w_k.dtype) + off_x
    ctr_y = ys.to(w_k.dtype) + off_y
    stride_x = input_hw[1] / width
    stride_y = input_hw[0] / height
    half_w, half_h = w_k / 2, h_k / 2
    dets = torch.stack([(ctr_x - half_w) * stride_x,
                        (ctr_y - half_h) * stride_y,
                        (ctr_x + half_w) * stride_x,
                        (ctr_y + half_h) * stride_y, scores], dim=2)
    return dets, labels


@FUNCTIONS.register_module()
def centerx_sparse(heatmap_logits: Tensor, kernel: int = 3) -> Tensor:
    """Sparse output mode of the design notes: heatmap probabilities that are
    zero except at 3x3 peaks, for runtimes that scan a threshold themselves
    (then ``box = (x + off_x -+ w / 2, y + off_y -+ h / 2) * stride`` at each
    cell above it, see :func:`centerx_mm.apis.sparse_to_dets`).

    Args:
        heatmap_logits (Tensor): (B, C, H, W) pre-sigmoid class heatmap.
        kernel (int): peak max-pool window.

    Returns:
        Tensor: (B, C, H, W) ``sigmoid(heatmap_logits)`` at local maxima, 0
        elsewhere (:func:`centerx_peaks`).
    """
    return centerx_peaks(heatmap_logits.sigmoid(), kernel)
