"""Logit distillation loss for CenterNet heads (design notes, "模型蒸馏").

CenterNet has no proposals to align, so the student imitates the teacher's
dense head maps directly: squared error on the class heatmap, L1 on the box
regression (``wh``/``offset`` of :class:`CenterXHead`, ``ltrb`` of
:class:`CenterXTTFHead`) at the teacher's confident peaks. Normalised per
teacher object, as the GT focal loss is per GT object, so one set of
weights serves a 4-class 32x32 map and an 80-class 128x128 one
(``docs/distillation.md``, "Scale-free KD loss").
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from centerx_mm.registry import MODELS
from ..utils import centerx_peaks

#: regression maps of each head kind (``out_names[1:]``) and their channels
REGRESSION_CHANNELS = dict(wh=2, offset=2, ltrb=4)
#: ``out_names`` of the two head kinds, by number of outputs
HEAD_OUT_NAMES = {
    3: ('heatmap_logits', 'wh', 'offset'),  # CenterXHead
    2: ('heatmap_logits', 'ltrb'),  # CenterXTTFHead
}


@MODELS.register_module()
class KDLoss(nn.Module):
    """Teacher -> student loss on CenterX head outputs.

    Heatmaps are (B, C, H, W) logits whose channel c teaches student class c
    (the distiller maps teachers' classes by name); regressions are
    ``wh``/``offset`` (B, 2, H, W) or ``ltrb`` (B, 4, H, W), feature cells.

    **Confident peaks** (:meth:`confident_peaks`): the teacher's 3x3 local
    maxima of ``sigmoid(logits)`` with score >= ``peak_thr``, then at most
    ``peak_topk`` of them per image over all classes (the decode's top-K;
    the distiller sets it from the student's ``test_cfg.topk``). These are
    the teacher's objects; N = their number in the batch (>= 1).

    Terms (each times its weight, logged under its own name):

    - ``loss_kd_heatmap``: ``sum((r(s) - r(t))^2 * w) / N`` over all
      cells, r = ``sigmoid`` (``heatmap_mode='prob'``, default, as the
      original centerX code) or ``relu`` of the logits (``'logits'``, the
      design notes' wording). Per teacher object as the focal loss's
      ``avg_factor``: a cell's gradient does not shrink with the map size
      or class count. ``heatmap_norm='mean'`` is the old mean over every
      weighted element (its weights do not transfer between datasets).
      In ``'logits'`` mode a student logit < 0 gets no gradient, and the
      head starts at -2.19: without GT losses the student never learns a
      heatmap, so the distiller refuses it with ``use_gt=False``.
    - ``loss_kd_wh`` / ``loss_kd_offset`` (classic head) or
      ``loss_kd_ltrb`` (TTF head): ``sum(M * mean_k |s_k - t_k| / n_k) /
      sum(M)`` (0 when ``sum(M)`` is 0). ``mask='peaks'``: M = max over
      classes of the confident peaks' scores, 0 elsewhere. ``mask='dense'``:
      M = max over the (weighted) classes of the teacher heatmap in the
      representation of ``heatmap_mode``. ``normalize_wh=True`` makes the
      wh / ltrb error relative: divided by the teacher's box width/height
      ``max(w_t, min_wh)`` (ltrb: ``l + r`` for l and r, ``t + b`` for t
      and b).

    Args:
        heatmap_mode (str): ``'prob'`` or ``'logits'``.
        heatmap_norm (str): ``'peaks'`` (per confident teacher peak) or
            ``'mean'`` (per weighted element, the former behaviour).
        mask (str): ``'peaks'`` or ``'dense'``.
        peak_kernel (int): max-pool window of the peaks.
        peak_thr (float): minimum teacher score of a confident peak.
        peak_topk (int, optional): at most this many confident peaks per
            image (None: no limit).
        normalize_wh (bool): relative wh / ltrb error.
        min_wh (float): lower bound (feature cells) of that normaliser.
        loss_heatmap_weight, loss_wh_weight, loss_offset_weight,
            loss_ltrb_weight (float): weights of the terms.
    """

    def __init__(self,
                 heatmap_mode: str = 'prob',
                 heatmap_norm: str = 'peaks',
                 mask: str = 'peaks',
                 peak_kernel: int = 3,
                 peak_thr: float = 0.1,
                 peak_topk: Optional[int] = 100,
                 normalize_wh: bool = False,
                 min_wh: float = 1.0,
                 loss_heatmap_weight: float = 1.0,
                 loss_wh_weight: float = 0.1,
                 loss_offset_weight: float = 1.0,
                 loss_ltrb_weight: float = 0.1) -> None:
        super().__init__()
        for name, value, allowed in (
            ('heatmap_mode', heatmap_mode, ('prob', 'logits')),
            ('heatmap_norm', heatmap_norm, ('peaks', 'mean')),
            ('mask', mask, ('peaks', 'dense'))):
            if value not in allowed:
                raise ValueError(f'KDLoss.{name} must be one of {allowed}, '
                                 f'got {value!r}')
        if min_wh <= 0:
            raise ValueError(f'KDLoss.min_wh must be > 0, got {min_wh}')
        if not 0 <= peak_thr < 1:
            raise ValueError(
                f'KDLoss.peak_thr must be in [0, 1), got {peak_thr}')
        if peak_topk is not None and peak_topk < 1:
            raise ValueError(
                f'KDLoss.peak_topk must be >= 1 or None, got {peak_topk}')
        self.heatmap_mode = heatmap_mode
        self.heatmap_norm = heatmap_norm
        self.mask = mask
        self.peak_kernel = peak_kernel
        self.peak_thr = peak_thr
        self.peak_topk = peak_topk
        self.normalize_wh = normalize_wh
        self.min_wh = min_wh
        self.weights = dict(
            heatmap=loss_heatmap_weight,
            wh=loss_wh_weight,
            offset=loss_offset_weight,
            ltrb=loss_ltrb_weight)

    def heatmap_repr(self, logits: Tensor) -> Tensor:
        """(B, C, H, W) logits -> the representation the heatmap term uses
        (fp32)."""
        logits = logits.float()
        return logits.relu() if self.heatmap_mode == 'logits' \
            else logits.sigmoid()

    @torch.no_grad()
    def confident_peaks(self,
                        teacher_logits: Tensor,
                        weight: Optional[Tensor] = None) -> Tensor:
        """The teacher's confident peaks (see the class docstring).

        Args:
            teacher_logits (Tensor): (B, C, H, W).
            weight (Tensor, optional): broadcastable to (B, C, H, W), e.g.
                (B, C, 1, 1); elements with weight 0 have no peak.

        Returns:
            Tensor: (B, C, H, W) fp32, the score at each confident peak, 0
            elsewhere.
        """
        peaks = centerx_peaks(teacher_logits.detach().float().sigmoid(),
                              self.peak_kernel)
        if weight is not None:
            peaks = peaks * (weight > 0)
        if self.peak_thr > 0:
            peaks = peaks * (peaks >= self.peak_thr)
        flat = peaks.flatten(1)
        if self.peak_topk is not None and self.peak_topk < flat.shape[1]:
            idx = flat.topk(self.peak_topk, dim=1).indices
            keep = torch.zeros_like(flat).scatter_(1, idx, 1.)
            peaks = (flat * keep).view_as(peaks)
        return peaks

    def num_peaks(self, teacher_logits: Tensor,
                  weight: Optional[Tensor] = None) -> Tensor:
        """N: number of confident peaks in the batch, at least 1."""
        count = (self.confident_peaks(teacher_logits, weight) > 0).sum()
        return count.clamp(min=1).float()

    def heatmap_loss(self,
                     student_logits: Tensor,
                     teacher_logits: Tensor,
                     weight: Optional[Tensor] = None,
                     avg_factor: Optional[Tensor] = None) -> Tensor:
        """Heatmap term before its weight.

        Args:
            student_logits, teacher_logits (Tensor): (B, C, H, W).
            weight (Tensor, optional): broadcastable to (B, C, H, W), e.g.
                (B, C, 1, 1) to switch (image, class) pairs off.
            avg_factor (Tensor, optional): divisor of ``heatmap_norm=
                'peaks'``; default :meth:`num_peaks` of the teacher.
        """
        sq = (self.heatmap_repr(student_logits) -
              self.heatmap_repr(teacher_logits.detach())).pow(2)
        if weight is not None:
            weight = weight.float().expand_as(sq)
            sq = sq * weight
        if self.heatmap_norm == 'mean':
            denom = sq.new_tensor(sq.numel()) if weight is None \
                else weight.sum().clamp(min=1e-12)
            return sq.sum() / denom
        if avg_factor is None:
            avg_factor = self.num_peaks(teacher_logits, weight)
        return sq.sum() / avg_factor

    def regression_mask(self,
                        teacher_logits: Tensor,
                        weight: Optional[Tensor] = None) -> Tensor:
        """Teacher heatmap logits (B, C, H, W) -> mask M (B, 1, H, W) >= 0,
        fp32; ``weight`` as in :meth:`confident_peaks`."""
        if self.mask == 'peaks':
            heat = self.confident_peaks(teacher_logits, weight)
        else:
            heat = self.heatmap_repr(teacher_logits.detach())
            if weight is not None:
                heat = heat * (weight > 0)
        return heat.amax(dim=1, keepdim=True)

    @staticmethod
    def regression_loss(student: Tensor,
                        teacher: Tensor,
                        mask: Tensor,
                        normalizer: Optional[Tensor] = None) -> Tensor:
        """``sum(M * mean_k |s_k - t_k| / n_k) / sum(M)``, 0 if sum(M)=0.

        Args:
            student, teacher (Tensor): (B, K, H, W).
            mask (Tensor): (B, 1, H, W) per-pixel weight M.
            normalizer (Tensor, optional): (B, K, H, W) divisor n.
        """
        err = (student.float() - teacher.detach().float()).abs()
        if normalizer is not None:
            err = err / normalizer
        err = err.mean(dim=1, keepdim=True)
        mask = mask.float()  # fp32 sums: the 1e-12 guard is 0 in fp16
        return (err * mask).sum() / mask.sum().clamp(min=1e-12)

    def size_normalizer(self, name: str, teacher: Tensor) -> Tensor:
        """Divisor of the relative error of ``normalize_wh``: the teacher's
        box width / height (>= ``min_wh``) for each channel of ``wh`` or
        ``ltrb``."""
        teacher = teacher.detach().float().abs()
        if name == 'ltrb':
            w = teacher[:, 0::2].sum(1, keepdim=True)  # l + r
            h = teacher[:, 1::2].sum(1, keepdim=True)  # t + b
            teacher = torch.cat([w, h, w, h], dim=1)
        return teacher.clamp(min=self.min_wh)

    def forward(self,
                student_outs: Sequence[Tensor],
                teacher_outs: Sequence[Tensor],
                heatmap_weight: Optional[Tensor] = None,
                mask: Optional[Tensor] = None,
                out_names: Optional[Sequence[str]] = None
                ) -> Dict[str, Tensor]:
        """Args:
            student_outs, teacher_outs: a head's ``forward`` outputs,
                ``(heatmap_logits, wh, offset)`` (:class:`CenterXHead`) or
                ``(heatmap_logits, ltrb)`` (:class:`CenterXTTFHead`); same
                shapes.
            heatmap_weight (Tensor, optional): see :meth:`heatmap_loss`;
                it also limits the confident peaks (N and M).
            mask (Tensor, optional): (B, 1, H, W) regression mask to use
                instead of :meth:`regression_mask` of the teacher heatmap
                (several teachers: the merged one).
            out_names (Sequence[str], optional): the head's ``out_names``;
                default from the number of outputs.

        Returns:
            dict: ``loss_kd_heatmap`` and ``loss_kd_<name>`` for each
            regression map (``wh``, ``offset`` or ``ltrb``).
        """
        names = self.check_outputs(student_outs, teacher_outs, out_names)
        t_heat = teacher_outs[0]
        if mask is None:
            mask = self.regression_mask(t_heat, heatmap_weight)
        losses = dict(loss_kd_heatmap=self.weights['heatmap'] *
                      self.heatmap_loss(student_outs[0], t_heat,
                                        heatmap_weight))
        for name, s, t in zip(names[1:], student_outs[1:], teacher_outs[1:]):
            norm = self.size_normalizer(name, t) \
                if self.normalize_wh and name in ('wh', 'ltrb') else None
            losses[f'loss_kd_{name}'] = self.weights[name] * \
                self.regression_loss(s, t, mask, norm)
        return losses

    @staticmethod
    def check_outputs(student_outs: Sequence[Tensor],
                      teacher_outs: Sequence[Tensor],
                      out_names: Optional[Sequence[str]] = None
                      ) -> Tuple[str, ...]:
        """The output names; ValueError naming the map that does not fit."""
        if len(student_outs) != len(teacher_outs):
            raise ValueError(
                f'KDLoss: the student head gives {len(student_outs)} maps and '
                f'the teacher head {len(teacher_outs)}: both must be the '
                'same head kind (CenterXHead: heatmap, wh, offset; '
                'CenterXTTFHead: heatmap, ltrb)')
        names = tuple(out_names or HEAD_OUT_NAMES.get(len(student_outs), ()))
        if len(names) != len(student_outs) or any(
                n not in REGRESSION_CHANNELS for n in names[1:]):
            raise ValueError(
                f'KDLoss: unknown head outputs {names or len(student_outs)}; '
                f'expected one of {list(HEAD_OUT_NAMES.values())}')
        for name, s, t in zip(names, student_outs, teacher_outs):
            if s.shape != t.shape:
                raise ValueError(
                    f'KDLoss: student {name} map {tuple(s.shape)} and '
                    f'teacher {name} map {tuple(t.shape)} differ in shape')
            if name in REGRESSION_CHANNELS and \
                    s.shape[1] != REGRESSION_CHANNELS[name]:
                raise ValueError(
                    f'KDLoss: {name} map {tuple(s.shape)} should have '
                    f'{REGRESSION_CHANNELS[name]} channels')
        return names
