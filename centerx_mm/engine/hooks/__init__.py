from .adaptive_loss_hook import AdaptiveLossHook
from .num_classes_check_hook import NumClassesCheckHook
from .tune_report_hook import TuneReportHook

__all__ = ['AdaptiveLossHook', 'NumClassesCheckHook', 'TuneReportHook']
