"""Multi-teacher distillation for partially labelled data (design notes,
"多模型蒸馏"): each student class learns from the teacher that knows it."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.structures import SampleList
from torch import Tensor

from centerx_mm.registry import MODELS
from ..utils.teacher import (FrozenTeachersMixin, Teacher,
                             TeacherConfigError, check_same_output_size,
                             check_same_preprocessing, check_student_classes,
                             load_teacher, map_classes_by_name)
from .centerx import CenterX

CONFLICT_RULES = ('max', 'mean')


def check_teacher_classes(student_classes: Sequence[str],
                          teacher_classes: Sequence[Sequence[str]],
                          gt_classes: Sequence[str] = (),
                          teacher_desc: Optional[Sequence[str]] = None
                          ) -> List[List[int]]:
    """Student channel of every class each teacher teaches, by name.

    Args:
        student_classes: student class names (heatmap channel order).
        teacher_classes: per teacher, the names it teaches
            (``model.teachers[i].classes``).
        gt_classes: names the training data labels (counted as covered).
        teacher_desc: per teacher, a description for messages.

    Returns:
        list[list[int]]: per teacher, the student channel of each of its
        classes, in the teacher's order.

    Raises:
        TeacherConfigError: a teacher lists no class or one twice, a teacher
            class the student lacks, a class taught by two teachers, a
            ``gt_classes`` name the student lacks, a student class neither
            taught nor labelled. Messages name the field and the class.
    """
    student = list(student_classes)
    desc = list(teacher_desc) if teacher_desc is not None else [
        f'model.teachers[{i}]' for i in range(len(teacher_classes))
    ]
    unknown_gt = [c for c in gt_classes if c not in student]
    if unknown_gt:
        raise TeacherConfigError(
            f'model.gt_classes {unknown_gt} are not student classes '
            f'(model.classes) {student}')
    owner = {}
    channels = []
    for i, names in enumerate(teacher_classes):
        names = list(names or ())
        if not names:
            raise TeacherConfigError(
                f'{desc[i]}.classes is empty: name the classes this teacher '
                'teaches')
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise TeacherConfigError(f'{desc[i]}.classes lists {dup} twice')
        channels.append(
            map_classes_by_name(
                student, names, source_desc='student (model.classes)',
                target_desc=desc[i]))
        for name in names:
            if name in owner:
                j = owner[name]
                raise TeacherConfigError(
                    f'class {name!r} is taught by both {desc[j]} and '
                    f'{desc[i]}: teacher class lists must not overlap')
            owner[name] = i
    uncovered = [c for c in student if c not in owner and c not in gt_classes]
    if uncovered:
        raise TeacherConfigError(
            f'student classes {uncovered} have no teacher in model.teachers '
            f'and are not labelled by the training data (model.gt_classes='
            f'{list(gt_classes)}): nothing would supervise them')
    return channels


def check_teacher_specs(teachers) -> List[dict]:
    """Validate ``model.teachers``: a non-empty list of
    ``dict(config=..., checkpoint=..., classes=...)``."""
    if not teachers or not isinstance(teachers, (list, tuple)):
        raise TeacherConfigError(
            'model.teachers is not set: give a list of dict(config=..., '
            'checkpoint=..., classes=(...)), one per teacher')
    for i, spec in enumerate(teachers):
        field = f'model.teachers[{i}]'
        if not isinstance(spec, dict):
            raise TeacherConfigError(
                f'{field} must be a dict(config=..., checkpoint=..., '
                f'classes=...), got {type(spec).__name__}')
        extra = sorted(set(spec) - {'config', 'checkpoint', 'classes'})
        if extra:
            raise TeacherConfigError(
                f'{field} has unknown keys {extra}; expected config, '
                'checkpoint, classes')
    return list(teachers)


def load_teachers(teachers: Sequence[dict]
                  ) -> List[Tuple[Teacher, Tuple[str, ...], List[int]]]:
    """Build every teacher of ``model.teachers`` (:func:`load_teacher`).

    Returns:
        list: per teacher ``(teacher, names, channels)``: the frozen
        :class:`Teacher`, the class names it teaches (``classes``, default
        all of the teacher's) and their channels in the teacher's heatmap.

    Raises:
        TeacherConfigError: a spec is malformed, or names a class the
            teacher does not know (messages name ``model.teachers[i]``).
    """
    out = []
    for i, spec in enumerate(check_teacher_specs(teachers)):
        field = f'model.teachers[{i}]'
        teacher = load_teacher(
            spec.get('config'), spec.get('checkpoint'),
            config_field=f'{field}.config',
            ckpt_field=f'{field}.checkpoint')
        names = tuple(spec.get('classes') or teacher.classes)
        channels = map_classes_by_name(
            teacher.classes, names,
            source_desc=f'teacher {field} ({teacher.config}, '
            f'{teacher.checkpoint})',
            target_desc=field)
        out.append((teacher, names, channels))
    return out


def merge_regression_targets(masks: Tensor, wh: Tensor, offset: Tensor,
                             conflict: str = 'max'
                             ) -> Tuple[Tensor, Tensor, Tensor]:
    """One wh/offset target and mask from T teachers' regressions.

    Each teacher supervises where its own mask (its peaks) is non-zero.
    Where several teachers' masks are non-zero at the same pixel:

    - ``'max'``: the most confident teacher (largest mask value, i.e. its
      peak score) gives the target; ties go to the lower teacher index.
    - ``'mean'``: targets averaged with the teachers' mask values as
      weights, ``sum_t m_t r_t / sum_t m_t``.

    In both the merged mask is ``max_t m_t``, so with one teacher (or
    disjoint peaks) this is exactly :class:`KDLoss`'s single-teacher rule.

    Args:
        masks (Tensor): (T, B, 1, H, W) per-teacher masks >= 0.
        wh, offset (Tensor): (T, B, 2, H, W) per-teacher regressions.
        conflict (str): ``'max'`` or ``'mean'``.

    Returns:
        tuple: mask (B, 1, H, W), wh (B, 2, H, W), offset (B, 2, H, W).
    """
    if conflict not in CONFLICT_RULES:
        raise ValueError(f'conflict must be one of {CONFLICT_RULES}, '
                         f'got {conflict!r}')
    mask, idx = masks.max(dim=0)
    if conflict == 'max':
        idx = idx.unsqueeze(0).expand(1, *wh.shape[1:])
        return (mask, wh.gather(0, idx).squeeze(0),
                offset.gather(0, idx).squeeze(0))
    total = masks.sum(dim=0)
    safe = total.clamp(min=torch.finfo(total.dtype).tiny)
    # Where no teacher has a peak (mask 0) the target is unused: teacher 0.
    merged = [
        torch.where(total > 0, (masks * r).sum(dim=0) / safe, r[0])
        for r in (wh, offset)
    ]
    return mask, merged[0], merged[1]


@MODELS.register_module()
class MultiTeacherDistiller(FrozenTeachersMixin, CenterX):
    """CenterX student taught by several frozen teachers, each for its own
    classes (design notes, "多模型蒸馏"): CenterNet's heatmap is C
    independent binary classifiers, so every student class can have its own
    teacher, e.g. two detectors trained on two partially labelled datasets.

    Teachers are built as in :class:`CenterXDistiller` (own config and
    checkpoint, frozen, outside the module tree: the checkpoint holds the
    student only and loads into its plain config). ``model.teachers[i]
    .classes`` names what teacher i teaches; channels are mapped **by name**
    onto the student's ``classes`` (not by position).

    Losses (the :class:`KDLoss` terms, one value each for all teachers):

    - ``loss_kd_heatmap``: for each student channel c, the heatmap of c's
      teacher; mean over the distilled (image, class) elements.
    - ``loss_kd_wh`` / ``loss_kd_offset``: teacher t's mask
      (``KDLoss.regression_mask`` of t's distilled channels, i.e. its peaks)
      weights the L1 to t's regression; where masks of several teachers meet
      at a pixel, ``conflict`` decides (:func:`merge_regression_targets`).

    Modes:

    - ``use_gt=False``: teachers only; every student class must be taught.
    - ``use_gt=True``: GT losses where labels exist plus teachers for the
      rest. Each image must carry ``annotated_labels`` in its metainfo
      (``CenterXCocoDataset`` ``annotated_classes`` + ``PackDetInputs``
      ``meta_keys``): ``CenterXHead`` then drops the heatmap loss of the
      classes the image's dataset does not label, and (``kd_on_labelled=
      False``) the teachers distil only those unlabelled classes.

    Args:
        classes (Sequence[str]): student class names, one per channel.
        teachers (list[dict]): ``dict(config=..., checkpoint=...,
            classes=(...))`` each; ``classes`` defaults to all the
            teacher's classes.
        gt_classes (Sequence[str]): classes some training dataset labels;
            required with ``use_gt=True``, ignored otherwise.
        distill_loss (dict): :class:`KDLoss` config.
        use_gt (bool): keep the GT losses.
        kd_on_labelled (bool): with ``use_gt``, also distil classes that
            are labelled in the image (as ``CenterXDistiller``'s KD + GT).
        conflict (str): ``'max'`` or ``'mean'``, see
            :func:`merge_regression_targets`.
        probe_hw (tuple): input size of the build-time output-size check.
        backbone, neck, bbox_head, ...: the student, as :class:`CenterX`.
    """
    STUDENT_TYPE = 'CenterX'
    DISTILL_KEYS = ('classes', 'teachers', 'gt_classes', 'distill_loss',
                    'use_gt', 'kd_on_labelled', 'conflict', 'probe_hw')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 bbox_head: dict,
                 classes: Optional[Sequence[str]] = None,
                 teachers: Optional[Sequence[dict]] = None,
                 gt_classes: Optional[Sequence[str]] = None,
                 distill_loss: dict = dict(type='KDLoss'),
                 use_gt: bool = False,
                 kd_on_labelled: bool = False,
                 conflict: str = 'max',
                 probe_hw: Tuple[int, int] = (128, 128),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, neck=neck, bbox_head=bbox_head, **kwargs)
        self.classes = check_student_classes(classes,
                                             self.bbox_head.num_classes)
        if conflict not in CONFLICT_RULES:
            raise TeacherConfigError(
                f'model.conflict must be one of {CONFLICT_RULES}, got '
                f'{conflict!r}')
        if use_gt and gt_classes is None:
            raise TeacherConfigError(
                'model.use_gt=True needs model.gt_classes: the classes the '
                'training datasets label (the union of their '
                'annotated_classes)')
        self.use_gt = use_gt
        self.kd_on_labelled = kd_on_labelled
        self.conflict = conflict
        self.gt_classes = tuple(gt_classes or ()) if use_gt else ()

        specs = check_teacher_specs(teachers)
        # Names first (cheap, before any checkpoint is read) when given.
        if all(s.get('classes') for s in specs):
            check_teacher_classes(self.classes, [s['classes'] for s in specs],
                                  self.gt_classes)
        built, taught = [], []
        self.teacher_channels = []  # per teacher: its channels to distil
        for i, (teacher, names, channels) in enumerate(load_teachers(specs)):
            field = f'model.teachers[{i}] {teacher.config}'
            check_same_preprocessing(kwargs.get('data_preprocessor'),
                                     teacher.data_preprocessor, field)
            check_same_output_size(self, teacher.model, field, probe_hw)
            built.append(teacher.model)
            taught.append(names)
            self.teacher_channels.append(channels)
        self.teacher_classes = tuple(taught)
        # student channel of each taught class, per teacher
        self.student_channels = check_teacher_classes(
            self.classes, taught, self.gt_classes)
        self.set_teachers(built)
        self.distill_loss = MODELS.build(distill_loss)

    @torch.no_grad()
    def teacher_forward(self, batch_inputs: Tensor
                        ) -> List[Tuple[Tensor, Tensor, Tensor]]:
        """Per teacher: heatmap logits of its taught classes (B, k_t, H, W)
        in ``teacher_classes[t]`` order, wh and offset (B, 2, H, W)."""
        outs = []
        for teacher, channels in zip(self.teachers, self.teacher_channels):
            heat, wh, offset = teacher._forward(batch_inputs)
            outs.append((heat[:, channels], wh, offset))
        return outs

    def kd_class_weight(self, batch_img_metas: Sequence[dict],
                        ref: Tensor) -> Tensor:
        """(B, C) 1 where a teacher distils student class c in image b.

        Covered classes only; with ``use_gt`` and not ``kd_on_labelled``
        also only classes absent from the image's ``annotated_labels``.
        """
        weight = ref.new_zeros(len(batch_img_metas), len(self.classes))
        for channels in self.student_channels:
            weight[:, channels] = 1
        if self.use_gt and not self.kd_on_labelled:
            for b, meta in enumerate(batch_img_metas):
                if 'annotated_labels' not in meta:
                    raise KeyError(
                        'MultiTeacherDistiller(use_gt=True) needs each '
                        "image's 'annotated_labels' (which classes its "
                        'dataset labels): set annotated_classes on the '
                        'dataset (or the JSON\'s top-level key) and add '
                        "'annotated_labels' to PackDetInputs meta_keys "
                        f'(image {meta.get("img_path", b)})')
                weight[b, list(meta['annotated_labels'])] = 0
        return weight

    def merge_teachers(self, teacher_outs, class_weight: Tensor
                       ) -> Tuple[Tuple[Tensor, Tensor, Tensor], Tensor,
                                  Tensor]:
        """Teacher outputs -> student-shaped targets.

        Args:
            teacher_outs: :meth:`teacher_forward` output.
            class_weight (Tensor): (B, C) from :meth:`kd_class_weight`.

        Returns:
            tuple: ``(heatmap (B, C, H, W), wh, offset)`` targets, the
            heatmap weight (B, C, 1, 1) and the regression mask (B, 1, H, W).
            Channels without a teacher hold 0 with weight 0.
        """
        heat0 = teacher_outs[0][0]
        b, _, h, w = heat0.shape
        heat = heat0.new_zeros(b, len(self.classes), h, w)
        masks, whs, offsets = [], [], []
        for (t_heat, t_wh, t_off), channels in zip(teacher_outs,
                                                    self.student_channels):
            heat[:, channels] = t_heat
            off = class_weight[:, channels, None, None] == 0
            # classes not distilled in an image make no regression mask
            masked = t_heat.masked_fill(off, torch.finfo(t_heat.dtype).min)
            masks.append(self.distill_loss.regression_mask(masked))
            whs.append(t_wh)
            offsets.append(t_off)
        mask, wh, offset = merge_regression_targets(
            torch.stack(masks), torch.stack(whs), torch.stack(offsets),
            self.conflict)
        return (heat, wh, offset), class_weight[:, :, None, None], mask

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """GT losses (``use_gt``) of the student plus ``loss_kd_*``."""
        student_outs = self.bbox_head(self.extract_feat(batch_inputs))
        metas = [s.metainfo for s in batch_data_samples]
        class_weight = self.kd_class_weight(metas, student_outs[0])
        targets, heat_weight, mask = self.merge_teachers(
            self.teacher_forward(batch_inputs), class_weight)
        losses = {}
        if self.use_gt:
            losses.update(self.gt_losses(student_outs, batch_data_samples))
        losses.update(
            self.distill_loss(
                student_outs, targets, heatmap_weight=heat_weight, mask=mask))
        return losses
