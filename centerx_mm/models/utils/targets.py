"""Vectorised CenterNet target generation (all boxes of a batch at once).

Gives the same targets as mmdet 3.3 ``CenterNetHead.get_targets`` (which loops
in Python over images and boxes) for boxes inside the image, in one pass of
tensor ops: tested equal in ``tests/test_models/test_targets.py``, timed in
``tools/benchmark/bench_targets.py``.
"""
from typing import List, Tuple

import torch
from torch import Tensor


def gaussian_radius(box_h: Tensor, box_w: Tensor,
                    min_overlap: float = 0.3) -> Tensor:
    """CornerNet Gaussian radius, elementwise (mmdet ``gaussian_radius``).

    Args:
        box_h, box_w (Tensor): box sizes in feature-map cells, shape (N,).
        min_overlap (float): minimum IoU of a box whose corners are shifted
            by the radius.

    Returns:
        Tensor: radius (float, not truncated), shape (N,).
    """
    b1 = box_h + box_w
    c1 = box_w * box_h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 - torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (box_h + box_w)
    c2 = (1 - min_overlap) * box_w * box_h
    r2 = (b2 - torch.sqrt(b2**2 - 16 * c2)) / 8
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (box_h + box_w)
    c3 = (min_overlap - 1) * box_w * box_h
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / (2 * a3)
    return torch.minimum(torch.minimum(r1, r2), r3)


def centernet_targets(gt_bboxes: List[Tensor],
                      gt_labels: List[Tensor],
                      num_classes: int,
                      feat_hw: Tuple[int, int],
                      input_hw: Tuple[int, int],
                      min_overlap: float = 0.3) -> Tuple[dict, int]:
    """CenterNet training targets for a batch, without a per-box loop.

    Boxes are clipped to the input image first; boxes that are empty after
    clipping (zero width or height) produce no target. Where two boxes share a
    centre cell, the later box wins the wh/offset target (as in mmdet), and
    heatmaps of overlapping Gaussians take the elementwise maximum.

    Args:
        gt_bboxes (list[Tensor]): per image (n_i, 4) boxes, x1y1x2y2, in
            input-image pixels.
        gt_labels (list[Tensor]): per image (n_i,) class indices in
            [0, num_classes).
        num_classes (int): C, heatmap channels.
        feat_hw (tuple): (H, W) of the output maps.
        input_hw (tuple): (H_in, W_in) of the padded network input.
        min_overlap (float): ``gaussian_radius`` IoU.

    Returns:
        tuple[dict, int]: dict with ``heatmap`` (B, C, H, W) in [0, 1],
        ``wh`` (B, 2, H, W) box size in feature cells, ``offset`` (B, 2, H, W)
        sub-cell centre offset in [0, 1), ``wh_offset_weight`` (B, 2, H, W)
        1 at centre cells; and ``avg_factor`` = max(1, number of heatmap
        cells equal to 1).
    """
    batch_size = len(gt_bboxes)
    feat_h, feat_w = feat_hw
    ref = gt_bboxes[0] if batch_size else torch.zeros(0, 4)
    device, dtype = ref.device, torch.float32
    heatmap = torch.zeros(batch_size * num_classes * feat_h * feat_w,
                          device=device, dtype=dtype)
    wh = torch.zeros(batch_size, 2, feat_h * feat_w, device=device,
                     dtype=dtype)
    offset = torch.zeros_like(wh)
    weight = torch.zeros_like(wh)

    counts = torch.tensor([len(b) for b in gt_bboxes], device=device)
    if batch_size == 0 or int(counts.sum()) == 0:
        targets = dict(
            heatmap=heatmap.view(batch_size, num_classes, feat_h, feat_w),
            wh=wh.view(batch_size, 2, feat_h, feat_w),
            offset=offset.view(batch_size, 2, feat_h, feat_w),
            wh_offset_weight=weight.view(batch_size, 2, feat_h, feat_w))
        return targets, 1

    boxes = torch.cat(gt_bboxes).to(dtype)
    labels = torch.cat(gt_labels).long()
    batch_ids = torch.repeat_interleave(
        torch.arange(batch_size, device=device), counts)
    in_h, in_w = input_hw
    boxes = torch.stack([
        boxes[:, 0].clamp(0, in_w), boxes[:, 1].clamp(0, in_h),
        boxes[:, 2].clamp(0, in_w), boxes[:, 3].clamp(0, in_h)
    ], 1)
    width_ratio = float(feat_w / in_w)
    height_ratio = float(feat_h / in_h)
    box_w = (boxes[:, 2] - boxes[:, 0]) * width_ratio
    box_h = (boxes[:, 3] - boxes[:, 1]) * height_ratio
    valid = (box_w > 0) & (box_h > 0) & (labels >= 0) & (
        labels < num_classes)
    boxes, labels, batch_ids = boxes[valid], labels[valid], batch_ids[valid]
    box_w, box_h = box_w[valid], box_h[valid]
    # Same float expression order as mmdet, so centre cells agree exactly.
    ctr_x = (boxes[:, 0] + boxes[:, 2]) * width_ratio / 2
    ctr_y = (boxes[:, 1] + boxes[:, 3]) * height_ratio / 2
    ctr_x_int = ctr_x.int().long().clamp(0, feat_w - 1)
    ctr_y_int = ctr_y.int().long().clamp(0, feat_h - 1)
    num_boxes = len(boxes)
    if num_boxes:
        radius = gaussian_radius(box_h, box_w, min_overlap).int().clamp(
            min=0).long()
        max_r = int(radius.max())
        # Window of (2R+1)^2 cells around every centre.
        steps = torch.arange(-max_r, max_r + 1, device=device)
        dy, dx = torch.meshgrid(steps, steps, indexing='ij')
        dy, dx = dy.reshape(1, -1), dx.reshape(1, -1)
        r = radius.view(-1, 1)
        # sigma = diameter / 6; 2*sigma^2 in float64 then float32, as mmdet.
        sigma = (2 * r + 1).double() / 6
        gauss = torch.exp(-(dx * dx + dy * dy).to(dtype) /
                          (2 * sigma * sigma).to(dtype))
        keep = (dx.abs() <= r) & (dy.abs() <= r) & (
            gauss >= torch.finfo(dtype).eps)
        xs = ctr_x_int.view(-1, 1) + dx
        ys = ctr_y_int.view(-1, 1) + dy
        keep &= (xs >= 0) & (xs < feat_w) & (ys >= 0) & (ys < feat_h)
        plane = (batch_ids * num_classes + labels).view(-1, 1)
        flat = (plane * feat_h + ys) * feat_w + xs
        heatmap.scatter_reduce_(
            0, flat[keep], gauss[keep], reduce='amax', include_self=True)
        # Cells equal to 1 are exactly the distinct scattered centres (every
        # other Gaussian value is < 1): count them without scanning the map.
        num_peaks = torch.unique(flat[keep & (gauss == 1)]).numel()

        # wh / offset at centre cells; the last box at a cell wins (mmdet).
        cell = ctr_y_int * feat_w + ctr_x_int
        slot = batch_ids * feat_h * feat_w + cell
        order = torch.arange(num_boxes, device=device)
        winner = torch.full((batch_size * feat_h * feat_w, ), -1,
                            device=device, dtype=torch.long)
        winner.scatter_reduce_(0, slot, order, reduce='amax')
        win = winner[slot] == order
        b, c = batch_ids[win], cell[win]
        wh[b, 0, c] = box_w[win]
        wh[b, 1, c] = box_h[win]
        offset[b, 0, c] = (ctr_x - ctr_x_int)[win]
        offset[b, 1, c] = (ctr_y - ctr_y_int)[win]
        weight[b, :, c] = 1

    else:
        num_peaks = 0
    heatmap = heatmap.view(batch_size, num_classes, feat_h, feat_w)
    avg_factor = max(1, int(num_peaks))
    targets = dict(
        heatmap=heatmap,
        wh=wh.view(batch_size, 2, feat_h, feat_w),
        offset=offset.view(batch_size, 2, feat_h, feat_w),
        wh_offset_weight=weight.view(batch_size, 2, feat_h, feat_w))
    return targets, avg_factor
