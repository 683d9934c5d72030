import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from torch import Tensor

from centerx_mm.registry import MODELS
from ..utils import ttf_targets
from .centerx_head import CenterXHead


@MODELS.register_module()
class CenterXTTFHead(CenterXHead):
    """Training-time-friendly CenterX head (TTFNet, Liu et al., AAAI 2020):
    the class heatmap of :class:`CenterXHead` plus ONE box branch that
    regresses the distances (l, t, r, b) from a cell centre to the four box
    sides, trained at every cell of a Gaussian area around each object
    centre (not only at the centre cell) with a GIoU loss. More positive
    samples per object is what makes TTFNet converge in 12 COCO epochs
    instead of CenterNet's 140.

    Shares :class:`CenterXHead`'s heatmap branch, focal loss,
    partial-label weighting, decode (:func:`centerx_decode`, the ltrb
    variant) and rescaling; only the box branch, targets
    (:func:`ttf_targets`) and box loss differ.

    Args:
        num_classes (int): C.
        in_channels (int): channels of the neck output.
        feat_channels (int): channels of each branch's hidden conv.
        loss_heatmap (dict): heatmap loss, as :class:`CenterXHead`.
        loss_bbox (dict): box loss on (x1, y1, x2, y2) boxes rebuilt from
            the ltrb maps, weighted per cell by ``G / sum(G) * log(area)``
            and divided by the weights' sum (TTFNet); mmdet ``GIoULoss``
            with weight 5 as in the paper.
        alpha (float): heatmap Gaussian radii ``alpha * (w, h) / 2``
            (``heatmap_gaussian='elliptical'``).
        beta (float): regression area radii ``beta * (w, h) / 2``.
        heatmap_gaussian (str): ``'elliptical'`` (TTFNet) or
            ``'circular'`` (CenterNet's CornerNet radius, ``min_overlap``).
        ltrb_scale (float): ``ltrb = relu(conv) * ltrb_scale``, in feature
            cells (TTFNet's ``wh_offset_base`` 16 px = 4 cells at stride 4).
        min_overlap (float): CornerNet radius IoU of ``'circular'``.
        ltrb_init_bias (float): initial bias of the last ltrb conv (its
            weights are normal, std 0.001, as TTFNet's). 0 (TTFNet) starts
            every box at size ~0, where the GIoU gradient vanishes (about
            1e-5 on the branch from random init vs 0.45 at 1.0, measured in
            docs/experiments_adaptive_loss.md): adaptive optimizers (AdamW,
            the recipe) escape it, SGD does not. 1.0 starts the boxes at
            ``ltrb_scale`` cells per side; use it with SGD.
        test_cfg (dict): as :class:`CenterXHead`.
    """

    out_names = ('heatmap_logits', 'ltrb')
    box_branches = ('ltrb_head', )

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 64,
                 feat_channels: int = 64,
                 loss_heatmap: ConfigType = dict(
                     type='GaussianFocalLossWithLogits', loss_weight=1.0),
                 loss_bbox: ConfigType = dict(
                     type='GIoULoss', loss_weight=5.0),
                 alpha: float = 0.54,
                 beta: float = 0.54,
                 heatmap_gaussian: str = 'elliptical',
                 ltrb_scale: float = 4.0,
                 min_overlap: float = 0.3,
                 ltrb_init_bias: float = 0.0,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        BaseDenseHead.__init__(self, init_cfg=init_cfg)
        if heatmap_gaussian not in ('elliptical', 'circular'):
            raise ValueError(
                "CenterXTTFHead.heatmap_gaussian must be 'elliptical' or "
                f"'circular', got {heatmap_gaussian!r}")
        for name, value in (('alpha', alpha), ('beta', beta),
                            ('ltrb_scale', ltrb_scale)):
            if not value > 0:
                raise ValueError(
                    f'CenterXTTFHead.{name} must be > 0, got {value!r}')
        if not math.isfinite(ltrb_init_bias):
            raise ValueError('CenterXTTFHead.ltrb_init_bias must be finite, '
                             f'got {ltrb_init_bias!r}')
        self.num_classes = num_classes
        self.alpha = alpha
        self.beta = beta
        self.heatmap_gaussian = heatmap_gaussian
        self.ltrb_scale = ltrb_scale
        self.min_overlap = min_overlap
        self.ltrb_init_bias = float(ltrb_init_bias)
        self.heatmap_head = self._build_branch(in_channels, feat_channels,
                                               num_classes)
        self.ltrb_head = self._build_branch(in_channels, feat_channels, 4)
        self.loss_heatmap = MODELS.build(loss_heatmap)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict(
            topk=100, local_maximum_kernel=3)

    def init_weights(self) -> None:
        super().init_weights()
        self.ltrb_head[-1].bias.data.fill_(self.ltrb_init_bias)

    def forward(self, x: Tuple[Tensor, ...]) -> Tuple[Tensor, Tensor]:
        """Args: x: neck outputs, the last one (B, in_channels, H, W) is used.

        Returns:
            tuple: ``heatmap_logits`` (B, C, H, W) and ``ltrb``
            (B, 4, H, W) >= 0, distances in feature cells.
        """
        feat = x[-1] if isinstance(x, (list, tuple)) else x
        ltrb = nn.functional.relu(self.ltrb_head(feat)) * self.ltrb_scale
        return self.heatmap_head(feat), ltrb

    targets_fn = staticmethod(ttf_targets)

    def target_options(self) -> dict:
        """:func:`ttf_targets` options."""
        return dict(
            alpha=self.alpha,
            beta=self.beta,
            heatmap_gaussian=self.heatmap_gaussian,
            min_overlap=self.min_overlap)

    @staticmethod
    def ltrb_to_boxes(ltrb: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
        """(N, 4) distances from the cell centres (xs + 0.5, ys + 0.5) ->
        (N, 4) boxes x1y1x2y2, both in feature cells."""
        ax, ay = xs + 0.5, ys + 0.5
        return torch.stack([
            ax - ltrb[:, 0], ay - ltrb[:, 1], ax + ltrb[:, 2],
            ay + ltrb[:, 3]
        ], dim=1)

    def loss_by_feat(self,
                     heatmap_logits: Tensor,
                     ltrb: Tensor,
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: Optional[InstanceList] = None
                     ) -> dict:
        """Losses: ``loss_heatmap`` (Gaussian focal, per object) and
        ``loss_bbox`` (GIoU at every cell of the objects' regression areas,
        TTFNet's weights). The losses and targets run in fp32."""
        heatmap_logits, ltrb = heatmap_logits.float(), ltrb.float()
        targets, avg_factor = self.get_targets(
            batch_gt_instances, heatmap_logits.shape,
            batch_img_metas[0]['batch_input_shape'])
        weight = targets['reg_weight'].flatten()
        pos = weight.nonzero().squeeze(1)
        width = ltrb.shape[-1]
        cell = pos % (ltrb.shape[-2] * width)
        xs, ys = (cell % width).float(), (cell // width).float()
        pred = ltrb.permute(0, 2, 3, 1).reshape(-1, 4)[pos]
        target = targets['ltrb'].permute(0, 2, 3, 1).reshape(-1, 4)[pos]
        pos_weight = weight[pos]
        return dict(
            loss_heatmap=self.heatmap_loss(heatmap_logits, targets['heatmap'],
                                           batch_img_metas, avg_factor),
            loss_bbox=self.loss_bbox(
                self.ltrb_to_boxes(pred, xs, ys),
                self.ltrb_to_boxes(target, xs, ys),
                weight=pos_weight,
                avg_factor=pos_weight.sum().clamp(min=1e-4)))
