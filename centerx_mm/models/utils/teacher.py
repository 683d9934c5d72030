"""Frozen teachers for distillation: build one from its own config file and
checkpoint, map its classes onto the student's by name, check that it sees
the student's input the same way (design notes, "模型蒸馏"/"多模型蒸馏")."""
import os
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config

from .trained_model import build_trained_detector


class TeacherConfigError(ValueError):
    """A teacher's config, checkpoint or classes do not fit the student."""


class _FrozenTeachers:
    """The teachers of one distiller, outside its module tree.

    ``copy.deepcopy`` (mmengine's ``ExpMomentumEMA`` deep-copies the whole
    model) returns a *borrowing* holder of the very same teacher modules:
    the copy can run them but never holds a second set of weights, and its
    ``.to()``/``.half()`` does not move them (the owner's does).
    """

    def __init__(self, modules: Sequence[nn.Module], owner: bool = True):
        self.modules = tuple(modules)
        self.owner = owner

    def __deepcopy__(self, memo):
        return _FrozenTeachers(self.modules, owner=False)


class FrozenTeachersMixin:
    """Holds frozen teachers outside an ``nn.Module``'s module tree.

    Teachers set by :meth:`set_teachers` are not in ``state_dict()`` nor
    ``parameters()`` (so never in the optimizer, a checkpoint or DDP), stay
    in eval mode whatever ``train()`` is called with, and follow the
    module's ``.to()``/``.cuda()``/``.half()`` (``_apply``). A deep copy of
    the module (an EMA model) shares them instead of copying them
    (:class:`_FrozenTeachers`). Mix in before the ``nn.Module`` base:
    ``class D(FrozenTeachersMixin, CenterX)``.
    """

    def set_teachers(self, teachers: Sequence[nn.Module]) -> None:
        for teacher in teachers:
            teacher.eval()
            teacher.requires_grad_(False)
        # Not an nn.Module attribute: not registered as a submodule.
        self._frozen_teachers = _FrozenTeachers(teachers)

    @property
    def teachers(self) -> Tuple[nn.Module, ...]:
        holder = self.__dict__.get('_frozen_teachers')
        return holder.modules if holder is not None else ()

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        holder = self.__dict__.get('_frozen_teachers')
        if holder is not None and holder.owner:
            for teacher in holder.modules:
                teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        for teacher in self.teachers:
            teacher.eval()
        return self


class Teacher(NamedTuple):
    """A built, frozen teacher and where it came from."""
    model: nn.Module  # eval mode, requires_grad False
    classes: Tuple[str, ...]  # class name of each heatmap channel
    config: str  # config file path
    checkpoint: str  # checkpoint file path
    data_preprocessor: Optional[dict]  # the teacher config's, for checks


def map_classes_by_name(source: Sequence[str], target: Sequence[str],
                        source_desc: str, target_desc: str) -> List[int]:
    """Index into ``source`` of every name in ``target``.

    Single teacher: ``source`` = teacher classes, ``target`` = student
    classes gives the teacher channel for each student channel. Several
    teachers: swap them to place each teacher class on a student channel.

    Raises:
        TeacherConfigError: a target name is not in ``source`` (all missing
            names are listed), or a name occurs twice in ``source``.
    """
    source, target = list(source), list(target)
    dup = sorted({c for c in source if source.count(c) > 1})
    if dup:
        raise TeacherConfigError(f'{source_desc} lists classes {dup} twice')
    missing = [c for c in target if c not in source]
    if missing:
        raise TeacherConfigError(
            f'{target_desc} classes {missing} are not among {source_desc} '
            f'classes {source}; classes are matched by name')
    return [source.index(c) for c in target]


def load_teacher(config: Optional[str],
                 checkpoint: Optional[str],
                 config_field: str = 'model.teacher_config',
                 ckpt_field: str = 'model.teacher_ckpt') -> Teacher:
    """Build the teacher of ``config`` (its ``model``), load ``checkpoint``
    weights-only and strictly (:func:`build_trained_detector`, as the
    tools do), freeze it.

    Classes come from the checkpoint's ``meta.dataset_meta.classes`` (what
    it was trained on), else from the config's dataset ``metainfo``. The
    checkpoint's tensors become
    the parameters (``assign=True``): no second copy of the weights stays
    in memory.

    Raises:
        TeacherConfigError: a field is unset, the checkpoint's keys or
            shapes do not fit the config, or the classes are unknown or do
            not match the head; FileNotFoundError: a file is missing;
            UnsafeCheckpointError: a remote URL. Messages name the field and
            the file.
    """
    from centerx_mm.checkpoint import CheckpointMismatchError, refuse_remote

    for field, value in ((config_field, config), (ckpt_field, checkpoint)):
        if not value:
            raise TeacherConfigError(
                f'{field} is not set: a distillation config needs the '
                "teacher's config file and checkpoint, e.g. --cfg-options "
                f'{field}=PATH')
    refuse_remote(checkpoint, f'{ckpt_field}')
    if not osp.isfile(config):
        hint = '' if osp.isabs(config) else (
            f' (relative to the working directory {os.getcwd()}; write '
            "'{{fileDirname}}/NAME.py' in a config for its own folder)")
        raise FileNotFoundError(
            f'{config_field}: teacher config file not found: {config}{hint}')
    if not osp.isfile(osp.expanduser(checkpoint)):
        raise FileNotFoundError(
            f'{ckpt_field}: teacher checkpoint not found: {checkpoint} '
            f'(train the teacher with tools/train.py {config} first, or '
            f'point {ckpt_field} at its checkpoint)')
    cfg = Config.fromfile(config)
    if 'model' not in cfg:
        raise TeacherConfigError(
            f'{config_field}: {config} has no "model" section')
    try:
        model = build_trained_detector(
            cfg, checkpoint, field=ckpt_field,
            model_desc=f'{config_field} {config}', check_classes=False)
    except CheckpointMismatchError as err:
        raise TeacherConfigError(str(err)) from None

    classes = model.dataset_meta.get('classes')
    if not classes:
        raise TeacherConfigError(
            f'teacher classes unknown: neither {ckpt_field} {checkpoint} '
            '(meta.dataset_meta.classes) nor ' + f'{config_field} {config} '
            '(metainfo.classes) names them')
    classes = tuple(classes)
    num_classes = getattr(getattr(model, 'bbox_head', None), 'num_classes',
                          len(classes))
    if num_classes != len(classes):
        raise TeacherConfigError(
            f'teacher {config} has bbox_head.num_classes={num_classes} but '
            f'{len(classes)} class names {classes}')

    model.eval()
    model.requires_grad_(False)
    return Teacher(model, classes, config, checkpoint,
                   cfg.model.get('data_preprocessor'))


def check_same_preprocessing(student_dp: Optional[dict],
                             teacher_dp: Optional[dict],
                             teacher_config: str) -> None:
    """Both nets get the student's preprocessed batch: fail if the
    teacher was trained with another normalisation or channel order."""
    if not student_dp or not teacher_dp:
        return

    def norm(dp):
        rgb = bool(dp.get('bgr_to_rgb', False) or dp.get('rgb_to_bgr', False))
        mean, std = dp.get('mean'), dp.get('std')
        return (None if mean is None else [float(v) for v in mean],
                None if std is None else [float(v) for v in std], rgb)

    if norm(student_dp) != norm(teacher_dp):
        raise TeacherConfigError(
            f'teacher {teacher_config} was trained with data_preprocessor '
            f'(mean, std, swap channels)={norm(teacher_dp)} but the student '
            f'uses {norm(student_dp)}; both get the same preprocessed batch, '
            'so they must match')


@torch.no_grad()
def check_same_output_size(student: nn.Module,
                           teacher: nn.Module,
                           teacher_config: str,
                           probe_hw: Tuple[int, int] = (128, 128)) -> None:
    """Run both nets (eval mode) on a zero image of ``probe_hw`` and fail if
    their head maps differ in size (e.g. another output stride)."""
    was_training = student.training
    student.eval()
    try:
        probe = torch.zeros(1, 3, *probe_hw)
        s_hw = student._forward(probe)[0].shape[-2:]
        t_hw = teacher._forward(probe)[0].shape[-2:]
    finally:
        student.train(was_training)
    if s_hw != t_hw:
        raise TeacherConfigError(
            f'teacher {teacher_config} outputs {tuple(t_hw)} maps for a '
            f'{tuple(probe_hw)} input but the student outputs {tuple(s_hw)}: '
            'their output strides differ')


def check_student_classes(classes, num_classes: int) -> tuple:
    """``model.classes`` of a distiller: set, and one name per heatmap
    channel (``model.bbox_head.num_classes``). Returns it as a tuple."""
    if not classes:
        raise TeacherConfigError(
            'model.classes is not set: a distiller needs the student class '
            "names (the train dataset's metainfo.classes) to map the "
            "teachers' classes onto them by name")
    if len(classes) != num_classes:
        raise TeacherConfigError(
            f'model.classes has {len(classes)} names but '
            f'model.bbox_head.num_classes={num_classes}')
    return tuple(classes)
