"""The one CenterX distiller (design notes, "模型蒸馏" and "多模型蒸馏"):
single-teacher KD, self-distillation, multi-teacher distillation for
partially labelled data and overlapping teachers are configurations of
:class:`CenterXDistiller` (``docs/distillation.md``)."""
import warnings
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.structures import SampleList
from mmengine.logging import print_log
from torch import Tensor

from centerx_mm.registry import MODELS
from ..utils.teacher import (FrozenTeachersMixin, Teacher,
                             TeacherConfigError, check_same_output_size,
                             check_same_preprocessing, check_student_classes,
                             load_teacher, map_classes_by_name)
from .centerx import CenterX

#: rules for a class several teachers own (heatmap) and for the
#: regression where several teachers' peaks meet
HEATMAP_MERGE_RULES = ('max', 'weighted')
CONFLICT_RULES = ('max', 'mean')
TEACHER_KEYS = ('config', 'checkpoint', 'classes')


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
        extra = sorted(set(spec) - set(TEACHER_KEYS))
        if extra:
            raise TeacherConfigError(
                f'{field} has unknown keys {extra}; expected config, '
                'checkpoint, classes')
        names = spec.get('classes')
        if names is not None:
            names = [names] if isinstance(names, str) else list(names)
            if not names:
                raise TeacherConfigError(
                    f'{field}.classes is empty: name the classes this '
                    'teacher teaches, or leave it out (every student class '
                    'the teacher knows)')
            dup = sorted({c for c in names if names.count(c) > 1})
            if dup:
                raise TeacherConfigError(f'{field}.classes lists {dup} twice')
    return list(teachers)


def load_teachers(teachers: Sequence[dict],
                  student_classes: Optional[Sequence[str]] = None
                  ) -> List[Tuple[Teacher, Tuple[str, ...], List[int]]]:
    """Build every teacher of ``model.teachers`` (:func:`load_teacher`).

    A teacher's ``classes`` default to every class it knows, or with
    ``student_classes`` to the student classes it knows (in student order).

    Returns:
        list: per teacher ``(teacher, names, channels)``: the frozen
        :class:`Teacher`, the class names it teaches and their channels in
        the teacher's heatmap.

    Raises:
        TeacherConfigError: a spec is malformed, names a class the teacher
            does not know, or the teacher knows no student class (messages
            name ``model.teachers[i]``).
    """
    out = []
    for i, spec in enumerate(check_teacher_specs(teachers)):
        field = f'model.teachers[{i}]'
        teacher = load_teacher(
            spec.get('config'), spec.get('checkpoint'),
            config_field=f'{field}.config',
            ckpt_field=f'{field}.checkpoint')
        desc = f'teacher {field} ({teacher.config}, {teacher.checkpoint})'
        names = spec.get('classes')
        if names is not None:
            names = (names, ) if isinstance(names, str) else tuple(names)
        elif student_classes is None:
            names = teacher.classes
        else:
            names = tuple(c for c in student_classes if c in teacher.classes)
            if not names:
                raise TeacherConfigError(
                    f'{desc} knows none of the student classes '
                    f'{list(student_classes)}: its classes are '
                    f'{list(teacher.classes)} (matched by name)')
        channels = map_classes_by_name(
            teacher.classes, names, source_desc=desc, target_desc=field)
        out.append((teacher, names, channels))
    return out


def check_teacher_classes(student_classes: Sequence[str],
                          teacher_classes: Sequence[Sequence[str]],
                          gt_classes: Sequence[str] = (),
                          teacher_desc: Optional[Sequence[str]] = None
                          ) -> List[List[int]]:
    """Student channel of every class each teacher teaches, by name.

    Several teachers may teach the same class (their heatmaps are merged,
    ``heatmap_merge``).

    Args:
        student_classes: student class names (heatmap channel order).
        teacher_classes: per teacher, the names it teaches.
        gt_classes: names the training data labels (count as covered).
        teacher_desc: per teacher, a description for messages.

    Returns:
        list[list[int]]: per teacher, the student channel of each of its
        classes, in the teacher's order.

    Raises:
        TeacherConfigError: a teacher lists no class or one twice, a teacher
            class the student lacks, a ``gt_classes`` name the student
            lacks, a student class neither taught nor labelled.
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
    taught = {c for names in teacher_classes for c in names}
    uncovered = [c for c in student if c not in taught and c not in gt_classes]
    if uncovered:
        raise TeacherConfigError(
            f'student classes {uncovered} have no teacher in model.teachers '
            f'and are not labelled by the training data (model.gt_classes='
            f'{list(gt_classes)}, model.use_gt): nothing would supervise '
            'them')
    return channels


def merge_heatmaps(heats: Sequence[Tensor],
                   student_channels: Sequence[Sequence[int]],
                   num_classes: int,
                   rule: str = 'max') -> Tensor:
    """Teachers' heatmap logits -> one (B, C, H, W) target, logits.

    Channel c is the heatmap of c's teacher; where several teachers own c:

    - ``'max'``: the elementwise maximum (the most confident teacher at
      each cell; the same in logits and in probabilities).
    - ``'weighted'``: confidence-weighted mean of the probabilities,
      ``sum_t p_t^2 / sum_t p_t`` (each teacher weighted by its own score),
      returned as a logit.

    Channels no teacher owns hold the dtype's lowest value (probability 0);
    the distiller gives them heatmap weight 0.

    Args:
        heats: per teacher, (B, k_t, H, W) logits of its classes.
        student_channels: per teacher, the student channel of each of its
            k_t classes.
        num_classes (int): C.
        rule (str): ``'max'`` or ``'weighted'``.
    """
    if rule not in HEATMAP_MERGE_RULES:
        raise ValueError(f'heatmap_merge must be one of '
                         f'{HEATMAP_MERGE_RULES}, got {rule!r}')
    ref = heats[0]
    b, _, h, w = ref.shape
    merged = torch.full((b, num_classes, h, w),
                        torch.finfo(torch.float32).min,
                        dtype=torch.float32, device=ref.device)
    for heat, channels in zip(heats, student_channels):
        merged[:, channels] = torch.maximum(merged[:, channels], heat.float())
    owners = torch.zeros(num_classes, dtype=torch.long)
    for channels in student_channels:
        owners[list(channels)] += 1
    shared = (owners > 1).nonzero().flatten().tolist()
    if rule == 'weighted' and shared:
        num = merged.new_zeros(b, len(shared), h, w)
        den = torch.zeros_like(num)
        for heat, channels in zip(heats, student_channels):
            for k, c in enumerate(channels):
                if c in shared:
                    p = heat[:, k].float().sigmoid()
                    num[:, shared.index(c)] += p * p
                    den[:, shared.index(c)] += p
        p = num / den.clamp(min=torch.finfo(torch.float32).tiny)
        merged[:, shared] = torch.logit(p, eps=1e-7)
    return merged


def merge_regression_targets(masks: Tensor, regressions: Sequence[Tensor],
                             conflict: str = 'max'
                             ) -> Tuple[Tensor, List[Tensor]]:
    """One regression target and mask from T teachers' regressions.

    Each teacher supervises where its own mask (its confident peaks) is
    non-zero. Where several teachers' masks are non-zero at one pixel:

    - ``'max'``: the most confident teacher (largest mask value, i.e. its
      peak score) gives the target; ties go to the lower teacher index.
    - ``'mean'``: targets averaged with the teachers' mask values as
      weights, ``sum_t m_t r_t / sum_t m_t``.

    In both the merged mask is ``max_t m_t``, so with one teacher (or
    disjoint peaks) this is exactly :class:`KDLoss`'s single-teacher rule.

    Args:
        masks (Tensor): (T, B, 1, H, W) per-teacher masks >= 0.
        regressions (Sequence[Tensor]): per map (``wh``, ``offset`` or
            ``ltrb``), (T, B, K, H, W) stacked over teachers.
        conflict (str): ``'max'`` or ``'mean'``.

    Returns:
        tuple: mask (B, 1, H, W) and the merged maps, (B, K, H, W) each.
    """
    if conflict not in CONFLICT_RULES:
        raise ValueError(f'conflict must be one of {CONFLICT_RULES}, '
                         f'got {conflict!r}')
    mask, idx = masks.max(dim=0)
    if conflict == 'max':
        return mask, [
            r.gather(0, idx.unsqueeze(0).expand(1, *r.shape[1:])).squeeze(0)
            for r in regressions
        ]
    total = masks.sum(dim=0)
    safe = total.clamp(min=torch.finfo(total.dtype).tiny)
    # Where no teacher has a peak (mask 0) the target is unused: teacher 0.
    return mask, [
        torch.where(total > 0, (masks * r).sum(dim=0) / safe, r[0])
        for r in regressions
    ]


@MODELS.register_module()
class CenterXDistiller(FrozenTeachersMixin, CenterX):
    """CenterX student trained from frozen teachers (design notes,
    "模型蒸馏", "多模型蒸馏"; ``docs/distillation.md``).

    The distiller *is* the student (backbone, neck, bbox_head as in
    :class:`CenterX`), so ``predict``/``tools/test.py`` work unchanged and
    its ``state_dict`` is exactly a plain ``CenterX`` one: a checkpoint of a
    distillation run loads into the student's plain config. Each teacher,
    built by :func:`load_teacher` from its own config and checkpoint, is
    held outside the module tree (:class:`FrozenTeachersMixin`): not in
    ``state_dict()`` nor ``parameters()`` (never in the optimizer, DDP, a
    checkpoint), shared (not copied) by an EMA copy of the model, always in
    eval mode, ``requires_grad=False``, run under ``no_grad``.

    Teachers and classes: ``teachers[i].classes`` names the student classes
    teacher i teaches (default: every student class it knows), matched by
    name onto the student's ``classes``. Several teachers may own a class:
    their heatmaps are merged by ``heatmap_merge`` (:func:`merge_heatmaps`)
    and their regressions, where their peaks meet, by ``conflict``
    (:func:`merge_regression_targets`). Teachers must have the student's
    head kind (``bbox_head.out_names``), output stride and preprocessing.

    Configurations: one teacher owning every class is classic KD
    (self-distillation when it is the student's architecture); teachers
    owning the classes of partially labelled datasets are multi-teacher
    distillation.

    Labels: ``annotated_labels`` in an image's metainfo lists the classes
    its dataset labels; absent means fully labelled (as in
    :class:`CenterXHead`). With ``use_gt`` the GT losses are used where
    labels exist; ``kd_on_labelled`` keeps (True) or drops (False) the KD
    term of an (image, class) pair that has GT. Without ``use_gt`` only the
    KD terms are used, every class must have a teacher and annotations are
    not needed.

    Args:
        classes (Sequence[str]): student class names, one per channel.
        teachers (list[dict]): ``dict(config=..., checkpoint=...,
            classes=(...))`` each.
        distill_loss (dict): :class:`KDLoss` config; its ``peak_topk``
            defaults to the student's ``test_cfg.topk``.
        use_gt (bool): keep the GT losses.
        kd_on_labelled (bool): with ``use_gt``, also distil (image, class)
            pairs that have GT.
        gt_classes (Sequence[str], optional): with ``use_gt``, the classes
            the training data labels at all (default every class); a class
            outside it must have a teacher.
        heatmap_merge (str): ``'max'`` or ``'weighted'``.
        conflict (str): ``'max'`` or ``'mean'``.
        probe_hw (tuple): input size of the build-time output-size check.
        teacher_config, teacher_ckpt (str): deprecated single-teacher keys,
            the config/checkpoint of ``teachers[0]`` (with a warning).
        backbone, neck, bbox_head, ...: the student, as :class:`CenterX`.
    """
    STUDENT_TYPE = 'CenterX'
    DISTILL_KEYS = ('classes', 'teachers', 'distill_loss', 'use_gt',
                    'kd_on_labelled', 'gt_classes', 'heatmap_merge',
                    'conflict', 'probe_hw', 'teacher_config', 'teacher_ckpt')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 bbox_head: dict,
                 classes: Optional[Sequence[str]] = None,
                 teachers: Optional[Sequence[dict]] = None,
                 distill_loss: dict = dict(type='KDLoss'),
                 use_gt: bool = True,
                 kd_on_labelled: bool = True,
                 gt_classes: Optional[Sequence[str]] = None,
                 heatmap_merge: str = 'max',
                 conflict: str = 'max',
                 probe_hw: Tuple[int, int] = (128, 128),
                 teacher_config: Optional[str] = None,
                 teacher_ckpt: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, neck=neck, bbox_head=bbox_head, **kwargs)
        self.classes = check_student_classes(classes,
                                             self.bbox_head.num_classes)
        for name, value, allowed in (
            ('heatmap_merge', heatmap_merge, HEATMAP_MERGE_RULES),
            ('conflict', conflict, CONFLICT_RULES)):
            if value not in allowed:
                raise TeacherConfigError(
                    f'model.{name} must be one of {allowed}, got {value!r}')
        self.use_gt = use_gt
        self.kd_on_labelled = kd_on_labelled
        self.heatmap_merge = heatmap_merge
        self.conflict = conflict
        self.gt_classes = (tuple(self.classes) if gt_classes is None else
                           tuple(gt_classes)) if use_gt else ()
        self.distill_loss = self.build_distill_loss(distill_loss)

        specs = legacy_teacher_specs(teachers, teacher_config, teacher_ckpt)
        check_teacher_specs(specs)
        # Names first (cheap, before any checkpoint is read) when given.
        if all(s.get('classes') for s in specs):
            # a single class may be written as a plain string
            check_teacher_classes(
                self.classes,
                [(s['classes'], ) if isinstance(s['classes'], str) else
                 s['classes'] for s in specs], self.gt_classes)
        built, taught = [], []
        self.teacher_channels = []  # per teacher: its heatmap channels
        for i, (teacher, names, channels) in enumerate(
                load_teachers(specs, self.classes)):
            field = f'model.teachers[{i}] {teacher.config}'
            check_same_preprocessing(kwargs.get('data_preprocessor'),
                                     teacher.data_preprocessor, field)
            check_same_head_kind(self, teacher.model, field)
            check_same_output_size(self, teacher.model, field, probe_hw)
            built.append(teacher.model)
            taught.append(names)
            self.teacher_channels.append(channels)
        self.teacher_classes = tuple(taught)
        # per teacher: the student channel of each class it teaches
        self.student_channels = check_teacher_classes(
            self.classes, taught, self.gt_classes)
        untaught = [c for c in self.classes
                    if not any(c in names for names in taught)]
        if untaught:
            print_log(f'CenterXDistiller: student classes {untaught} have no '
                      'teacher: GT losses only', logger='current')
        self.set_teachers(built)

    def build_distill_loss(self, cfg: dict):
        """:class:`KDLoss` with ``peak_topk`` defaulting to the student's
        ``test_cfg.topk``; ``'logits'`` without GT refused."""
        cfg = dict(cfg)
        if cfg.get('type') in ('KDLoss', 'centerx_mm.KDLoss'):
            cfg.setdefault('peak_topk',
                           (self.bbox_head.test_cfg or {}).get('topk', 100))
        loss = MODELS.build(cfg)
        if getattr(loss, 'heatmap_mode', None) == 'logits' and \
                not self.use_gt:
            raise TeacherConfigError(
                "model.distill_loss.heatmap_mode='logits' with "
                'model.use_gt=False cannot train: the logits mode compares '
                'relu(logits), so a student logit below 0 gets no gradient, '
                'and every heatmap logit of a new head starts at -2.19; '
                "without GT losses the heatmap never starts. Use 'prob'.")
        return loss

    @property
    def teacher(self) -> torch.nn.Module:
        """The first (for single-teacher KD: the) frozen teacher."""
        return self.teachers[0]

    @torch.no_grad()
    def teacher_forward(self,
                        batch_inputs: Tensor) -> List[Tuple[Tensor, ...]]:
        """Per teacher: its head outputs, heatmap channels restricted to the
        classes it teaches (``teacher_classes[t]`` order)."""
        outs = []
        for teacher, channels in zip(self.teachers, self.teacher_channels):
            heat, *regs = teacher._forward(batch_inputs)
            outs.append((heat[:, channels], *regs))
        return outs

    def kd_class_weight(self, batch_img_metas: Sequence[dict],
                        ref: Tensor) -> Tensor:
        """(B, C): 1 where a teacher distils student class c in image b.

        Classes with a teacher only; with ``use_gt`` and not
        ``kd_on_labelled`` also only classes the image does not label
        (``annotated_labels``; absent = every class labelled).
        """
        weight = ref.new_zeros(len(batch_img_metas), len(self.classes),
                               dtype=torch.float32)
        for channels in self.student_channels:
            weight[:, channels] = 1
        if self.use_gt and not self.kd_on_labelled:
            for b, meta in enumerate(batch_img_metas):
                labelled = meta.get('annotated_labels')
                if labelled is None:
                    weight[b] = 0
                else:
                    labelled = list(labelled)
                    bad = [c for c in labelled
                           if not 0 <= int(c) < len(self.classes)]
                    if bad:
                        raise ValueError(
                            f'annotated_labels {bad} of '
                            f'{meta.get("img_path", f"image {b}")} are not '
                            f'class indices of the {len(self.classes)} '
                            f'student classes {tuple(self.classes)}')
                    weight[b, labelled] = 0
        return weight

    def teacher_targets(self, teacher_outs: Sequence[Tuple[Tensor, ...]],
                        class_weight: Tensor
                        ) -> Tuple[Tuple[Tensor, ...], Tensor, Tensor]:
        """Teacher outputs -> student-shaped KD targets.

        Args:
            teacher_outs: :meth:`teacher_forward` output.
            class_weight (Tensor): (B, C) from :meth:`kd_class_weight`.

        Returns:
            tuple: ``(heatmap logits (B, C, H, W), *regressions)`` targets,
            the heatmap weight (B, C, 1, 1) and the regression mask
            (B, 1, H, W) (:func:`merge_regression_targets` of each
            teacher's :meth:`KDLoss.regression_mask`).
        """
        heat = merge_heatmaps([o[0] for o in teacher_outs],
                              self.student_channels, len(self.classes),
                              self.heatmap_merge)
        masks = torch.stack([
            self.distill_loss.regression_mask(
                out[0], class_weight[:, channels, None, None])
            for out, channels in zip(teacher_outs, self.student_channels)
        ])
        regressions = [
            torch.stack([out[k].float() for out in teacher_outs])
            for k in range(1, len(teacher_outs[0]))
        ]
        mask, merged = merge_regression_targets(masks, regressions,
                                                self.conflict)
        return (heat, *merged), class_weight[:, :, None, None], mask

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """GT losses (``use_gt``) of the student plus ``loss_kd_*``."""
        student_outs = self.bbox_head(self.extract_feat(batch_inputs))
        metas = [s.metainfo for s in batch_data_samples]
        class_weight = self.kd_class_weight(metas, student_outs[0])
        targets, heat_weight, mask = self.teacher_targets(
            self.teacher_forward(batch_inputs), class_weight)
        losses = {}
        if self.use_gt:
            losses.update(self.gt_losses(student_outs, batch_data_samples))
        losses.update(
            self.distill_loss(
                student_outs, targets, heatmap_weight=heat_weight, mask=mask,
                out_names=self.bbox_head.out_names))
        return losses


def legacy_teacher_specs(teachers: Optional[Sequence[dict]],
                         teacher_config: Optional[str],
                         teacher_ckpt: Optional[str]) -> List[dict]:
    """``model.teachers`` with the deprecated single-teacher keys applied:
    ``teacher_config``/``teacher_ckpt`` set ``teachers[0]``'s config /
    checkpoint (a list of one teacher is created if needed), so old configs
    and ``--cfg-options model.teacher_ckpt=...`` keep working."""
    teachers = [dict(t) if isinstance(t, dict) else t
                for t in (teachers or [])]
    legacy = {
        k: v
        for k, v in (('config', teacher_config), ('checkpoint', teacher_ckpt))
        if v is not None
    }
    if not legacy:
        return teachers
    warnings.warn(
        'model.teacher_config / model.teacher_ckpt are deprecated: use '
        'model.teachers=[dict(config=..., checkpoint=...)] '
        '(--cfg-options model.teachers.0.checkpoint=PATH)', DeprecationWarning)
    print_log(
        'model.teacher_config / model.teacher_ckpt are deprecated, use '
        'model.teachers=[dict(config=..., checkpoint=...)]',
        logger='current', level=30)
    if len(teachers) > 1:
        raise TeacherConfigError(
            'model.teacher_config / model.teacher_ckpt (deprecated) name one '
            f'teacher but model.teachers lists {len(teachers)}: set '
            'model.teachers.<i>.config / .checkpoint instead')
    spec = teachers[0] if teachers else {}
    if not isinstance(spec, dict):
        return teachers  # check_teacher_specs names the problem
    spec.update(legacy)
    for field, key in (('model.teacher_config', 'config'),
                       ('model.teacher_ckpt', 'checkpoint')):
        if not spec.get(key):
            raise TeacherConfigError(
                f'{field} is not set: a distillation config needs the '
                "teacher's config file and checkpoint, e.g. --cfg-options "
                f'{field}=PATH (or model.teachers=[dict(config=..., '
                'checkpoint=...)])')
    return [spec]


def check_same_head_kind(student: torch.nn.Module, teacher: torch.nn.Module,
                         teacher_desc: str) -> None:
    """Teacher and student heads must give the same maps
    (``bbox_head.out_names``): a CenterXHead (wh, offset) cannot teach a
    CenterXTTFHead (ltrb) or the reverse."""
    s_head, t_head = student.bbox_head, teacher.bbox_head
    s_names = getattr(s_head, 'out_names', None)
    t_names = getattr(t_head, 'out_names', None)
    if s_names != t_names:
        raise TeacherConfigError(
            f'teacher {teacher_desc} has a {type(t_head).__name__} '
            f'(outputs {t_names}) but the student a {type(s_head).__name__} '
            f'(outputs {s_names}): distillation needs the same head kind')
