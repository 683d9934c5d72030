from .gaussian_focal_loss import (GaussianFocalLossWithLogits,
                                  gaussian_focal_loss_with_logits)

__all__ = ['GaussianFocalLossWithLogits', 'gaussian_focal_loss_with_logits']
from .kd_loss import KDLoss  # noqa: E402

__all__ += ['KDLoss']
