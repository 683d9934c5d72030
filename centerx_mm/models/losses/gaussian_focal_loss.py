from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from centerx_mm.registry import MODELS


def gaussian_focal_loss_with_logits(logits: Tensor,
                                    target: Tensor,
                                    alpha: float = 2.0,
                                    gamma: float = 4.0) -> Tensor:
    """CenterNet's Gaussian focal loss (Law & Deng 2018, Zhou et al. 2019),
    elementwise, computed from logits.

    ``log(sigmoid(x))`` and ``log(1 - sigmoid(x))`` are ``-softplus(-x)`` and
    ``-softplus(x)``: finite for any logit, also in FP16, where mmdet's
    ``log(p + 1e-12)`` becomes ``log(0)`` once the sigmoid saturates.

    Args:
        logits (Tensor): (B, C, H, W) pre-sigmoid heatmap.
        target (Tensor): same shape, Gaussian target in [0, 1]; cells equal
            to 1 are positives.

    Returns:
        Tensor: elementwise loss, same shape.
    """
    prob = logits.sigmoid()
    pos = target.eq(1).to(logits.dtype)
    neg_weight = (1 - target).pow(gamma) * (1 - pos)
    pos_loss = F.softplus(-logits) * (1 - prob).pow(alpha) * pos
    neg_loss = F.softplus(logits) * prob.pow(alpha) * neg_weight
    return pos_loss + neg_loss


@MODELS.register_module()
class GaussianFocalLossWithLogits(nn.Module):
    """Gaussian focal loss on logits (see
    :func:`gaussian_focal_loss_with_logits`); summed, divided by
    ``avg_factor`` (number of objects), times ``loss_weight``.

    ``weight`` (broadcastable to the heatmap, e.g. (B, C, 1, 1)) multiplies the
    elementwise loss; multi-teacher training uses it to switch off classes an
    image's dataset does not annotate.
    """

    def __init__(self,
                 alpha: float = 2.0,
                 gamma: float = 4.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.loss_weight = loss_weight

    def forward(self,
                logits: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None) -> Tensor:
        loss = gaussian_focal_loss_with_logits(logits, target, self.alpha,
                                               self.gamma)
        if weight is not None:
            loss = loss * weight
        loss = loss.sum()
        if avg_factor is not None:
            loss = loss / max(float(avg_factor), 1.0)
        return self.loss_weight * loss
