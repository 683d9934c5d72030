from .adaptive_loss_hook import AdaptiveLossHook
from .fault_injection_hook import FaultInjectionHook
from .loss_jump_skip_hook import LossJumpSkipHook
from .num_classes_check_hook import NumClassesCheckHook

__all__ = [
    'AdaptiveLossHook', 'FaultInjectionHook', 'LossJumpSkipHook',
    'NumClassesCheckHook'
]
