from .adaptive_loss_hook import AdaptiveLossHook
from .num_classes_check_hook import NumClassesCheckHook

__all__ = ['AdaptiveLossHook', 'NumClassesCheckHook']
