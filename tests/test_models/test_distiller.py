"""CenterXDistiller with one teacher: frozen teacher (also under EMA),
modes, both head kinds, checkpoints, deprecated keys, start-up errors.

Tiny nets (ResNet-18 with 8/16 base channels) and a generated 8-image
dataset keep every test at a few seconds.
"""
import copy
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData

from centerx_mm.models.detectors import CenterX, CenterXDistiller
from centerx_mm.models.utils import TeacherConfigError, map_classes_by_name
from centerx_mm.registry import MODELS
from tests import helpers
from tests.helpers import tiny_student_config, write

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ('ring', 'star', 'cross', 'triangle')

STUDENT_TRAIN_DATA = """
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
"""
# wider teacher: 16 base channels
TEACHER = """
_base_ = ['student.py']
model = dict(backbone=dict(base_channels=16),
             neck=dict(in_channels=128, num_deconv_filters=(32, 16, 16)))
"""
KD = """
_base_ = ['student.py']
model = dict(type='CenterXDistiller', classes=_base_.metainfo.classes,
             teachers=[dict(config={teacher!r}, checkpoint={ckpt!r})],
             distill_loss=dict(type='KDLoss', loss_heatmap_weight=1.))
"""
# the same student with the training-time-friendly head (ltrb)
TTF_HEAD = """
_base_ = [{base!r}]
model = dict(bbox_head=dict(_delete_=True, type='CenterXTTFHead',
                            num_classes=4, in_channels=16, feat_channels=16))
"""


def save_ckpt(model, path, classes=CLASSES):
    return helpers.save_ckpt(model, path, classes)


def build_and_save(cfg_path, ckpt_path, seed=0, classes=CLASSES):
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    model.init_weights()
    return model, save_ckpt(model, ckpt_path, classes)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    """Tiny dataset, student/teacher/KD configs, a teacher checkpoint."""
    from centerx_mm.datasets.shapes_generator import generate_shapes_dataset
    tmp = tmp_path_factory.mktemp('kd')
    root = str(tmp / 'data') + '/'
    generate_shapes_dataset(root, num_train=8, num_val=4)
    base = osp.join(REPO, 'configs/centerx/centerx_r18_1k_shapes.py')
    student = write(tmp / 'student.py',
                    tiny_student_config(base, root, STUDENT_TRAIN_DATA))
    teacher = write(tmp / 'teacher.py', TEACHER)
    t_model, ckpt = build_and_save(teacher, tmp / 'teacher.pth')
    kd = write(tmp / 'kd.py', KD.format(teacher=teacher, ckpt=ckpt))
    return dict(
        tmp=tmp, root=root, student=student, teacher=teacher, ckpt=ckpt,
        kd=kd, teacher_state={k: v.clone()
                              for k, v in t_model.state_dict().items()})


def kd_cfg(env, **model):
    cfg = Config.fromfile(env['kd']).model
    cfg.update(model)
    return cfg


def teacher_spec(config, checkpoint, **kwargs):
    return [dict(config=config, checkpoint=checkpoint, **kwargs)]


def batch(env, model, n=2):
    """A preprocessed batch of ``n`` train images with their GT."""
    from mmengine.dataset import pseudo_collate

    from centerx_mm.registry import DATASETS
    cfg = Config.fromfile(env['kd'])
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    data = pseudo_collate([dataset[i] for i in range(n)])
    return model.data_preprocessor(data, training=True)


def _sample(boxes, labels, **meta):
    s = DetDataSample(metainfo=dict(img_shape=(64, 64),
                                    batch_input_shape=(64, 64), **meta))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    return s


def test_teacher_outside_module_tree_and_frozen(env):
    model = MODELS.build(kd_cfg(env))
    assert isinstance(model, CenterXDistiller) and isinstance(model, CenterX)
    teacher = model.teacher
    assert model.teachers == (teacher, )
    assert teacher.bbox_head.heatmap_head[0].in_channels == 16
    # weights are the checkpoint's
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(v, env['teacher_state'][k])
    assert all(not p.requires_grad for p in teacher.parameters())
    teacher_ids = {id(p) for p in teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    assert all(m is not teacher for m in model.modules())
    model.train()
    assert model.training and model.backbone.training
    assert not any(m.training for m in teacher.modules())
    # state_dict is exactly a plain student's
    plain = MODELS.build(Config.fromfile(env['student']).model)
    assert set(model.state_dict()) == set(plain.state_dict())
    plain.load_state_dict(model.state_dict(), strict=True)
    assert model.teacher_channels == [[0, 1, 2, 3]]
    assert model.student_channels == [[0, 1, 2, 3]]
    # the KD peaks use the decode's K (the student's test_cfg.topk)
    assert model.distill_loss.peak_topk == model.bbox_head.test_cfg['topk']


def test_train_step_leaves_teacher_unchanged(env):
    model = MODELS.build(kd_cfg(env))
    model.init_weights()
    optim = build_optim_wrapper(model,
                                Config.fromfile(env['kd']).optim_wrapper)
    in_optim = {id(p) for g in optim.optimizer.param_groups
                for p in g['params']}
    assert not in_optim & {id(p) for p in model.teacher.parameters()}
    assert {id(p) for p in model.parameters()} <= in_optim
    student_before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    data = batch(env, model)
    losses = model.train_step(data, optim)
    assert {'loss_heatmap', 'loss_wh', 'loss_offset', 'loss_kd_heatmap',
            'loss_kd_wh', 'loss_kd_offset'} <= set(losses)
    # teacher: same weights and BN statistics, no gradient buffers
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, env['teacher_state'][k]), k
    assert all(p.grad is None for p in model.teacher.parameters())
    changed = [k for k, v in model.state_dict().items()
               if not torch.equal(v, student_before[k])]
    assert any(k.startswith('backbone.') for k in changed)
    assert 'backbone.bn1.running_mean' in changed  # student BN trains


def test_ema_copy_shares_the_teacher(env):
    """mmdet's ExpMomentumEMA deep-copies the model: the copy must borrow
    the teacher (same tensors), not hold a second one, and must not move
    it."""
    from mmdet.models.layers import ExpMomentumEMA
    model = MODELS.build(kd_cfg(env))
    ema = ExpMomentumEMA(model, momentum=0.5)
    assert ema.module.teachers[0] is model.teacher
    ptrs = {p.data_ptr() for p in model.teacher.parameters()}
    assert {p.data_ptr() for p in ema.module.teacher.parameters()} == ptrs
    assert not any('teacher' in k for k in ema.state_dict())
    assert set(ema.avg_parameters) == set(dict(model.named_parameters()))
    # averaging touches the student copy only
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.)
    ema.update_parameters(model)
    ema.update_parameters(model)
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, env['teacher_state'][k]), k
    # a cast of the copy leaves the shared teacher alone, the owner's not
    ema.module.double()
    assert all(p.dtype == torch.float32 for p in model.teacher.parameters())
    # and a plain deepcopy of the copy still borrows
    assert copy.deepcopy(ema.module).teacher is model.teacher
    # the EMA copy predicts like any student
    ema.module.float().eval()
    ema.module.predict(torch.zeros(1, 3, 64, 64),
                       [_sample([], [], ori_shape=(64, 64),
                                scale_factor=(1., 1.))])


def test_use_gt_false_gives_only_kd_losses_without_annotations(env):
    model = MODELS.build(kd_cfg(env, use_gt=False))
    # samples with no gt_instances at all
    samples = [DetDataSample(metainfo=dict(img_shape=(64, 64),
                                           batch_input_shape=(64, 64)))
               for _ in range(2)]
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert set(losses) == {'loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'}
    assert all(torch.isfinite(v) for v in losses.values())


def test_unlabelled_images_in_a_gt_batch_get_no_gt_loss(env):
    model = MODELS.build(kd_cfg(env)).eval()  # eval: per-image outputs
    torch.manual_seed(1)
    imgs = torch.randn(2, 3, 64, 64)
    labelled = _sample([[8, 8, 30, 40]], [2])
    unlabelled = _sample([], [], annotated_labels=[])
    both = model.loss(imgs, [labelled, unlabelled])
    alone = model.loss(imgs[:1], [labelled])
    for k in ('loss_heatmap', 'loss_wh', 'loss_offset'):
        torch.testing.assert_close(both[k], alone[k])
    # without the marker the unlabelled image counts as all-background
    naive = model.loss(imgs, [labelled, _sample([], [])])
    assert naive['loss_heatmap'] > both['loss_heatmap']


def test_self_distillation_from_identical_weights_gives_zero_kd(env, tmp_path):
    student, ckpt = build_and_save(env['student'], tmp_path / 'self.pth')
    model = MODELS.build(
        kd_cfg(env, teachers=teacher_spec(env['student'], ckpt)))
    model.load_state_dict(student.state_dict())
    model.eval()  # student BN on running stats, as the teacher
    losses = model.loss(torch.randn(2, 3, 64, 64), [_sample([], [])] * 2)
    for k in ('loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'):
        assert losses[k].item() == 0, k


def test_teacher_classes_mapped_by_name(env, tmp_path):
    # teacher knows one extra class and another order
    names = ('triangle', 'hexagon', 'cross', 'star', 'ring')
    t_cfg = write(tmp_path / 'teacher5.py',
                  TEACHER.replace("'student.py'", repr(env['student'])) +
                  'model.update(bbox_head=dict(num_classes=5))\n')
    five, ckpt = build_and_save(t_cfg, tmp_path / 't5.pth', classes=names)
    model = MODELS.build(kd_cfg(env, teachers=teacher_spec(t_cfg, ckpt)))
    # default: every student class the teacher knows, in student order
    assert model.teacher_classes == (CLASSES, )
    assert model.teacher_channels == [[4, 3, 2, 0]]
    x = torch.randn(1, 3, 64, 64)
    heat = model.teacher_forward(x)[0][0]
    full = five.eval()._forward(x)[0]
    torch.testing.assert_close(heat, full[:, [4, 3, 2, 0]])


def test_teacher_knowing_some_classes_teaches_those(env, tmp_path):
    """A teacher of (ring, star, cross, hexagon): triangle has no teacher,
    so GT alone supervises it; without GT it cannot be trained."""
    names = ('ring', 'star', 'cross', 'hexagon')
    teacher, ckpt = build_and_save(env['teacher'], tmp_path / 'hex.pth',
                                   classes=names)
    spec = teacher_spec(env['teacher'], ckpt)
    model = MODELS.build(kd_cfg(env, teachers=spec))
    assert model.teacher_classes == (('ring', 'star', 'cross'), )
    weight = model.kd_class_weight([{}], torch.zeros(1))
    assert weight.tolist() == [[1., 1., 1., 0.]]
    with pytest.raises(TeacherConfigError,
                       match=r"student classes \['triangle'\] have no "
                       'teacher'):
        MODELS.build(kd_cfg(env, teachers=spec, use_gt=False))
    with pytest.raises(TeacherConfigError,
                       match=r"model.teachers\[0\] classes \['triangle'\] "
                       r'are not among teacher model.teachers\[0\] .*hex\.pth'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(
            env['teacher'], ckpt, classes=('ring', 'triangle'))))


def test_map_classes_by_name_both_directions():
    assert map_classes_by_name(('a', 'b', 'c'), ('c', 'a'), 'T', 'S') == [2, 0]
    with pytest.raises(TeacherConfigError, match=r"S classes \['d'\]"):
        map_classes_by_name(('a', 'b'), ('a', 'd'), 'T', 'S')
    with pytest.raises(TeacherConfigError, match='twice'):
        map_classes_by_name(('a', 'a'), ('a', ), 'T', 'S')


def test_teacher_config_that_is_a_distiller_builds_its_student(env, tmp_path):
    """A KD-trained model can teach: its KD config stands for its student."""
    _, ckpt = build_and_save(env['student'], tmp_path / 'kd_student.pth')
    model = MODELS.build(kd_cfg(env, teachers=teacher_spec(env['kd'], ckpt)))
    assert type(model.teacher) is CenterX


def test_model_moves_and_casts_teacher_too(env):
    model = MODELS.build(kd_cfg(env)).double()
    assert all(p.dtype == torch.float64 for p in model.teacher.parameters())
    losses = model.loss(torch.randn(1, 3, 64, 64, dtype=torch.float64),
                        [_sample([[8, 8, 30, 40]], [0])])
    assert all(torch.isfinite(v) for v in losses.values())


# ------------------------------------------------- the TTF head (ltrb)


@pytest.fixture(scope='module')
def ttf(env):
    """Student and teacher configs with CenterXTTFHead, a teacher ckpt."""
    tmp = env['tmp']
    student = write(tmp / 'student_ttf.py',
                    TTF_HEAD.format(base=env['student']))
    teacher = write(tmp / 'teacher_ttf.py',
                    TTF_HEAD.format(base=env['teacher']))
    t_model, ckpt = build_and_save(teacher, tmp / 'teacher_ttf.pth')
    return dict(student=student, teacher=teacher, ckpt=ckpt, model=t_model)


def ttf_kd_cfg(env, ttf, **model):
    cfg = Config.fromfile(ttf['student']).model
    cfg.update(type='CenterXDistiller', classes=CLASSES,
               teachers=teacher_spec(ttf['teacher'], ttf['ckpt']))
    cfg.update(model)
    return cfg


def test_ttf_head_distils_ltrb(env, ttf):
    from mmengine.dataset import pseudo_collate

    from centerx_mm.registry import DATASETS
    model = MODELS.build(ttf_kd_cfg(env, ttf))
    model.init_weights()
    assert model.bbox_head.out_names == ('heatmap_logits', 'ltrb')
    # student only: loads strictly into the plain TTF student
    plain = MODELS.build(Config.fromfile(ttf['student']).model)
    plain.load_state_dict(model.state_dict(), strict=True)
    cfg = Config.fromfile(env['kd'])
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    data = pseudo_collate([dataset[i] for i in range(2)])
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    losses = model.train_step(data, optim)
    assert set(losses) == {'loss', 'loss_heatmap', 'loss_bbox',
                           'loss_kd_heatmap', 'loss_kd_ltrb'}
    assert all(torch.isfinite(v) for v in losses.values())
    # the ltrb KD term is the L1 to the teacher's ltrb at its peaks
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    s_heat, s_ltrb = model._forward(x)
    t_heat, t_ltrb = model.teacher_forward(x)[0]
    mask = model.distill_loss.regression_mask(t_heat)
    expected = ((s_ltrb - t_ltrb).abs().mean(1, keepdim=True) * mask).sum() \
        / mask.sum().clamp(min=1e-12)
    out = model.loss(x, [_sample([], [])])
    torch.testing.assert_close(out['loss_kd_ltrb'],
                               model.distill_loss.weights['ltrb'] * expected)


def test_ttf_self_distillation_from_identical_weights_is_zero(env, ttf):
    model = MODELS.build(ttf_kd_cfg(
        env, ttf, teachers=teacher_spec(ttf['teacher'], ttf['ckpt']),
        backbone=Config.fromfile(ttf['teacher']).model.backbone,
        neck=Config.fromfile(ttf['teacher']).model.neck))
    model.load_state_dict(ttf['model'].state_dict())
    model.eval()
    out = model.loss(torch.randn(2, 3, 64, 64), [_sample([], [])] * 2)
    assert out['loss_kd_heatmap'].item() == 0
    assert out['loss_kd_ltrb'].item() == 0


def test_error_head_kinds_differ(env, ttf):
    with pytest.raises(TeacherConfigError,
                       match=r'teacher_ttf\.py has a CenterXTTFHead .*ltrb.* '
                       r'but the student a CenterXHead .*same head kind'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(ttf['teacher'],
                                                       ttf['ckpt'])))
    with pytest.raises(TeacherConfigError,
                       match=r'has a CenterXHead .* student a CenterXTTFHead'):
        MODELS.build(ttf_kd_cfg(env, ttf, teachers=teacher_spec(
            env['teacher'], env['ckpt'])))


# ------------------------------------------------ deprecated, refused


def test_deprecated_teacher_config_and_ckpt_keys(env):
    with pytest.warns(DeprecationWarning, match='teacher_ckpt are deprec'):
        old = MODELS.build(kd_cfg(env, teachers=None,
                                  teacher_config=env['teacher'],
                                  teacher_ckpt=env['ckpt']))
    assert old.teacher_channels == [[0, 1, 2, 3]]
    for k, v in old.teacher.state_dict().items():
        torch.testing.assert_close(v, env['teacher_state'][k])
    # `--cfg-options model.teacher_ckpt=...` on a config with teachers=[one]
    spec = teacher_spec(env['teacher'], '/no/such/default.pth')
    with pytest.warns(DeprecationWarning):
        model = MODELS.build(kd_cfg(env, teachers=spec,
                                    teacher_ckpt=env['ckpt']))
    assert model.teacher_classes == (CLASSES, )
    # ... but not with two teachers
    with pytest.raises(TeacherConfigError,
                       match='name one teacher but model.teachers lists 2'):
        MODELS.build(kd_cfg(env, teachers=spec * 2, teacher_ckpt='x'))
    # a plain config built from a legacy KD config has no distiller keys
    from centerx_mm.models.utils import plain_model_cfg
    plain = plain_model_cfg(kd_cfg(env, teacher_ckpt=env['ckpt']))
    assert plain.type == 'CenterX' and 'teacher_ckpt' not in plain


def test_logits_mode_without_gt_is_refused(env):
    with pytest.raises(TeacherConfigError,
                       match=r"heatmap_mode='logits' with model.use_gt=False "
                       r".*-2\.19.*Use 'prob'"):
        MODELS.build(kd_cfg(env, use_gt=False, distill_loss=dict(
            type='KDLoss', heatmap_mode='logits')))
    model = MODELS.build(kd_cfg(env, distill_loss=dict(
        type='KDLoss', heatmap_mode='logits', peak_topk=7)))
    assert model.distill_loss.peak_topk == 7  # an explicit K is kept


# ---------------------------------------------------------------- errors


def test_error_no_teacher(env):
    with pytest.raises(TeacherConfigError,
                       match='model.teachers is not set'):
        MODELS.build(kd_cfg(env, teachers=None))
    with pytest.raises(TeacherConfigError,
                       match='model.teacher_config is not set'):
        MODELS.build(kd_cfg(env, teachers=None, teacher_ckpt=env['ckpt']))
    with pytest.raises(TeacherConfigError,
                       match=r'model.teachers\[0\].checkpoint is not set'):
        MODELS.build(kd_cfg(env, teachers=[dict(config=env['teacher'])]))


def test_error_missing_files(env):
    with pytest.raises(FileNotFoundError,
                       match=r'model.teachers\[0\].checkpoint.*nope\.pth'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(
            env['teacher'], '/no/such/nope.pth')))
    with pytest.raises(FileNotFoundError,
                       match=r'model.teachers\[0\].config.*nope\.py'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(
            '/no/such/nope.py', env['ckpt'])))


def test_error_checkpoint_does_not_fit_teacher_config(env, tmp_path):
    _, ckpt = build_and_save(env['student'], tmp_path / 'narrow.pth')
    with pytest.raises(TeacherConfigError,
                       match=r'narrow\.pth does not fit .*teacher\.py.*'
                       r'shape-mismatched keys: backbone'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(env['teacher'],
                                                       ckpt)))
    state = {k: v for k, v in env['teacher_state'].items()
             if not k.startswith('bbox_head.wh_head')}
    state['extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), str(tmp_path / 'keys.pth'))
    with pytest.raises(TeacherConfigError,
                       match=r'4 missing keys: bbox_head.wh_head.*'
                       r'1 unexpected keys: extra.weight'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(
            env['teacher'], str(tmp_path / 'keys.pth'))))


def test_error_class_mismatch(env, tmp_path):
    _, ckpt = build_and_save(env['teacher'], tmp_path / 'other.pth',
                             classes=('hexagon', 'square', 'disk', 'moon'))
    with pytest.raises(TeacherConfigError,
                       match=r'teacher model.teachers\[0\] .*other\.pth\) '
                       'knows none of the student classes'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(env['teacher'],
                                                       ckpt)))
    with pytest.raises(TeacherConfigError, match='model.classes is not set'):
        MODELS.build(kd_cfg(env, classes=None))
    with pytest.raises(TeacherConfigError, match='num_classes=4'):
        MODELS.build(kd_cfg(env, classes=('ring', 'star')))
    with pytest.raises(TeacherConfigError,
                       match=r"model.teachers\[0\].classes lists \['ring'\] "
                       'twice'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(
            env['teacher'], env['ckpt'], classes=('ring', 'ring'))))


def test_error_output_size_mismatch(env, tmp_path):
    # two upsampling stages instead of three: stride 8 instead of 4
    t_cfg = write(tmp_path / 'stride8.py', f"""
        _base_ = [{env['teacher']!r}]
        model = dict(neck=dict(num_deconv_filters=(32, 16),
                               num_deconv_kernels=(4, 4)))
        """)
    _, ckpt = build_and_save(t_cfg, tmp_path / 's8.pth')
    with pytest.raises(TeacherConfigError,
                       match=r'stride8\.py outputs \(16, 16\) maps .* '
                       r'student outputs \(32, 32\)'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(t_cfg, ckpt)))


def test_error_preprocessing_mismatch(env, tmp_path):
    t_cfg = write(tmp_path / 'bgr.py', f"""
        _base_ = [{env['teacher']!r}]
        model = dict(data_preprocessor=dict(bgr_to_rgb=False))
        """)
    with pytest.raises(TeacherConfigError, match=r'bgr\.py was trained'):
        MODELS.build(kd_cfg(env, teachers=teacher_spec(t_cfg, env['ckpt'])))


def test_error_bad_merge_rules(env):
    for key in ('heatmap_merge', 'conflict'):
        with pytest.raises(TeacherConfigError, match=f'model.{key} must be'):
            MODELS.build(kd_cfg(env, **{key: 'sum'}))


# ------------------------------------------------- end to end via tools/


def test_kd_checkpoint_runs_in_plain_student_test_and_demo(env):
    """Train with an EMA of the student (mmdet's ExpMomentumEMA through
    mmengine's EMAHook), then: the checkpoint (weights and EMA weights)
    holds the student only and loads strictly into the plain config, which
    tests and runs the demo; the run resumes."""
    from tools import demo, test, train
    from centerx_mm.utils import load_checkpoint_safely
    work = str(env['tmp'] / 'work')
    kd_ema = write(env['tmp'] / 'kd_ema.py', f"""
        _base_ = [{env['kd']!r}]
        custom_hooks = [dict(type='EMAHook', ema_type='mmdet.ExpMomentumEMA',
                             momentum=0.5)]
        """)
    train.main([kd_ema, '--work-dir', work])
    ckpt_path = osp.join(work, 'iter_2.pth')
    ckpt = load_checkpoint_safely(ckpt_path)
    plain = MODELS.build(Config.fromfile(env['student']).model)
    for key in ('state_dict', 'ema_state_dict'):
        assert not any('teacher' in k for k in ckpt[key]), key
    plain.load_state_dict(ckpt['state_dict'], strict=True)
    assert {k[len('module.'):]
            for k in ckpt['ema_state_dict'] if k.startswith('module.')} == \
        set(plain.state_dict())
    metrics = test.main([env['student'], ckpt_path, '--work-dir', work])
    assert 'coco/bbox_mAP' in metrics
    img = osp.join(env['root'], 'val', '000000.png')
    out = str(env['tmp'] / 'demo.jpg')
    demo.main([img, env['student'], ckpt_path, '--out-file', out])
    assert osp.isfile(out)
    # a KD run resumes (the teacher is rebuilt from its config)
    train.main([kd_ema, '--work-dir', work, '--resume',
                '--cfg-options', 'train_cfg.max_iters=4'])
    assert osp.isfile(osp.join(work, 'iter_4.pth'))


def test_kd_trains_with_adaptive_loss_hook(env, tmp_path):
    """Issue 5 in KD mode: every GT and KD term reaches the hook."""
    from tools import train
    from centerx_mm.utils import load_checkpoint_safely
    cfg = write(tmp_path / 'kd_adaptive.py', f"""
        _base_ = [{env['kd']!r}]
        custom_hooks = [dict(type='AdaptiveLossHook',
                             targets={{'loss_kd_*': 1.0, 'loss_*': 0.5}})]
        """)
    work = str(tmp_path / 'work')
    train.main([cfg, '--work-dir', work])
    hook_state = load_checkpoint_safely(osp.join(
        work, 'iter_2.pth'))['adaptive_loss_hook']
    # every term reached the hook at both steps: reweighted, or exactly 0
    # and given weight 0
    for term in ('loss_heatmap', 'loss_wh', 'loss_offset', 'loss_kd_heatmap',
                 'loss_kd_wh', 'loss_kd_offset'):
        assert hook_state['num_updates'].get(term, 0) + hook_state[
            'num_zero'].get(term, 0) == 2, (term, hook_state)
    assert hook_state['num_updates']['loss_kd_heatmap'] == 2
    assert hook_state['num_skipped_steps'] == 0


def test_no_label_config_trains_on_an_image_folder(env, tmp_path):
    """kd-nolabel_r50-r18_shapes.py's data setup (UnlabeledImageDataset
    under the default AspectRatioBatchSampler, use_gt=False) through
    tools/train.py."""
    from tools import train
    shipped = Config.fromfile(
        osp.join(REPO, 'configs/distill/kd-nolabel_r50-r18_shapes.py'))
    assert shipped.train_dataloader.dataset.type == 'UnlabeledImageDataset'
    assert shipped.train_dataloader.batch_sampler.type == \
        'AspectRatioBatchSampler'
    assert shipped.model.use_gt is False
    # the shipped dataset settings, on the tiny generated data
    dataset = dict(shipped.train_dataloader.dataset.to_dict(),
                   _delete_=True, data_root=env['root'])
    cfg = write(tmp_path / 'kd_nolabel.py', f"""
        _base_ = [{env['kd']!r}]
        model = dict(use_gt=False)
        train_dataloader = dict(dataset={dataset!r})
        """)
    work = str(tmp_path / 'work')
    train.main([cfg, '--work-dir', work])
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
