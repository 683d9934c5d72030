"""Frozen teachers for distillation: build one from its own config file and
checkpoint, map its classes onto the student's by name, check that it sees
the student's input the same way (design notes, "模型蒸馏"/"多模型蒸馏")."""
import copy
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict


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


def _find_classes(cfg) -> Optional[Tuple[str, ...]]:
    """``metainfo.classes`` of a config: top level, else the first found in
    ``train_dataloader.dataset`` (also inside dataset wrappers)."""
    top = cfg.get('metainfo') or {}
    if top.get('classes'):
        return tuple(top['classes'])
    stack = [(cfg.get('train_dataloader') or {}).get('dataset')]
    while stack:
        ds = stack.pop(0)
        if isinstance(ds, (list, tuple)):
            stack.extend(ds)
        elif isinstance(ds, dict):
            classes = (ds.get('metainfo') or {}).get('classes')
            if classes:
                return tuple(classes)
            stack.extend(ds.get(k) for k in ('dataset', 'datasets')
                         if ds.get(k) is not None)
    return None


def plain_model_cfg(model_cfg: dict) -> dict:
    """A copy of ``model_cfg`` as a plain detector: a distiller config
    becomes its student (distillation keys dropped), and backbone/neck
    ``init_cfg`` are removed (the teacher's checkpoint holds all weights)."""
    from centerx_mm.registry import MODELS
    cfg = copy.deepcopy(ConfigDict(model_cfg))
    cls = MODELS.get(cfg.get('type'))
    student_type = getattr(cls, 'STUDENT_TYPE', None)
    if student_type is not None:
        for key in cls.DISTILL_KEYS:
            cfg.pop(key, None)
        cfg['type'] = student_type
    for part in ('backbone', 'neck'):
        if isinstance(cfg.get(part), dict):
            cfg[part].pop('init_cfg', None)
    cfg.pop('init_cfg', None)
    return cfg


def load_teacher(config: Optional[str],
                 checkpoint: Optional[str],
                 config_field: str = 'model.teacher_config',
                 ckpt_field: str = 'model.teacher_ckpt') -> Teacher:
    """Build the teacher of ``config`` (its ``model``), load ``checkpoint``
    weights-only and strictly, freeze it.

    Classes come from the checkpoint's ``meta.dataset_meta.classes`` (what
    it was trained on), else from the config's dataset ``metainfo``. The
    checkpoint's tensors become the parameters (``assign=True``): no second
    copy of the weights stays in memory.

    Raises:
        TeacherConfigError: a field is unset, the checkpoint's keys or shapes
            do not fit the config, or the classes are unknown or do not
            match the head; FileNotFoundError: a file is missing. Messages
            name the field and the file.
    """
    from centerx_mm.registry import MODELS
    from centerx_mm.utils import load_checkpoint_safely
    from mmengine.registry import DefaultScope

    for field, value in ((config_field, config), (ckpt_field, checkpoint)):
        if not value:
            raise TeacherConfigError(
                f'{field} is not set: a distillation config needs the '
                "teacher's config file and checkpoint, e.g. --cfg-options "
                f'{field}=PATH')
    if not osp.isfile(config):
        raise FileNotFoundError(
            f'{config_field}: teacher config file not found: {config}')
    if not osp.isfile(osp.expanduser(checkpoint)):
        raise FileNotFoundError(
            f'{ckpt_field}: teacher checkpoint not found: {checkpoint} '
            f'(train the teacher with tools/train.py {config} first, or '
            f'point {ckpt_field} at its checkpoint)')
    cfg = Config.fromfile(config)
    if 'model' not in cfg:
        raise TeacherConfigError(
            f'{config_field}: {config} has no "model" section')
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        model = MODELS.build(plain_model_cfg(cfg.model))

    ckpt = load_checkpoint_safely(checkpoint, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise TeacherConfigError(
            f'{ckpt_field}: {checkpoint} holds no state_dict')
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    state = ckpt.pop('state_dict', ckpt)
    del ckpt  # optimizer state etc.: not kept
    if not isinstance(state, dict) or not state:
        raise TeacherConfigError(
            f'{ckpt_field}: {checkpoint} holds no state_dict')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state)
                   if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = []
        for what, keys in (('missing', missing), ('unexpected', unexpected),
                           ('shape-mismatched', wrong)):
            if keys:
                shown = ', '.join(
                    f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}'
                    if what == 'shape-mismatched' else k for k in keys[:4])
                more = f' (+{len(keys) - 4} more)' if len(keys) > 4 else ''
                parts.append(f'{len(keys)} {what} keys: {shown}{more}')
        raise TeacherConfigError(
            f'{ckpt_field}: checkpoint {checkpoint} does not fit the model of '
            f'{config_field} {config}: ' + '; '.join(parts))
    model.load_state_dict(state, strict=True, assign=True)
    del state

    classes = (meta.get('dataset_meta') or {}).get('classes') \
        or _find_classes(cfg)
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
