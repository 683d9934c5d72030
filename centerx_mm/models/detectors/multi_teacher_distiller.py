"""Deprecated: ``MultiTeacherDistiller`` is :class:`CenterXDistiller` with
its former defaults (``docs/distillation.md``)."""
import warnings
from typing import Optional, Sequence, Tuple

from mmengine.logging import print_log

from centerx_mm.registry import MODELS
from .distiller import (CenterXDistiller, check_teacher_classes,
                        check_teacher_specs, load_teachers,
                        merge_regression_targets)

# former home of these helpers
__all__ = [
    'MultiTeacherDistiller', 'check_teacher_classes', 'check_teacher_specs',
    'load_teachers', 'merge_regression_targets'
]


@MODELS.register_module()
class MultiTeacherDistiller(CenterXDistiller):
    """Deprecated alias of :class:`CenterXDistiller` (one warning when
    built) that keeps the former multi-teacher defaults: ``use_gt=False``
    and, with ``use_gt``, ``kd_on_labelled=False`` (teachers distil only
    the classes an image does not label). New configs: ``type=
    'CenterXDistiller'``."""

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 bbox_head: dict,
                 classes: Optional[Sequence[str]] = None,
                 teachers: Optional[Sequence[dict]] = None,
                 use_gt: bool = False,
                 kd_on_labelled: bool = False,
                 probe_hw: Tuple[int, int] = (128, 128),
                 **kwargs) -> None:
        message = ("model.type='MultiTeacherDistiller' is deprecated: use "
                   "type='CenterXDistiller' (same keys; its defaults are "
                   'use_gt=True, kd_on_labelled=True)')
        warnings.warn(message, DeprecationWarning)
        print_log(message, logger='current', level=30)
        super().__init__(
            backbone=backbone,
            neck=neck,
            bbox_head=bbox_head,
            classes=classes,
            teachers=teachers,
            use_gt=use_gt,
            kd_on_labelled=kd_on_labelled,
            probe_hw=probe_hw,
            **kwargs)
