from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from mmengine.model import bias_init_with_prob, normal_init
from mmengine.structures import InstanceData
from torch import Tensor

from centerx_mm.registry import MODELS
from centerx_mm.structures import restore_boxes
from ..utils import centernet_targets, decode_head_outputs


def split_metas(args: tuple,
                rescale: bool) -> Tuple[tuple, List[dict], bool]:
    """``(*maps, batch_img_metas[, rescale])`` -> ``(maps, metas,
    rescale)``."""
    if args and isinstance(args[-1], bool):
        args, rescale = args[:-1], args[-1]
    if not args or not isinstance(args[-1], (list, tuple)):
        raise TypeError('predict_by_feat needs batch_img_metas')
    return tuple(args[:-1]), args[-1], rescale


@MODELS.register_module()
class CenterXHead(BaseDenseHead):
    """CenterNet head ("Objects as Points", Zhou et al. 2019) on one stride-4
    feature map.

    Three branches (3x3 conv + ReLU + 1x1 conv): class-wise heatmap logits
    (C channels, bias init -2.19 = logit of 0.1), class-agnostic ``wh`` (2)
    and ``offset`` (2), both in feature cells. Differences from mmdet's
    ``CenterNetHead``: the heatmap is returned as logits and its focal loss
    is computed from logits (no ``log(0)``), targets are generated for the
    whole batch without Python loops (:func:`centernet_targets`), and
    decoding is :func:`centerx_decode`, the function that is also exported.

    Args:
        num_classes (int): C.
        in_channels (int): channels of the neck output.
        feat_channels (int): channels of each branch's hidden conv.
        loss_heatmap, loss_wh, loss_offset (dict): loss configs; wh/offset
            losses are L1 at object centres, averaged over 2x objects.
        min_overlap (float): Gaussian radius IoU (CornerNet), 0.3 as mmdet.
        test_cfg (dict): ``topk`` (K boxes per image), ``local_maximum_kernel``
            (peak window), optional ``score_thr``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 64,
                 feat_channels: int = 64,
                 loss_heatmap: ConfigType = dict(
                     type='GaussianFocalLossWithLogits', loss_weight=1.0),
                 loss_wh: ConfigType = dict(type='L1Loss', loss_weight=0.1),
                 loss_offset: ConfigType = dict(
                     type='L1Loss', loss_weight=1.0),
                 min_overlap: float = 0.3,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.min_overlap = min_overlap
        self.heatmap_head = self._build_branch(in_channels, feat_channels,
                                               num_classes)
        self.wh_head = self._build_branch(in_channels, feat_channels, 2)
        self.offset_head = self._build_branch(in_channels, feat_channels, 2)
        self.loss_heatmap = MODELS.build(loss_heatmap)
        self.loss_wh = MODELS.build(loss_wh)
        self.loss_offset = MODELS.build(loss_offset)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict(
            topk=100, local_maximum_kernel=3)

    @staticmethod
    def _build_branch(in_channels: int, feat_channels: int,
                      out_channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(in_channels, feat_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(feat_channels, out_channels, kernel_size=1))

    #: names of :meth:`forward`'s outputs (export, distillation).
    out_names = ('heatmap_logits', 'wh', 'offset')
    #: the box regression branches (small normal init).
    box_branches = ('wh_head', 'offset_head')
    #: target generation, called by :meth:`get_targets`.
    targets_fn = staticmethod(centernet_targets)

    def init_weights(self) -> None:
        self.heatmap_head[-1].bias.data.fill_(bias_init_with_prob(0.1))
        for name in self.box_branches:
            for m in getattr(self, name).modules():
                if isinstance(m, nn.Conv2d):
                    normal_init(m, std=0.001)

    def forward(self, x: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        """Args: x: neck outputs, the last one (B, in_channels, H, W) is used.

        Returns:
            tuple: ``heatmap_logits`` (B, C, H, W), ``wh`` (B, 2, H, W),
            ``offset`` (B, 2, H, W) (:attr:`out_names`).
        """
        feat = x[-1] if isinstance(x, (list, tuple)) else x
        return (self.heatmap_head(feat), self.wh_head(feat),
                self.offset_head(feat))

    def target_options(self) -> dict:
        """Keyword arguments of :meth:`targets_fn` besides the boxes."""
        return dict(min_overlap=self.min_overlap)

    def get_targets(self, batch_gt_instances: InstanceList,
                    feat_shape: torch.Size,
                    input_hw: Tuple[int, int]) -> Tuple[dict, int]:
        """Targets for the batch: :func:`centernet_targets` here
        (:attr:`targets_fn`)."""
        return self.targets_fn(
            [gt.bboxes for gt in batch_gt_instances],
            [gt.labels for gt in batch_gt_instances],
            self.num_classes,
            feat_hw=tuple(feat_shape[-2:]),
            input_hw=tuple(input_hw[:2]),
            **self.target_options())

    def heatmap_loss_weight(self, batch_img_metas: List[dict],
                            heatmap: Tensor) -> Optional[Tensor]:
        """Per-image, per-class weight of the heatmap loss, (B, C, 1, 1), or
        None. An image whose meta has ``annotated_labels`` (partially
        labelled data) gets weight 0 for the classes its dataset does not
        annotate ("ignore unlabelled")."""
        if not any('annotated_labels' in m for m in batch_img_metas):
            return None
        weight = heatmap.new_ones(heatmap.shape[:2])
        for i, meta in enumerate(batch_img_metas):
            labels = meta.get('annotated_labels')
            if labels is not None:
                weight[i] = 0
                weight[i, list(labels)] = 1
        return weight[:, :, None, None]

    def heatmap_loss(self, heatmap_logits: Tensor, target: Tensor,
                     batch_img_metas: List[dict],
                     avg_factor: int) -> Tensor:
        """``loss_heatmap`` of (B, C, H, W) logits against the Gaussian
        ``target``, per object (``avg_factor``), unlabelled classes of
        partially labelled images weighted 0
        (:meth:`heatmap_loss_weight`)."""
        return self.loss_heatmap(
            heatmap_logits,
            target,
            weight=self.heatmap_loss_weight(batch_img_metas, heatmap_logits),
            avg_factor=avg_factor)

    def loss_by_feat(self,
                     heatmap_logits: Tensor,
                     wh: Tensor,
                     offset: Tensor,
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: Optional[InstanceList] = None
                     ) -> dict:
        """Losses: ``loss_heatmap`` (Gaussian focal, per object), ``loss_wh``
        and ``loss_offset`` (L1 at centres, per object and channel). The
        losses and targets run in fp32 (also under autocast)."""
        heatmap_logits, wh, offset = (heatmap_logits.float(), wh.float(),
                                      offset.float())
        targets, avg_factor = self.get_targets(
            batch_gt_instances, heatmap_logits.shape,
            batch_img_metas[0]['batch_input_shape'])
        weight = targets['wh_offset_weight']
        return dict(
            loss_heatmap=self.heatmap_loss(heatmap_logits, targets['heatmap'],
                                           batch_img_metas, avg_factor),
            loss_wh=self.loss_wh(
                wh, targets['wh'], weight, avg_factor=avg_factor * 2),
            loss_offset=self.loss_offset(
                offset, targets['offset'], weight, avg_factor=avg_factor * 2))

    def decode(self, *head_outs: Tensor,
               input_hw: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """:func:`centerx_decode` of :meth:`forward`'s outputs with
        ``test_cfg``'s ``topk`` and ``local_maximum_kernel``: dets (B, K, 5)
        and labels (B, K) in pixels of the network input of size
        ``input_hw`` (H, W). The one decode of ``predict`` and of the
        mmdeploy rewriter."""
        return decode_head_outputs(
            head_outs,
            input_hw=input_hw,
            topk=self.test_cfg.get('topk', 100),
            kernel=self.test_cfg.get('local_maximum_kernel', 3))

    def predict_by_feat(self,
                        *head_outs: Tensor,
                        batch_img_metas: Optional[List[dict]] = None,
                        rescale: bool = True) -> InstanceList:
        """Decode :meth:`forward`'s outputs with :func:`centerx_decode`,
        then map boxes back to the original image with
        :func:`centerx_mm.structures.restore_boxes` (undo ``border`` /
        ``pad_param`` padding, divide by ``scale_factor``, clip to
        ``ori_shape``), the function the exported runtimes use too.

        ``batch_img_metas`` (and ``rescale``) may also follow the maps
        positionally, as in mmdet's ``CenterNetHead.predict_by_feat``."""
        if batch_img_metas is None:
            head_outs, batch_img_metas, rescale = split_metas(
                head_outs, rescale)
        dets, labels = self.decode(
            *head_outs, input_hw=batch_img_metas[0]['batch_input_shape'])
        score_thr = self.test_cfg.get('score_thr', 0.0)
        results = []
        for img_dets, img_labels, meta in zip(dets, labels, batch_img_metas):
            bboxes = restore_boxes(img_dets[:, :4].clone(), meta, rescale)
            keep = img_dets[:, 4] > score_thr
            result = InstanceData()
            result.bboxes = bboxes[keep]
            result.scores = img_dets[keep, 4]
            result.labels = img_labels[keep]
            results.append(result)
        return results
