from .adaptive_loss_hook import AdaptiveLossHook
from .checkpoint_hook import DurableCheckpointHook
from .num_classes_check_hook import NumClassesCheckHook
from .tune_report_hook import TuneReportHook

__all__ = [
    'AdaptiveLossHook', 'DurableCheckpointHook', 'NumClassesCheckHook',
    'TuneReportHook'
]
