"""CenterXDistiller with several teachers (multi-teacher distillation for
partially labelled data, overlapping teachers), ``annotated_labels``
semantics, the deprecated ``MultiTeacherDistiller`` name, and the
partial-label baselines.

Tiny nets (ResNet-18 with 8/16 base channels) and a generated 8-image
dataset with two partial-label parts keep every test at a few seconds.
Hand-computed values: see docs/multi_teacher.md for the same examples.
"""
import math
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from centerx_mm.datasets import DatasetConfigError
from centerx_mm.models.dense_heads.centerx_head import CenterXHead
from centerx_mm.models.detectors import (CenterX, CenterXDistiller,
                                         MultiTeacherDistiller)
from centerx_mm.models.detectors.distiller import (check_teacher_classes,
                                                   merge_heatmaps,
                                                   merge_regression_targets)
from centerx_mm.models.utils import TeacherConfigError
from centerx_mm.registry import DATASETS, MODELS
from tests.helpers import save_ckpt, tiny_student_config, write

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ('ring', 'star', 'cross', 'triangle')
PARTS = (('ring', 'star'), ('cross', 'triangle'))

# the ignore-unlabelled baseline config with a tiny net and a tmp dataset
STUDENT_TRAIN_DATA = """
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(datasets=[
        dict(ds, data_root=data_root)
        for ds in _base_.train_dataloader.dataset.datasets]))
"""
# a 2-class teacher, 16 base channels
TEACHER = """
_base_ = [{student!r}]
metainfo = dict(classes={classes!r})
model = dict(backbone=dict(base_channels=16),
             neck=dict(in_channels=128, num_deconv_filters=(32, 16, 16)),
             bbox_head=dict(num_classes={n}))
"""
MT = """
_base_ = ['student.py']
model = dict(
    type='CenterXDistiller', classes=_base_.metainfo.classes,
    teachers=[dict(config={ta!r}, checkpoint={ca!r}, classes=('ring', 'star')),
              dict(config={tb!r}, checkpoint={cb!r},
                   classes=('cross', 'triangle'))],
    use_gt=False,
    distill_loss=dict(type='KDLoss', heatmap_mode='prob', mask='peaks',
                      loss_heatmap_weight=1., loss_wh_weight=1.,
                      loss_offset_weight=1.))
"""


def make_teacher(tmp, student, name, classes, ckpt_classes=None, seed=0):
    cfg = write(tmp / f'{name}.py',
                TEACHER.format(student=student, classes=tuple(classes),
                               n=len(classes)))
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(cfg).model)
    model.init_weights()
    ckpt = save_ckpt(model, tmp / f'{name}.pth', ckpt_classes or classes)
    return cfg, ckpt, model


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    """Tiny partial-label dataset, student/teacher/MT configs, checkpoints.
    Teacher A's checkpoint lists its classes as (star, ring): the reverse of
    the spec's order, so a positional mapping would be wrong."""
    from centerx_mm.datasets.shapes_generator import generate_shapes_dataset
    tmp = tmp_path_factory.mktemp('mt')
    root = str(tmp / 'data') + '/'
    generate_shapes_dataset(root, num_train=8, num_val=4,
                            partial_splits=PARTS)
    base = osp.join(REPO, 'configs/centerx/mt_r18_ignore_unlabelled_shapes.py')
    student = write(tmp / 'student.py',
                    tiny_student_config(base, root, STUDENT_TRAIN_DATA))
    ta, ca, ma = make_teacher(tmp, student, 'teacher_a', ('star', 'ring'),
                              seed=1)
    tb, cb, mb = make_teacher(tmp, student, 'teacher_b',
                              ('cross', 'triangle'), seed=2)
    mt = write(tmp / 'mt.py', MT.format(ta=ta, ca=ca, tb=tb, cb=cb))
    return dict(tmp=tmp, root=root, student=student, mt=mt, ta=ta, ca=ca,
                tb=tb, cb=cb, model_a=ma.eval(), model_b=mb.eval())


def mt_cfg(env, **model):
    cfg = Config.fromfile(env['mt']).model
    cfg.update(model)
    return cfg


def teachers(env, a=None, b=None):
    specs = Config.fromfile(env['mt']).model.teachers
    specs[0].update(a or {})
    specs[1].update(b or {})
    return specs


def _sample(boxes=(), labels=(), hw=(64, 64), **meta):
    s = DetDataSample(metainfo=dict(img_shape=hw, batch_input_shape=hw,
                                    **meta))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    return s


# ------------------------------------------------ class mapping by name


def test_check_teacher_classes_maps_by_name():
    assert check_teacher_classes(
        CLASSES, [('star', 'ring'), ('triangle', 'cross')]) == [[1, 0],
                                                                 [3, 2]]
    # a class labelled by the data needs no teacher
    assert check_teacher_classes(CLASSES, [('ring', 'star', 'cross')],
                                 gt_classes=('triangle', )) == [[0, 1, 2]]
    # several teachers may own a class
    assert check_teacher_classes(
        CLASSES, [('ring', 'star'), ('ring', 'cross', 'triangle')]) == [
            [0, 1], [0, 2, 3]]


@pytest.mark.parametrize('teacher_classes, gt, match', [
    ([('ring', 'star'), ('cross', 'hexagon')], (),
     r"model.teachers\[1\] classes \['hexagon'\] are not among student "
     r'\(model.classes\)'),
    ([('ring', 'star'), ('cross', )], (),
     r"student classes \['triangle'\] have no teacher .* not labelled"),
    ([('ring', 'star'), ('cross', 'cross', 'triangle')], (),
     r"model.teachers\[1\].classes lists \['cross'\] twice"),
    ([('ring', 'star'), ()], (), r'model.teachers\[1\].classes is empty'),
    ([('ring', 'star', 'cross', 'triangle')], ('square', ),
     r"model.gt_classes \['square'\] are not student classes"),
])
def test_check_teacher_classes_errors(teacher_classes, gt, match):
    with pytest.raises(TeacherConfigError, match=match):
        check_teacher_classes(CLASSES, teacher_classes, gt)


def test_build_maps_teacher_channels_by_name(env):
    model = MODELS.build(mt_cfg(env))
    assert type(model) is CenterXDistiller
    # teacher A's heatmap is (star, ring): 'ring' is its channel 1
    assert model.teacher_channels == [[1, 0], [0, 1]]
    assert model.student_channels == [[0, 1], [2, 3]]
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    outs = model.teacher_forward(x)
    full_a = env['model_a']._forward(x)[0]
    full_b = env['model_b']._forward(x)[0]
    torch.testing.assert_close(outs[0][0], full_a[:, [1, 0]])
    weight = model.kd_class_weight([{}, {}], x)
    (heat, _, _), hw, _ = model.teacher_targets(outs, weight)
    torch.testing.assert_close(heat[:, 0], full_a[:, 1])  # ring
    torch.testing.assert_close(heat[:, 1], full_a[:, 0])  # star
    torch.testing.assert_close(heat[:, 2:], full_b)  # cross, triangle
    assert hw.shape == (2, 4, 1, 1) and bool((hw == 1).all())


def test_teachers_frozen_outside_state_dict(env):
    model = MODELS.build(mt_cfg(env))
    assert len(model.teachers) == 2
    ids = {id(p) for t in model.teachers for p in t.parameters()}
    assert not ids & {id(p) for p in model.parameters()}
    assert all(not p.requires_grad for t in model.teachers
               for p in t.parameters())
    model.train()
    assert not any(m.training for t in model.teachers for m in t.modules())
    plain = MODELS.build(Config.fromfile(env['student']).model)
    assert type(plain) is CenterX
    plain.load_state_dict(model.state_dict(), strict=True)


# --------------------------------------- conflict rule, hand-computed


def _heat(num_classes, peaks):
    """(1, num_classes, 4, 4) logits: probability 0 except ``peaks``
    ``(channel, y, x, p)``."""
    h = torch.full((1, num_classes, 4, 4), -1e4)
    for c, y, x, p in peaks:
        h[0, c, y, x] = math.log(p / (1 - p))
    return h


def _synthetic_teacher_outs():
    """4x4 maps, 1 image. Teacher A (ring, star): ring peak 0.9 at (1, 1),
    wh 10, offset 0.2 everywhere. Teacher B (cross, triangle): cross peak
    0.6 at (1, 1), triangle peak 0.5 at (2, 3), wh 20, offset 0.6.
    Background logit -1e4 (probability exactly 0)."""
    a = (_heat(2, [(0, 1, 1, 0.9)]), torch.full((1, 2, 4, 4), 10.),
         torch.full((1, 2, 4, 4), 0.2))
    b = (_heat(2, [(0, 1, 1, 0.6), (1, 2, 3, 0.5)]),
         torch.full((1, 2, 4, 4), 20.), torch.full((1, 2, 4, 4), 0.6))
    return [a, b]


def test_merge_regression_targets_hand_computed():
    masks = torch.zeros(2, 1, 1, 2, 2)
    masks[0, 0, 0, 0, 0] = 0.9  # both teachers peak at (0, 0)
    masks[1, 0, 0, 0, 0] = 0.6
    masks[1, 0, 0, 0, 1] = 0.5  # only B at (0, 1)
    masks[:, 0, 0, 1, 1] = 0.4  # tie at (1, 1)
    wh = torch.stack([torch.full((1, 2, 2, 2), 10.),
                      torch.full((1, 2, 2, 2), 20.)])
    off = wh / 100
    ltrb = torch.cat([wh, wh], dim=2)  # the TTF head's 4 maps
    mask, (t_wh, t_off, t_ltrb) = merge_regression_targets(
        masks, [wh, off, ltrb], 'max')
    torch.testing.assert_close(mask[0, 0],
                               torch.tensor([[0.9, 0.5], [0., 0.4]]))
    # (0,0): A more confident; (0,1): B alone; (1,1): tie -> teacher 0
    assert t_wh[0, 0].tolist() == [[10., 20.], [10., 10.]]
    torch.testing.assert_close(t_off[0, 1],
                               torch.tensor([[.1, .2], [.1, .1]]))
    assert t_ltrb.shape == (1, 4, 2, 2)
    assert t_ltrb[0, 3].tolist() == [[10., 20.], [10., 10.]]
    mask, (t_wh, ) = merge_regression_targets(masks, [wh], 'mean')
    # (0,0): (0.9*10 + 0.6*20) / 1.5 = 14; (1,1): (0.4*10 + 0.4*20)/0.8 = 15
    torch.testing.assert_close(t_wh[0, 0],
                               torch.tensor([[14., 20.], [10., 15.]]))
    with pytest.raises(ValueError, match='conflict'):
        merge_regression_targets(masks, [wh], 'sum')


@pytest.mark.parametrize('conflict, wh, offset', [
    # 'max': (1,1) from A (0.9 > 0.6): (0.9*10 + 0.5*20) / 1.4
    ('max', 19 / 1.4, (0.9 * 0.2 + 0.5 * 0.6) / 1.4),
    # 'mean': (1,1) target (0.9*10 + 0.6*20) / 1.5 = 14, offset 0.36
    ('mean', (0.9 * 14 + 0.5 * 20) / 1.4, (0.9 * 0.36 + 0.5 * 0.6) / 1.4),
])
def test_kd_losses_two_teachers_hand_computed(env, conflict, wh, offset):
    model = MODELS.build(mt_cfg(env, conflict=conflict))
    outs = _synthetic_teacher_outs()
    student = (torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 4, 4),
               torch.zeros(1, 2, 4, 4))
    weight = model.kd_class_weight([{}], student[0])
    targets, hw, mask = model.teacher_targets(outs, weight)
    losses = model.distill_loss(student, targets, heatmap_weight=hw,
                                mask=mask)
    # prob mode: student 0.5 everywhere; 61 cells of teacher prob 0, one
    # each of 0.9, 0.6, 0.5: (61*0.25 + 0.16 + 0.01 + 0), per teacher peak
    # (3 confident peaks)
    assert losses['loss_kd_heatmap'].item() == pytest.approx(15.42 / 3)
    assert losses['loss_kd_wh'].item() == pytest.approx(wh)
    assert losses['loss_kd_offset'].item() == pytest.approx(offset)


def test_kd_with_gt_distils_only_unlabelled_classes(env):
    """use_gt: an image of part 0 (ring, star labelled) is distilled on
    cross/triangle only; teacher A's peak no longer weights the regression."""
    model = MODELS.build(mt_cfg(env, use_gt=True, kd_on_labelled=False))
    outs = _synthetic_teacher_outs()
    student = (torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 4, 4),
               torch.zeros(1, 2, 4, 4))
    weight = model.kd_class_weight([dict(annotated_labels=[0, 1])],
                                   student[0])
    assert weight.tolist() == [[0., 0., 1., 1.]]
    targets, hw, mask = model.teacher_targets(outs, weight)
    losses = model.distill_loss(student, targets, heatmap_weight=hw,
                                mask=mask)
    # cross: 15*0.25 + 0.01, triangle: 15*0.25 + 0, over 2 teacher peaks
    assert losses['loss_kd_heatmap'].item() == pytest.approx(7.51 / 2)
    # only B's peaks (0.6 and 0.5), both target 20 / 0.6
    assert losses['loss_kd_wh'].item() == pytest.approx(20.)
    assert losses['loss_kd_offset'].item() == pytest.approx(0.6)
    # kd_on_labelled: all four classes again
    model.kd_on_labelled = True
    assert model.kd_class_weight([dict(annotated_labels=[0, 1])],
                                 student[0]).tolist() == [[1., 1., 1., 1.]]


# ------------------------------------------------- overlapping teachers


@pytest.fixture(scope='module')
def overlap(env):
    """Teacher B' of (ring, cross, triangle): shares 'ring' with A."""
    tb3, cb3, mb3 = make_teacher(env['tmp'], env['student'], 'teacher_b3',
                                 ('ring', 'cross', 'triangle'), seed=3)
    return dict(config=tb3, checkpoint=cb3, model=mb3.eval())


def _overlap_outs():
    """A (ring, star): ring 0.9 at (1, 1); wh 10, offset 0.2. B' (ring,
    cross, triangle): ring 0.6 at (1, 1) and 0.3 at (3, 0), cross 0.5 at
    (2, 3); wh 20, offset 0.6."""
    a = (_heat(2, [(0, 1, 1, 0.9)]), torch.full((1, 2, 4, 4), 10.),
         torch.full((1, 2, 4, 4), 0.2))
    b = (_heat(3, [(0, 1, 1, 0.6), (0, 3, 0, 0.3), (1, 2, 3, 0.5)]),
         torch.full((1, 2, 4, 4), 20.), torch.full((1, 2, 4, 4), 0.6))
    return [a, b]


@pytest.mark.parametrize('rule, ring_11, heatmap', [
    # max: ring 0.9 at (1,1); squared errors to the student's 0.5:
    # ring .16 + .04 + 14 * .25, star 16 * .25, cross 15 * .25, triangle
    # 16 * .25 = 15.45; 3 teacher peaks (ring .9 and .3, cross .5)
    ('max', 0.9, 15.45 / 3),
    # weighted: ring at (1,1) (.81 + .36) / 1.5 = .78 -> (.5 - .78)^2
    ('weighted', 0.78, (15.45 - .16 + .28**2) / 3),
])
def test_overlapping_teachers_hand_computed(env, overlap, rule, ring_11,
                                            heatmap):
    specs = teachers(env, b=dict(config=overlap['config'],
                                 checkpoint=overlap['checkpoint'],
                                 classes=('ring', 'cross', 'triangle')))
    model = MODELS.build(mt_cfg(env, teachers=specs, heatmap_merge=rule))
    assert model.student_channels == [[0, 1], [0, 2, 3]]
    outs = _overlap_outs()
    student = (torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 4, 4),
               torch.zeros(1, 2, 4, 4))
    weight = model.kd_class_weight([{}], student[0])
    targets, hw, mask = model.teacher_targets(outs, weight)
    ring = targets[0][0, 0].sigmoid()
    assert ring[1, 1].item() == pytest.approx(ring_11, rel=1e-5)
    assert ring[3, 0].item() == pytest.approx(0.3, rel=1e-5)
    # the owned-once channels are the owner's heatmap
    torch.testing.assert_close(targets[0][0, 1], outs[0][0][0, 1])  # star
    torch.testing.assert_close(targets[0][0, 2:], outs[1][0][0, 1:])
    # regression: (1,1) from A (0.9 > 0.6), (3,0) and (2,3) from B'
    expected_mask = torch.zeros(4, 4)
    expected_mask[1, 1], expected_mask[3, 0], expected_mask[2, 3] = .9, .3, .5
    torch.testing.assert_close(mask[0, 0], expected_mask)
    losses = model.distill_loss(student, targets, heatmap_weight=hw,
                                mask=mask)
    assert losses['loss_kd_heatmap'].item() == pytest.approx(heatmap,
                                                             rel=1e-5)
    assert losses['loss_kd_wh'].item() == pytest.approx(25 / 1.7)
    assert losses['loss_kd_offset'].item() == pytest.approx(.66 / 1.7)


def test_overlapping_teachers_real_forward(env, overlap):
    specs = teachers(env, b=dict(config=overlap['config'],
                                 checkpoint=overlap['checkpoint'],
                                 classes=None))  # default: all it knows
    model = MODELS.build(mt_cfg(env, teachers=specs))
    assert model.teacher_classes == (('ring', 'star'),
                                     ('ring', 'cross', 'triangle'))
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    weight = model.kd_class_weight([{}, {}], x)
    (heat, _, _), _, _ = model.teacher_targets(model.teacher_forward(x),
                                               weight)
    ring_a = env['model_a']._forward(x)[0][:, 1]  # A's heatmap: (star, ring)
    ring_b = overlap['model']._forward(x)[0][:, 0]
    torch.testing.assert_close(heat[:, 0], torch.maximum(ring_a, ring_b))
    losses = model.loss(x, [_sample(), _sample()])
    assert all(torch.isfinite(v) for v in losses.values())


def test_merge_heatmaps_rejects_unknown_rule():
    with pytest.raises(ValueError, match='heatmap_merge must be one of'):
        merge_heatmaps([torch.zeros(1, 1, 2, 2)], [[0]], 1, 'mean')


# ------------------------------------------ annotated_labels semantics


@pytest.fixture(scope='module')
def shared(env):
    """One two-teacher model whose ``use_gt`` / ``kd_on_labelled`` the
    tests set (both are read at every step): one build for many tests."""
    return MODELS.build(mt_cfg(env, use_gt=True)).eval()


def with_modes(model, use_gt, kd_on_labelled):
    model.use_gt, model.kd_on_labelled = use_gt, kd_on_labelled
    return model


@pytest.mark.parametrize('use_gt, kd_on_labelled, expected', [
    # per image: no annotated_labels (= fully labelled), part 0 ([0, 1]),
    # an unlabelled image ([])
    (False, False, [[1] * 4, [1] * 4, [1] * 4]),
    (True, True, [[1] * 4, [1] * 4, [1] * 4]),
    (True, False, [[0] * 4, [0, 0, 1, 1], [1] * 4]),
])
def test_annotated_labels_mean_the_same_everywhere(env, shared, use_gt,
                                                   kd_on_labelled, expected):
    """Absent = fully labelled, for the KD weights as for the head's GT
    heatmap weights; a batch mixing all three kinds trains."""
    model = with_modes(shared, use_gt, kd_on_labelled)
    metas = [{}, dict(annotated_labels=[0, 1]), dict(annotated_labels=[])]
    assert model.kd_class_weight(metas, torch.zeros(1)).tolist() == expected
    head_weight = model.bbox_head.heatmap_loss_weight(
        metas, torch.zeros(3, 4, 1, 1))
    assert head_weight.flatten(1).tolist() == [[1] * 4, [1, 1, 0, 0],
                                               [0] * 4]
    torch.manual_seed(0)
    imgs = torch.randn(3, 3, 64, 64)
    box = ([[8, 8, 30, 40]], [0])
    samples = [_sample(*box), _sample(*box, annotated_labels=[0, 1]),
               _sample(annotated_labels=[])]
    losses = model.loss(imgs, samples)
    assert all(torch.isfinite(v) for v in losses.values())
    assert ('loss_heatmap' in losses) is use_gt
    if use_gt:
        # the GT losses are exactly the plain student's
        plain = MODELS.build(Config.fromfile(env['student']).model).eval()
        plain.load_state_dict(model.state_dict())
        gt = plain.loss(imgs, samples)
        for k in ('loss_heatmap', 'loss_wh', 'loss_offset'):
            torch.testing.assert_close(losses[k], gt[k])


def test_fully_labelled_image_gets_no_kd_when_kd_on_labelled_is_off(shared):
    model = with_modes(shared, True, False)
    losses = model.loss(torch.randn(1, 3, 64, 64),
                        [_sample([[8, 8, 30, 40]], [0])])
    for k in ('loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'):
        assert losses[k].item() == 0, k
    assert losses['loss_heatmap'].item() > 0


def test_deprecated_multi_teacher_distiller_name(env):
    cfg = mt_cfg(env, type='MultiTeacherDistiller')
    cfg.pop('use_gt')
    with pytest.warns(DeprecationWarning, match='MultiTeacherDistiller'):
        model = MODELS.build(cfg)
    assert isinstance(model, CenterXDistiller)
    assert isinstance(model, MultiTeacherDistiller)
    # its former defaults: teachers only; with GT, KD on unlabelled classes
    assert model.use_gt is False and model.kd_on_labelled is False
    plain = MODELS.build(Config.fromfile(env['student']).model)
    plain.load_state_dict(model.state_dict(), strict=True)
    from centerx_mm.models.utils import plain_model_cfg
    assert plain_model_cfg(cfg).type == 'CenterX'


# --------------------------------------------------------------- modes


def test_loss_without_labels_and_with_labels(shared):
    torch.manual_seed(0)
    imgs = torch.randn(2, 3, 64, 64)
    model = with_modes(shared, False, False)
    losses = model.loss(imgs, [_sample(), _sample()])
    assert set(losses) == {'loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'}
    assert all(torch.isfinite(v) for v in losses.values())

    model = with_modes(shared, True, False)
    part0 = _sample([[8, 8, 30, 40]], [0], annotated_labels=[0, 1])
    part1 = _sample([[20, 4, 50, 30]], [3], annotated_labels=[2, 3])
    losses = model.loss(imgs, [part0, part1])
    assert {'loss_heatmap', 'loss_wh', 'loss_offset',
            'loss_kd_heatmap'} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())


def test_train_step_updates_student_not_teachers(env):
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(env['mt'])
    model = MODELS.build(mt_cfg(env, use_gt=True, kd_on_labelled=False))
    model.init_weights()
    before = [{k: v.clone() for k, v in t.state_dict().items()}
              for t in model.teachers]
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    # one image of each part: metainfo carries their annotated_labels
    data = pseudo_collate([dataset[0], dataset[len(dataset) - 1]])
    metas = [s.metainfo['annotated_labels'] for s in data['data_samples']]
    assert metas == [[0, 1], [2, 3]]
    model.train()
    losses = model.train_step(data, optim)
    assert {'loss_heatmap', 'loss_kd_heatmap', 'loss_kd_wh'} <= set(losses)
    for teacher, state in zip(model.teachers, before):
        for k, v in teacher.state_dict().items():
            assert torch.equal(v, state[k]), k
        assert all(p.grad is None for p in teacher.parameters())


def test_two_teacher_config_trains_and_tests_through_tools(env):
    from tools import test, train
    from centerx_mm.utils import load_checkpoint_safely
    work = str(env['tmp'] / 'work')
    train.main([env['mt'], '--work-dir', work])
    ckpt = osp.join(work, 'iter_2.pth')
    state = load_checkpoint_safely(ckpt)['state_dict']
    assert not any('teacher' in k for k in state)
    metrics = test.main([env['student'], ckpt, '--work-dir', work])
    assert 'coco/bbox_mAP' in metrics
    assert 'coco/ring_precision' in metrics  # classwise, for group means


# ---------------------------------------------------------- bad input


def test_error_teacher_class_not_known_to_teacher(env, tmp_path):
    cfg, ckpt, _ = make_teacher(tmp_path, env['student'], 'hex',
                                ('cross', 'hexagon'))
    with pytest.raises(TeacherConfigError,
                       match=r"model.teachers\[1\] classes \['triangle'\] "
                       r'are not among teacher model.teachers\[1\] '
                       r'\(.*hex\.py.*hex\.pth\)'):
        MODELS.build(mt_cfg(env, teachers=teachers(
            env, b=dict(config=cfg, checkpoint=ckpt))))


def test_teacher_classes_default_to_the_student_classes_it_knows(env,
                                                                 tmp_path):
    cfg, ckpt, _ = make_teacher(tmp_path, env['student'], 'hex',
                                ('cross', 'triangle', 'hexagon'))
    # classes not given: the student classes it knows (not hexagon)
    model = MODELS.build(mt_cfg(env, teachers=teachers(
        env, b=dict(config=cfg, checkpoint=ckpt, classes=None))))
    assert model.teacher_classes[1] == ('cross', 'triangle')
    assert model.teacher_channels[1] == [0, 1]
    # named explicitly, a class the student lacks is an error
    with pytest.raises(TeacherConfigError,
                       match=r"model.teachers\[1\] classes \['hexagon'\] "
                       r'are not among student'):
        MODELS.build(mt_cfg(env, teachers=teachers(
            env, b=dict(config=cfg, checkpoint=ckpt,
                        classes=('cross', 'triangle', 'hexagon')))))


def test_error_uncovered_and_missing_fields(env):
    with pytest.raises(TeacherConfigError,
                       match=r"student classes \['triangle'\] have no "
                       'teacher'):
        MODELS.build(mt_cfg(env, teachers=teachers(
            env, b=dict(classes=('cross', )))))
    # ... unless the data labels it (with use_gt every class may be)
    model = MODELS.build(mt_cfg(env, use_gt=True, kd_on_labelled=False,
                                teachers=teachers(
                                    env, b=dict(classes=('cross', )))))
    assert model.kd_class_weight(
        [dict(annotated_labels=[3])],
        torch.zeros(1)).tolist() == [[1., 1., 1., 0.]]
    with pytest.raises(TeacherConfigError,
                       match=r"student classes \['triangle'\] have no "
                       r"teacher .*gt_classes=\['ring'\]"):
        MODELS.build(mt_cfg(env, use_gt=True, gt_classes=('ring', ),
                            teachers=teachers(
                                env, b=dict(classes=('cross', )))))
    with pytest.raises(TeacherConfigError, match='model.teachers is not set'):
        MODELS.build(mt_cfg(env, teachers=[]))
    with pytest.raises(TeacherConfigError,
                       match=r"model.teachers\[0\] has unknown keys "
                       r"\['ckpt'\]"):
        MODELS.build(mt_cfg(env, teachers=teachers(env, a=dict(ckpt='x'))))
    with pytest.raises(TeacherConfigError,
                       match=r'model.teachers\[1\].checkpoint is not set'):
        MODELS.build(mt_cfg(env, teachers=teachers(
            env, b=dict(checkpoint=None))))
    with pytest.raises(FileNotFoundError,
                       match=r'model.teachers\[0\].checkpoint.*nope\.pth'):
        MODELS.build(mt_cfg(env, teachers=teachers(
            env, a=dict(checkpoint='/no/nope.pth'))))
    with pytest.raises(TeacherConfigError, match='model.conflict'):
        MODELS.build(mt_cfg(env, conflict='sum'))


def test_error_teacher_stride_differs(env, tmp_path):
    cfg = write(tmp_path / 'stride8.py', f"""
        _base_ = [{env['tb']!r}]
        model = dict(neck=dict(num_deconv_filters=(32, 16),
                               num_deconv_kernels=(4, 4)))
        """)
    model = MODELS.build(Config.fromfile(cfg).model)
    ckpt = save_ckpt(model, tmp_path / 's8.pth', ('cross', 'triangle'))
    with pytest.raises(TeacherConfigError,
                       match=r'model.teachers\[1\] .*stride8\.py outputs '
                       r'\(16, 16\) maps .* student outputs \(32, 32\)'):
        MODELS.build(mt_cfg(env, teachers=teachers(
            env, b=dict(config=cfg, checkpoint=ckpt))))


def test_error_dataset_annotated_classes_not_in_class_list(env):
    cfg = Config.fromfile(env['student']).train_dataloader.dataset
    part0 = cfg.datasets[0]
    with pytest.raises(DatasetConfigError,
                       match=r"annotated_classes \['hexagon'\] of .*"
                       r'instances_train_part0\.json are not in the class'):
        DATASETS.build(dict(part0, annotated_classes=('ring', 'hexagon')))
    # the JSON key, read against a class list without cross/triangle
    with pytest.raises(DatasetConfigError,
                       match=r"annotated_classes \['cross', 'triangle'\] of "
                       r'.*instances_train_part1\.json'):
        DATASETS.build(
            dict(cfg.datasets[1], metainfo=dict(classes=('ring', 'star')),
                 allow_unlisted_categories=True))


# ----------------------------------- baselines: ignore-unlabelled, naive


def test_ignore_unlabelled_masks_focal_loss_hand_computed():
    """All-zero logits on a 16x16 map: every negative cell (target 0) costs
    softplus(0) * sigmoid(0)**2 = ln2 / 4, so an all-negative class costs
    256 * ln2 / 4 = 64 ln2. An image of part 0 (ring, star labelled) keeps
    2 such classes, naive merge all 4; the avg factor is max(#objects, 1)."""
    head = CenterXHead(num_classes=4, in_channels=8, feat_channels=8)
    logits = torch.zeros(1, 4, 16, 16)
    reg = torch.zeros(1, 2, 16, 16)

    def loss(sample):
        return head.loss_by_feat(logits, reg, reg, [sample.gt_instances],
                                 [sample.metainfo])['loss_heatmap'].item()

    ln2 = math.log(2)
    empty_part0 = _sample(annotated_labels=[0, 1])
    assert loss(empty_part0) == pytest.approx(2 * 64 * ln2)  # 88.72
    assert loss(_sample()) == pytest.approx(4 * 64 * ln2)  # naive: 177.45
    # with a ring: the Gaussian changes channel 0 only; cross/triangle
    # channels are all negatives either way, so ignoring them removes
    # exactly 2 * 64 ln2 / 1 object
    ring = ([[8, 8, 30, 40]], [0])
    diff = loss(_sample(*ring)) - loss(_sample(*ring, annotated_labels=[0, 1]))
    assert diff == pytest.approx(2 * 64 * ln2, rel=1e-5)
    # no annotated class at all (an unlabelled image): no heatmap loss
    assert loss(_sample(annotated_labels=[])) == 0


def test_partial_configs_pack_annotated_labels_or_not(env):
    ignore = Config.fromfile(env['student'])
    naive = Config.fromfile(osp.join(REPO,
                                     'configs/centerx/'
                                     'mt_r18_naive_merge_shapes.py'))
    for part, labels in ((0, [0, 1]), (1, [2, 3])):
        ds_cfg = ignore.train_dataloader.dataset.datasets[part]
        sample = DATASETS.build(ds_cfg)[0]['data_samples']
        assert sample.metainfo['annotated_labels'] == labels
        ds_cfg = dict(naive.train_dataloader.dataset.datasets[part],
                      data_root=env['root'])
        sample = DATASETS.build(ds_cfg)[0]['data_samples']
        assert 'annotated_labels' not in sample.metainfo


def test_multi_teacher_trains_with_adaptive_loss_hook(env, tmp_path):
    """Issue 5 in multi-teacher mode (no labels): the KD terms are
    reweighted."""
    from tools import train
    from centerx_mm.utils import load_checkpoint_safely
    cfg = write(tmp_path / 'mt_adaptive.py', f"""
        _base_ = [{env['mt']!r}]
        custom_hooks = [dict(type='AdaptiveLossHook',
                             targets={{'loss_kd_*': 1.0}})]
        """)
    work = str(tmp_path / 'work')
    train.main([cfg, '--work-dir', work])
    state = load_checkpoint_safely(osp.join(work, 'iter_2.pth'))
    assert state['adaptive_loss_hook']['num_updates'] == {
        k: 2
        for k in ('loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset')
    }


def test_teacher_class_written_as_a_string(env):
    """``classes='ring'`` is one class, not the letters of its name."""
    cfg = mt_cfg(env, use_gt=True,
                 teachers=teachers(env, a=dict(classes='ring')))
    model = MODELS.build(cfg)
    assert model.teacher_classes == (('ring', ), ('cross', 'triangle'))


def test_annotated_labels_out_of_range_names_the_image(shared):
    model = with_modes(shared, True, False)
    with pytest.raises(ValueError,
                       match=r"annotated_labels \[7\] of x\.png are not "
                       r"class indices of the 4 student classes"):
        model.kd_class_weight([dict(annotated_labels=[0, 7],
                                    img_path='x.png')], torch.zeros(1))
