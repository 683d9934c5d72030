from .adaptive_loss_hook import AdaptiveLossHook
from .checkpoint_hook import DurableCheckpointHook
from .fault_injection_hook import FaultInjectionHook
from .loss_jump_skip_hook import LossJumpSkipHook
from .num_classes_check_hook import NumClassesCheckHook
from .tune_report_hook import TuneReportHook

__all__ = [
    'AdaptiveLossHook', 'DurableCheckpointHook', 'FaultInjectionHook',
    'LossJumpSkipHook', 'NumClassesCheckHook', 'TuneReportHook'
]
