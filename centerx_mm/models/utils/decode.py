"""CenterNet decoding: the one implementation used by ``CenterXHead.predict``
and by every export path (``tools/export_onnx.py``, mmdeploy's ONNX Runtime
and TensorRT conversion through ``centerx_mm.deploy``), design notes
section "模型加速" (post-processing inside the network).

Exported with the TorchScript exporter (opset 11..17) it is made of standard
ONNX ops only: Reshape, MaxPool, Equal, Where, Flatten, TopK (constant K),
Sigmoid (on the K winners only), Relu (sizes clamped at 0), integer Div/Sub,
Cast, Gather, GatherElements, Mul, Add, Sub, Unsqueeze, Concat (plus Shape/Slice for dynamic
shapes). ``centerx_mm.deploy.trt_check`` checks an exported graph against the
ONNX-TensorRT 8.6 / 10.1 operator tables.
"""
from typing import Optional, Sequence, Tuple

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
                   reg: Tensor,
                   offset: Optional[Tensor] = None,
                   input_hw: Tuple[int, int] = None,
                   topk: int = 100,
                   kernel: int = 3) -> Tuple[Tensor, Tensor]:
    """Heads -> top-k boxes in network-input pixels (objects as points).

    Two box encodings share everything but the last lines:

    - classic CenterNet: ``reg`` = ``wh`` (B, 2, H, W) box width/height and
      ``offset`` (B, 2, H, W) centre offset, both in feature cells;
      box = ``(x + off_x -+ w / 2, y + off_y -+ h / 2) * stride``.
    - TTFNet (Liu et al., AAAI 2020), :class:`CenterXTTFHead`: ``reg`` =
      ``ltrb`` (B, 4, H, W) distances from the cell centre to the four box
      sides in feature cells, ``offset`` None; box = ``(x + 0.5 - l,
      y + 0.5 - t, x + 0.5 + r, y + 0.5 + b) * stride``.

    Peaks, top-K and the box arithmetic run in fp32 whatever the heads'
    dtype (an FP16 engine keeps sub-pixel boxes at >= 1024 px input): the
    heatmap and the K gathered values are cast to fp32 (no-ops, and no ONNX
    ``Cast``, in an fp32 graph). Sizes/distances are clamped at 0, so every
    box has ``x1 <= x2`` and ``y1 <= y2`` even from an untrained model.

    Args:
        heatmap_logits (Tensor): (B, C, H, W) pre-sigmoid class heatmap.
        reg (Tensor): (B, 2, H, W) ``wh`` or (B, 4, H, W) ``ltrb``.
        offset (Tensor, optional): (B, 2, H, W), with ``wh`` only.
        input_hw (tuple): (H_in, W_in) of the network input; boxes are
            scaled by H_in / H and W_in / W.
        topk (int): K, a constant (TensorRT: K < 3840). Must not exceed
            C * H * W.
        kernel (int): peak max-pool window.

    Returns:
        tuple[Tensor, Tensor]: ``dets`` (B, K, 5) fp32 as (x1, y1, x2, y2,
        score) sorted by score, and ``labels`` (B, K) int64 class indices.
    """
    batch, num_classes, height, width = heatmap_logits.shape
    if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
        if input_hw is None:
            raise ValueError('centerx_decode needs input_hw (H_in, W_in)')
        ltrb_mode = reg.shape[1] == 4 and offset is None
        if not ltrb_mode and (reg.shape[1] != 2 or offset is None):
            raise ValueError(
                'centerx_decode takes wh (B, 2, H, W) + offset (B, 2, H, W) '
                f'or ltrb (B, 4, H, W) without offset; got reg '
                f'{tuple(reg.shape)} and offset '
                f'{None if offset is None else tuple(offset.shape)}')
        if topk > num_classes * height * width:
            raise ValueError(
                f'test_cfg.topk={topk} exceeds the {num_classes}x{height}x'
                f'{width} heatmap cells; lower topk or enlarge the input.')
    # Peaks and top-K on fp32 logits (sigmoid is monotonic, so the same
    # cells win); the sigmoid then runs on the K winners only.
    peaks = centerx_peaks(heatmap_logits.float(), kernel, fill=float('-inf'))
    logits_k, inds = peaks.flatten(1).topk(topk, dim=1)
    scores = logits_k.sigmoid()
    area = height * width
    labels = torch.div(inds, area, rounding_mode='trunc')
    pix = inds - labels * area
    ys = torch.div(pix, width, rounding_mode='trunc')
    xs = (pix - ys * width).float()
    ys = ys.float()
    stride_x = input_hw[1] / width
    stride_y = input_hw[0] / height
    # One GatherElements per channel (no Expand/ConstantOfShape in ONNX).
    gathered = [
        reg[:, c].flatten(1).gather(1, pix).float().relu()
        for c in range(reg.shape[1])
    ]
    if offset is None:  # ltrb
        left, top, right, bottom = gathered
        ax, ay = xs + 0.5, ys + 0.5
        x1, y1, x2, y2 = ax - left, ay - top, ax + right, ay + bottom
    else:  # wh + offset
        half_w, half_h = gathered[0] / 2, gathered[1] / 2
        ctr_x = xs + offset[:, 0].flatten(1).gather(1, pix).float()
        ctr_y = ys + offset[:, 1].flatten(1).gather(1, pix).float()
        x1, y1 = ctr_x - half_w, ctr_y - half_h
        x2, y2 = ctr_x + half_w, ctr_y + half_h
    dets = torch.stack([
        x1 * stride_x, y1 * stride_y, x2 * stride_x, y2 * stride_y, scores
    ], dim=2)
    return dets, labels


def decode_head_outputs(head_outs: Sequence[Tensor],
                        input_hw: Tuple[int, int],
                        topk: int = 100,
                        kernel: int = 3) -> Tuple[Tensor, Tensor]:
    """:func:`centerx_decode` of a head's ``forward`` outputs:
    ``(heatmap_logits, wh, offset)`` (``CenterXHead``) or
    ``(heatmap_logits, ltrb)`` (``CenterXTTFHead``)."""
    heatmap_logits, reg, *offset = head_outs
    return centerx_decode(heatmap_logits, reg, offset[0] if offset else None,
                          input_hw, topk, kernel)


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
