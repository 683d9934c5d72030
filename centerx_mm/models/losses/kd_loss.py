"""Logit distillation loss for CenterNet heads (design notes, "模型蒸馏").

CenterNet has no proposals to align, so the student imitates the teacher's
dense head maps directly: MSE on the class heatmap, mask-weighted L1 on the
``wh`` and ``offset`` regressions.
"""
from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor

from centerx_mm.registry import MODELS
from ..utils import centerx_peaks


@MODELS.register_module()
class KDLoss(nn.Module):
    """Teacher -> student loss on CenterX head outputs.

    All maps are (B, C, H, W) heatmap logits or (B, 2, H, W) ``wh``/``offset``
    in feature cells; teacher maps must already be aligned to the student's
    classes (channel c of the teacher heatmap teaches student class c).

    Terms (each multiplied by its own weight, logged under its own name):

    - ``loss_kd_heatmap``: mean squared error over every element.
      ``heatmap_mode='logits'``: on ``relu(logits)`` of both nets, the design
      notes' description ("过一个relu层，把负数去掉，然后做一个mse").
      ``heatmap_mode='prob'``: on ``sigmoid(logits)``, what the original
      centerX code computed (its heads already ended in a sigmoid, so its
      ReLU was a no-op). Note: in ``'logits'`` mode a student logit < 0
      gets no heatmap-KD gradient (ReLU), and a CenterX head starts with
      every logit at -2.19, so without GT losses (``use_gt=False``) the
      student heatmap cannot start learning from the teacher: use
      ``'prob'`` there.
    - ``loss_kd_wh`` / ``loss_kd_offset``: ``|student - teacher|`` at every
      pixel, averaged over the 2 channels, weighted by a per-pixel teacher
      mask M (B, 1, H, W) and divided by ``sum(M)`` (0 when ``sum(M)`` is
      0, so finite when the teacher has no peaks).
      ``mask='peaks'``: M = max over classes of the teacher's 3x3 local
      maxima of ``sigmoid(logits)`` (:func:`centerx_peaks`), each keeping
      its score, 0 elsewhere. ``mask='dense'``: M = max over classes of the
      teacher heatmap itself, in the representation of ``heatmap_mode``
      (``relu(logits)`` as in the notes, or ``sigmoid(logits)``).
      ``normalize_wh=True`` divides the wh error by the teacher's box size,
      ``max(|wh_teacher|, min_wh)`` per channel (a relative error).

    Args:
        heatmap_mode (str): ``'logits'`` or ``'prob'``.
        mask (str): ``'peaks'`` or ``'dense'``.
        peak_kernel (int): max-pool window of ``mask='peaks'``.
        normalize_wh (bool): relative wh error.
        min_wh (float): lower bound (feature cells) of the wh normaliser.
        loss_heatmap_weight, loss_wh_weight, loss_offset_weight (float):
            weights of the three terms.
    """

    def __init__(self,
                 heatmap_mode: str = 'logits',
                 mask: str = 'peaks',
                 peak_kernel: int = 3,
                 normalize_wh: bool = False,
                 min_wh: float = 1.0,
                 loss_heatmap_weight: float = 1.0,
                 loss_wh_weight: float = 0.1,
                 loss_offset_weight: float = 1.0) -> None:
        super().__init__()
        if heatmap_mode not in ('logits', 'prob'):
            raise ValueError(f"KDLoss.heatmap_mode must be 'logits' or "
                             f"'prob', got {heatmap_mode!r}")
        if mask not in ('peaks', 'dense'):
            raise ValueError(
                f"KDLoss.mask must be 'peaks' or 'dense', got {mask!r}")
        if min_wh <= 0:
            raise ValueError(f'KDLoss.min_wh must be > 0, got {min_wh}')
        self.heatmap_mode = heatmap_mode
        self.mask = mask
        self.peak_kernel = peak_kernel
        self.normalize_wh = normalize_wh
        self.min_wh = min_wh
        self.loss_heatmap_weight = loss_heatmap_weight
        self.loss_wh_weight = loss_wh_weight
        self.loss_offset_weight = loss_offset_weight

    def heatmap_repr(self, logits: Tensor) -> Tensor:
        """(B, C, H, W) logits -> the representation the heatmap MSE uses."""
        return logits.relu() if self.heatmap_mode == 'logits' \
            else logits.sigmoid()

    def heatmap_loss(self,
                     student_logits: Tensor,
                     teacher_logits: Tensor,
                     weight: Optional[Tensor] = None) -> Tensor:
        """Weighted mean of the squared heatmap difference (unweighted).

        ``weight`` broadcastable to (B, C, H, W), e.g. (B, C, 1, 1) to switch
        classes off; the mean is then taken over the weighted elements.
        """
        sq = (self.heatmap_repr(student_logits) -
              self.heatmap_repr(teacher_logits.detach())).float().pow(2)
        if weight is None:
            return sq.mean()
        weight = weight.expand_as(sq).float()
        return (sq * weight).sum() / weight.sum().clamp(min=1e-12)

    def regression_mask(self, teacher_logits: Tensor) -> Tensor:
        """Teacher heatmap logits (B, C, H, W) -> mask (B, 1, H, W) >= 0."""
        teacher_logits = teacher_logits.detach()
        if self.mask == 'peaks':
            heat = centerx_peaks(teacher_logits.sigmoid(), self.peak_kernel)
        else:
            heat = self.heatmap_repr(teacher_logits)
        return heat.amax(dim=1, keepdim=True)

    def regression_loss(self,
                        student: Tensor,
                        teacher: Tensor,
                        mask: Tensor,
                        normalizer: Optional[Tensor] = None) -> Tensor:
        """``sum(M * mean_k |s_k - t_k| / n_k) / sum(M)``, 0 if sum(M)=0.

        Args:
            student, teacher (Tensor): (B, 2, H, W).
            mask (Tensor): (B, 1, H, W) per-pixel weight M.
            normalizer (Tensor, optional): (B, 2, H, W) divisor n.
        """
        err = (student - teacher.detach()).abs()
        if normalizer is not None:
            err = err / normalizer
        err = err.float().mean(dim=1, keepdim=True)
        mask = mask.float()  # fp32 sums: the 1e-12 guard is 0 in fp16
        return (err * mask).sum() / mask.sum().clamp(min=1e-12)

    def forward(self,
                student_outs: Sequence[Tensor],
                teacher_outs: Sequence[Tensor],
                heatmap_weight: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> dict:
        """Args:
            student_outs, teacher_outs: ``(heatmap_logits, wh, offset)``
                as returned by ``CenterXHead.forward``; same shapes.
            heatmap_weight (Tensor, optional): see :meth:`heatmap_loss`.
            mask (Tensor, optional): (B, 1, H, W) regression mask to use
                instead of :meth:`regression_mask` of the teacher heatmap.

        Returns:
            dict: ``loss_kd_heatmap``, ``loss_kd_wh``, ``loss_kd_offset``.
        """
        s_heat, s_wh, s_off = student_outs
        t_heat, t_wh, t_off = teacher_outs
        for name, s, t in (('heatmap', s_heat, t_heat), ('wh', s_wh, t_wh),
                           ('offset', s_off, t_off)):
            if s.shape != t.shape:
                raise ValueError(
                    f'KDLoss: student {name} map {tuple(s.shape)} and '
                    f'teacher {name} map {tuple(t.shape)} differ in shape')
        if mask is None:
            mask = self.regression_mask(t_heat)
        wh_norm = t_wh.detach().abs().clamp(min=self.min_wh) \
            if self.normalize_wh else None
        return dict(
            loss_kd_heatmap=self.loss_heatmap_weight *
            self.heatmap_loss(s_heat, t_heat, heatmap_weight),
            loss_kd_wh=self.loss_wh_weight *
            self.regression_loss(s_wh, t_wh, mask, wh_norm),
            loss_kd_offset=self.loss_offset_weight *
            self.regression_loss(s_off, t_off, mask))
