from typing import Optional, Sequence, Tuple

import torch
from mmdet.structures import SampleList
from torch import Tensor

from centerx_mm.registry import MODELS
from ..utils.teacher import (FrozenTeachersMixin, check_same_output_size,
                             check_same_preprocessing, check_student_classes,
                             load_teacher, map_classes_by_name)
from .centerx import CenterX


@MODELS.register_module()
class CenterXDistiller(FrozenTeachersMixin, CenterX):
    """CenterX student trained from a frozen teacher (design notes,
    "模型蒸馏"): :class:`KDLoss` between the two nets' head maps, computed
    on the same preprocessed batch.

    The distiller *is* the student (backbone, neck, bbox_head as in
    :class:`CenterX`), so ``predict``/``tools/test.py`` work unchanged and
    its ``state_dict`` is exactly a plain ``CenterX`` one: a checkpoint of a
    KD run loads into the student's plain config. The teacher, built by
    :func:`load_teacher` from its own config and checkpoint, is held outside
    the module tree (:class:`FrozenTeachersMixin`): it is not in
    ``state_dict()`` nor ``parameters()`` (hence never in the optimizer nor
    wrapped by DDP), always in eval mode (BN frozen), ``requires_grad=False``,
    run under ``no_grad``; it follows the student's device/dtype moves.

    Modes: ``use_gt=True`` adds the KD losses to the GT losses (images from
    an :class:`UnlabeledImageDataset` mixed into the batch carry
    ``annotated_labels=[]`` and get no GT loss); ``use_gt=False`` trains
    from the teacher only (no annotations needed). Self-distillation: the
    teacher config is the student's own architecture.

    Args:
        classes (Sequence[str]): student class names, one per heatmap
            channel; teacher channels are matched to them by name (the
            teacher may know more classes; unmatched ones are unused).
        teacher_config (str): the teacher's config file (its ``model``; a
            distiller config there stands for its student).
        teacher_ckpt (str): the teacher's checkpoint.
        distill_loss (dict): :class:`KDLoss` config.
        use_gt (bool): keep the GT losses.
        probe_hw (tuple): input size of the build-time output-size check.
        backbone, neck, bbox_head, ...: the student, as :class:`CenterX`.
    """
    STUDENT_TYPE = 'CenterX'
    DISTILL_KEYS = ('classes', 'teacher_config', 'teacher_ckpt',
                    'distill_loss', 'use_gt', 'probe_hw')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 bbox_head: dict,
                 classes: Optional[Sequence[str]] = None,
                 teacher_config: Optional[str] = None,
                 teacher_ckpt: Optional[str] = None,
                 distill_loss: dict = dict(type='KDLoss'),
                 use_gt: bool = True,
                 probe_hw: Tuple[int, int] = (128, 128),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, neck=neck, bbox_head=bbox_head, **kwargs)
        self.classes = check_student_classes(classes,
                                             self.bbox_head.num_classes)
        self.use_gt = use_gt
        teacher = load_teacher(teacher_config, teacher_ckpt)
        self.teacher_channels = map_classes_by_name(
            teacher.classes, self.classes,
            source_desc=f'teacher ({teacher_config}, {teacher_ckpt})',
            target_desc='student (model.classes)')
        check_same_preprocessing(kwargs.get('data_preprocessor'),
                                 teacher.data_preprocessor, teacher_config)
        check_same_output_size(self, teacher.model, teacher_config, probe_hw)
        self.set_teachers([teacher.model])
        self.teacher_classes = teacher.classes
        self.distill_loss = MODELS.build(distill_loss)

    @property
    def teacher(self) -> torch.nn.Module:
        """The frozen teacher (not a submodule, see the class docstring)."""
        return self.teachers[0]

    @torch.no_grad()
    def teacher_forward(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """Teacher head maps, heatmap channels in student class order."""
        heat, wh, offset = self.teacher._forward(batch_inputs)
        return heat[:, self.teacher_channels], wh, offset

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """GT losses (``use_gt``) of the student plus ``loss_kd_*``."""
        student_outs = self.bbox_head(self.extract_feat(batch_inputs))
        teacher_outs = self.teacher_forward(batch_inputs)
        losses = {}
        if self.use_gt:
            losses.update(self.gt_losses(student_outs, batch_data_samples))
        losses.update(self.distill_loss(student_outs, teacher_outs))
        return losses
