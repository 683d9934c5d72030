"""Vectorised CenterNet target generation (all boxes of a batch at once).

Gives the same targets as mmdet 3.3 ``CenterNetHead.get_targets`` (which loops
in Python over images and boxes) for boxes inside the image, in one pass of
tensor ops: tested equal in ``tests/test_models/test_targets.py``, timed in
``tools/benchmark/bench_targets.py``.
"""
import math
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


def _clip_valid_boxes(gt_bboxes: List[Tensor], gt_labels: List[Tensor],
                      num_classes: int, feat_hw: Tuple[int, int],
                      input_hw: Tuple[int, int]) -> dict:
    """Concatenate a batch's boxes, clip them to the input, drop empty ones
    and unknown labels; sizes and centres in feature cells (as
    :func:`centernet_targets`)."""
    device = gt_bboxes[0].device
    counts = torch.tensor([len(b) for b in gt_bboxes], device=device)
    boxes = torch.cat(gt_bboxes).float()
    labels = torch.cat(gt_labels).long()
    batch_ids = torch.repeat_interleave(
        torch.arange(len(gt_bboxes), device=device), counts)
    in_h, in_w = input_hw
    feat_h, feat_w = feat_hw
    boxes = torch.stack([
        boxes[:, 0].clamp(0, in_w), boxes[:, 1].clamp(0, in_h),
        boxes[:, 2].clamp(0, in_w), boxes[:, 3].clamp(0, in_h)
    ], 1)
    ratio = boxes.new_tensor([feat_w / in_w, feat_h / in_h] * 2)
    feat_boxes = boxes * ratio
    box_w = feat_boxes[:, 2] - feat_boxes[:, 0]
    box_h = feat_boxes[:, 3] - feat_boxes[:, 1]
    # NaN sizes fail both comparisons and are dropped too.
    valid = (box_w > 0) & (box_h > 0) & (labels >= 0) & (
        labels < num_classes)
    feat_boxes, boxes = feat_boxes[valid], boxes[valid]
    ctr_x = (feat_boxes[:, 0] + feat_boxes[:, 2]) / 2
    ctr_y = (feat_boxes[:, 1] + feat_boxes[:, 3]) / 2
    return dict(
        feat_boxes=feat_boxes,
        area=(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]),
        labels=labels[valid],
        batch_ids=batch_ids[valid],
        box_w=box_w[valid],
        box_h=box_h[valid],
        ctr_x_int=ctr_x.int().long().clamp(0, feat_w - 1),
        ctr_y_int=ctr_y.int().long().clamp(0, feat_h - 1))


def elliptical_gaussians(ctr_x_int: Tensor, ctr_y_int: Tensor,
                         radius_x: Tensor, radius_y: Tensor,
                         feat_hw: Tuple[int, int]
                         ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Truncated 2D Gaussians of TTFNet (Liu et al. 2020, ``gaussian_2d``)
    around N centre cells, all at once.

    ``sigma_x = (2 r_x + 1) / 6``, ``sigma_y = (2 r_y + 1) / 6``; cells
    outside the ``(2 r_x + 1) x (2 r_y + 1)`` window, outside the map, or
    below ``eps * max`` are dropped.

    Args:
        ctr_x_int, ctr_y_int (Tensor): (N,) centre cells.
        radius_x, radius_y (Tensor): (N,) integer radii >= 0, in cells.
        feat_hw (tuple): (H, W) of the map.

    Returns:
        tuple: ``box`` (M,) index of the Gaussian of each kept cell, ``xs``,
        ``ys`` (M,) its cell, ``value`` (M,) in (0, 1], 1 at the centre.
    """
    feat_h, feat_w = feat_hw
    device = ctr_x_int.device
    max_rx, max_ry = int(radius_x.max()), int(radius_y.max())
    dy, dx = torch.meshgrid(
        torch.arange(-max_ry, max_ry + 1, device=device),
        torch.arange(-max_rx, max_rx + 1, device=device),
        indexing='ij')
    dx, dy = dx.reshape(1, -1), dy.reshape(1, -1)
    rx, ry = radius_x.view(-1, 1), radius_y.view(-1, 1)
    sigma_x = (2 * rx + 1).float() / 6
    sigma_y = (2 * ry + 1).float() / 6
    value = torch.exp(-(dx * dx / (2 * sigma_x * sigma_x) +
                        dy * dy / (2 * sigma_y * sigma_y)))
    xs = ctr_x_int.view(-1, 1) + dx
    ys = ctr_y_int.view(-1, 1) + dy
    keep = (dx.abs() <= rx) & (dy.abs() <= ry) & (
        value >= torch.finfo(value.dtype).eps) & (xs >= 0) & (
            xs < feat_w) & (ys >= 0) & (ys < feat_h)
    box = torch.arange(len(rx), device=device).view(-1, 1).expand_as(keep)
    return box[keep], xs[keep], ys[keep], value[keep]


def ttf_targets(gt_bboxes: List[Tensor],
                gt_labels: List[Tensor],
                num_classes: int,
                feat_hw: Tuple[int, int],
                input_hw: Tuple[int, int],
                alpha: float = 0.54,
                beta: float = 0.54,
                heatmap_gaussian: str = 'elliptical',
                min_overlap: float = 0.3) -> Tuple[dict, int]:
    """Training targets of a "training-time-friendly" head (TTFNet, Liu et
    al., AAAI 2020) for a batch, without a per-box loop.

    - ``heatmap``: per class, the max of the boxes' Gaussians at their
      centre cells; ``'elliptical'``: TTFNet's, radii ``alpha * (w / 2,
      h / 2)``; ``'circular'``: CenterNet's CornerNet radius
      (:func:`centernet_targets`).
    - ``ltrb``: at every cell of the ``beta`` Gaussian around a centre
      (not only at the centre), the distances from the cell centre
      (x + 0.5, y + 0.5) to the box's left, top, right and bottom sides
      (negative only for a box under one cell wide). Where regions overlap, the smaller
      box wins (TTFNet). A box whose region is one cell (tiny boxes) still
      regresses at its centre cell.
    - ``reg_weight``: TTFNet's GIoU weight, ``G(cell) / sum(G) *
      log(area)`` of the box that owns the cell (``area`` in input pixels,
      clamped at e so a tiny box still weighs 1); 0 elsewhere.

    Args:
        gt_bboxes (list[Tensor]): per image (n_i, 4) x1y1x2y2 in input
            pixels; clipped to the input, empty boxes (zero or NaN size) and
            labels outside [0, num_classes) give no target.
        gt_labels (list[Tensor]): per image (n_i,) class indices.
        num_classes (int): C.
        feat_hw (tuple): (H, W) of the output maps.
        input_hw (tuple): (H_in, W_in) of the padded network input.
        alpha, beta (float): TTFNet's heatmap and regression Gaussian
            scales (0.54 in the paper).
        heatmap_gaussian (str): ``'elliptical'`` or ``'circular'``.
        min_overlap (float): CornerNet radius IoU of ``'circular'``.

    Returns:
        tuple[dict, int]: ``heatmap`` (B, C, H, W) in [0, 1], ``ltrb``
        (B, 4, H, W) in feature cells, ``reg_weight`` (B, 1, H, W) >= 0;
        and ``avg_factor`` = max(1, number of heatmap cells equal to 1).
    """
    if heatmap_gaussian not in ('elliptical', 'circular'):
        raise ValueError("heatmap_gaussian must be 'elliptical' or "
                         f"'circular', got {heatmap_gaussian!r}")
    batch_size = len(gt_bboxes)
    feat_h, feat_w = feat_hw
    device = gt_bboxes[0].device if batch_size else torch.device('cpu')
    heatmap = torch.zeros(batch_size * num_classes * feat_h * feat_w,
                          device=device)
    ltrb = torch.zeros(batch_size, feat_h * feat_w, 4, device=device)
    reg_weight = torch.zeros(batch_size * feat_h * feat_w, device=device)
    num_peaks = 0
    if batch_size and sum(len(b) for b in gt_bboxes):
        gt = _clip_valid_boxes(gt_bboxes, gt_labels, num_classes, feat_hw,
                               input_hw)
        num_peaks = _ttf_fill(gt, heatmap, ltrb, reg_weight, num_classes,
                              feat_hw, alpha, beta, heatmap_gaussian,
                              min_overlap)
    targets = dict(
        heatmap=heatmap.view(batch_size, num_classes, feat_h, feat_w),
        ltrb=ltrb.view(batch_size, feat_h, feat_w,
                       4).permute(0, 3, 1, 2).contiguous(),
        reg_weight=reg_weight.view(batch_size, 1, feat_h, feat_w))
    return targets, max(1, num_peaks)


def _ttf_fill(gt: dict, heatmap: Tensor, ltrb: Tensor, reg_weight: Tensor,
              num_classes: int, feat_hw: Tuple[int, int], alpha: float,
              beta: float, heatmap_gaussian: str, min_overlap: float) -> int:
    """Scatter the valid boxes ``gt`` (:func:`_clip_valid_boxes`) into the
    flat target buffers of :func:`ttf_targets`; returns the peak count."""
    num_boxes = len(gt['labels'])
    if num_boxes == 0:
        return 0
    feat_h, feat_w = feat_hw
    box_w, box_h = gt['box_w'], gt['box_h']
    cx, cy, bid = gt['ctr_x_int'], gt['ctr_y_int'], gt['batch_ids']

    # Heatmap: per-class max of the boxes' Gaussians.
    if heatmap_gaussian == 'circular':
        radius_x = gaussian_radius(box_h, box_w, min_overlap).int().clamp(
            min=0).long()
        radius_y = radius_x
    else:
        radius_x = (alpha * box_w / 2).int().long()
        radius_y = (alpha * box_h / 2).int().long()
    box, xs, ys, value = elliptical_gaussians(cx, cy, radius_x, radius_y,
                                              feat_hw)
    plane = bid[box] * num_classes + gt['labels'][box]
    flat = (plane * feat_h + ys) * feat_w + xs
    heatmap.scatter_reduce_(0, flat, value, reduce='amax', include_self=True)
    num_peaks = torch.unique(flat[value == 1]).numel()

    # Regression region: the beta Gaussian; the smallest box wins a cell.
    box, xs, ys, value = elliptical_gaussians(
        cx, cy, (beta * box_w / 2).int().long(),
        (beta * box_h / 2).int().long(), feat_hw)
    slot = (bid[box] * feat_h + ys) * feat_w + xs
    rank = torch.empty_like(gt['area'], dtype=torch.long)
    rank[gt['area'].argsort(descending=True, stable=True)] = torch.arange(
        num_boxes, device=rank.device)
    winner = torch.full_like(reg_weight, -1, dtype=torch.long)
    winner.scatter_reduce_(0, slot, rank[box], reduce='amax')
    win = winner[slot] == rank[box]
    region_sum = torch.zeros(num_boxes, device=value.device).index_add_(
        0, box, value)
    log_area = gt['area'].clamp(min=math.e).log()
    weight = value / region_sum[box] * log_area[box]
    fb = gt['feat_boxes'][box]
    # Anchor at the cell centre (TTFNet: its corner), so that a box of
    # >= 1 cell always contains the anchor of its centre cell.
    xs_f, ys_f = xs.float() + 0.5, ys.float() + 0.5
    dist = torch.stack(
        [xs_f - fb[:, 0], ys_f - fb[:, 1], fb[:, 2] - xs_f, fb[:, 3] - ys_f],
        dim=1)
    ltrb.view(-1, 4)[slot[win]] = dist[win]
    reg_weight[slot[win]] = weight[win]
    return num_peaks
