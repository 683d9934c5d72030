"""CenterNet decoding: the one implementation used by ``CenterXHead.predict``
and by every export path (ONNX Runtime, TensorRT through mmdeploy).

Only standard ONNX ops: Sigmoid, MaxPool, GreaterOrEqual, Cast, Mul, TopK
(constant K), Div/Sub on integers, GatherElements, Concat. See
docs and ``../shared/reference`` for the TensorRT support tables.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def centerx_peaks(scores: Tensor, kernel: int = 3) -> Tensor:
    """Keep 3x3 local maxima of ``scores``, zero elsewhere ("pseudo NMS").

    FP16-safe replacement for the design notes' trick
    ``relu(x - maxpool(x) + 1e-9) * 1e9`` (1e9 overflows and 1e-9 underflows
    in FP16): the peak mask is a comparison cast to the input dtype.

    Args:
        scores (Tensor): (B, C, H, W) heatmap probabilities.
        kernel (int): max-pool window, odd.

    Returns:
        Tensor: (B, C, H, W), ``scores`` at local maxima, 0 elsewhere. Ties
        (plateaus) keep every tied cell, as mmdet's ``get_local_maximum``.
    """
    pad = (kernel - 1) // 2
    hmax = F.max_pool2d(scores, kernel, stride=1, padding=pad)
    return scores * (scores >= hmax).to(scores.dtype)


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
    peaks = centerx_peaks(heatmap_logits.sigmoid(), kernel)
    scores, inds = peaks.flatten(1).topk(topk, dim=1)
    area = height * width
    labels = torch.div(inds, area, rounding_mode='trunc')
    pix = inds - labels * area
    ys = torch.div(pix, width, rounding_mode='trunc')
    xs = pix - ys * width
    gather_idx = pix.unsqueeze(1).expand(-1, 2, -1)
    wh_k = wh.flatten(2).gather(2, gather_idx)
    off_k = offset.flatten(2).gather(2, gather_idx)
    ctr_x = xs.to(wh_k.dtype) + off_k[:, 0]
    ctr_y = ys.to(wh_k.dtype) + off_k[:, 1]
    stride_x = input_hw[1] / width
    stride_y = input_hw[0] / height
    half_w, half_h = wh_k[:, 0] / 2, wh_k[:, 1] / 2
    dets = torch.stack([(ctr_x - half_w) * stride_x,
                        (ctr_y - half_h) * stride_y,
                        (ctr_x + half_w) * stride_x,
                        (ctr_y + half_h) * stride_y, scores], dim=2)
    return dets, labels
