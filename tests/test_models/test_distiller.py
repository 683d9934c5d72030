"""CenterXDistiller: frozen teacher, modes, checkpoints, start-up errors.

Tiny nets (ResNet-18 with 8/16 base channels) and a generated 8-image
dataset keep every test at a few seconds.
"""
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
             teacher_config={teacher!r}, teacher_ckpt={ckpt!r},
             distill_loss=dict(type='KDLoss', loss_heatmap_weight=10.))
"""


def save_ckpt(model, path, classes=CLASSES):
    return helpers.save_ckpt(model, path, classes)


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
    torch.manual_seed(0)
    t_model = MODELS.build(Config.fromfile(teacher).model)
    t_model.init_weights()
    ckpt = save_ckpt(t_model, tmp / 'teacher.pth')
    kd = write(tmp / 'kd.py', KD.format(teacher=teacher, ckpt=ckpt))
    return dict(
        tmp=tmp, root=root, student=student, teacher=teacher, ckpt=ckpt,
        kd=kd, teacher_state={k: v.clone()
                              for k, v in t_model.state_dict().items()})


def kd_cfg(env, **model):
    cfg = Config.fromfile(env['kd']).model
    cfg.update(model)
    return cfg


def batch(env, model, n=2):
    """A preprocessed batch of ``n`` train images with their GT."""
    from mmengine.dataset import pseudo_collate

    from centerx_mm.registry import DATASETS
    cfg = Config.fromfile(env['kd'])
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    data = pseudo_collate([dataset[i] for i in range(n)])
    return model.data_preprocessor(data, training=True)


def test_teacher_outside_module_tree_and_frozen(env):
    model = MODELS.build(kd_cfg(env))
    assert isinstance(model, CenterXDistiller) and isinstance(model, CenterX)
    teacher = model.teacher
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
    assert model.teacher_channels == [0, 1, 2, 3]


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


def test_use_gt_false_gives_only_kd_losses_without_annotations(env):
    model = MODELS.build(kd_cfg(env, use_gt=False))
    # samples with no gt_instances at all
    samples = [DetDataSample(metainfo=dict(img_shape=(64, 64),
                                           batch_input_shape=(64, 64)))
               for _ in range(2)]
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert set(losses) == {'loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'}
    assert all(torch.isfinite(v) for v in losses.values())


def _sample(boxes, labels, **meta):
    s = DetDataSample(metainfo=dict(img_shape=(64, 64),
                                    batch_input_shape=(64, 64), **meta))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    return s


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
    student = MODELS.build(Config.fromfile(env['student']).model)
    student.init_weights()
    ckpt = save_ckpt(student, tmp_path / 'self.pth')
    model = MODELS.build(
        kd_cfg(env, teacher_config=env['student'], teacher_ckpt=ckpt))
    model.load_state_dict(student.state_dict())
    model.eval()  # student BN on running stats, as the teacher
    losses = model.loss(torch.randn(2, 3, 64, 64), [_sample([], [])] * 2)
    for k in ('loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'):
        assert losses[k].item() == 0, k


def test_teacher_classes_mapped_by_name(env, tmp_path):
    # teacher knows one extra class and another order
    names = ('triangle', 'hexagon', 'cross', 'star', 'ring')
    cfg = Config.fromfile(env['teacher'])
    cfg.model.bbox_head.num_classes = 5
    five = MODELS.build(cfg.model)
    five.init_weights()
    t_cfg = write(tmp_path / 'teacher5.py',
                  TEACHER.replace("'student.py'", repr(env['student'])) +
                  'model.update(bbox_head=dict(num_classes=5))\n')
    ckpt = save_ckpt(five, tmp_path / 't5.pth', classes=names)
    model = MODELS.build(kd_cfg(env, teacher_config=t_cfg, teacher_ckpt=ckpt))
    assert model.teacher_channels == [4, 3, 2, 0]
    x = torch.randn(1, 3, 64, 64)
    heat = model.teacher_forward(x)[0]
    full = five.eval()._forward(x)[0]
    torch.testing.assert_close(heat, full[:, [4, 3, 2, 0]])


def test_map_classes_by_name_both_directions():
    assert map_classes_by_name(('a', 'b', 'c'), ('c', 'a'), 'T', 'S') == [2, 0]
    with pytest.raises(TeacherConfigError, match=r"S classes \['d'\]"):
        map_classes_by_name(('a', 'b'), ('a', 'd'), 'T', 'S')
    with pytest.raises(TeacherConfigError, match='twice'):
        map_classes_by_name(('a', 'a'), ('a', ), 'T', 'S')


def test_teacher_config_that_is_a_distiller_builds_its_student(env, tmp_path):
    """A KD-trained model can teach: its KD config stands for its student."""
    student = MODELS.build(Config.fromfile(env['student']).model)
    ckpt = save_ckpt(student, tmp_path / 'kd_student.pth')
    model = MODELS.build(
        kd_cfg(env, teacher_config=env['kd'], teacher_ckpt=ckpt))
    assert type(model.teacher) is CenterX


def test_model_moves_and_casts_teacher_too(env):
    model = MODELS.build(kd_cfg(env)).double()
    assert all(p.dtype == torch.float64 for p in model.teacher.parameters())
    losses = model.loss(torch.randn(1, 3, 64, 64, dtype=torch.float64),
                        [_sample([[8, 8, 30, 40]], [0])])
    assert all(torch.isfinite(v) for v in losses.values())


# ---------------------------------------------------------------- errors


def test_error_no_teacher(env):
    cfg = kd_cfg(env)
    cfg.pop('teacher_config')
    with pytest.raises(TeacherConfigError,
                       match='model.teacher_config is not set'):
        MODELS.build(cfg)
    with pytest.raises(TeacherConfigError, match='model.teacher_ckpt'):
        MODELS.build(kd_cfg(env, teacher_ckpt=None))


def test_error_missing_files(env):
    with pytest.raises(FileNotFoundError,
                       match=r'model.teacher_ckpt.*nope\.pth'):
        MODELS.build(kd_cfg(env, teacher_ckpt='/no/such/nope.pth'))
    with pytest.raises(FileNotFoundError,
                       match=r'model.teacher_config.*nope\.py'):
        MODELS.build(kd_cfg(env, teacher_config='/no/such/nope.py'))


def test_error_checkpoint_does_not_fit_teacher_config(env, tmp_path):
    student = MODELS.build(Config.fromfile(env['student']).model)
    ckpt = save_ckpt(student, tmp_path / 'narrow.pth')
    with pytest.raises(TeacherConfigError,
                       match=r'narrow\.pth does not fit .*teacher\.py.*'
                       r'shape-mismatched keys: backbone'):
        MODELS.build(kd_cfg(env, teacher_ckpt=ckpt))
    state = {k: v for k, v in env['teacher_state'].items()
             if not k.startswith('bbox_head.wh_head')}
    state['extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), str(tmp_path / 'keys.pth'))
    with pytest.raises(TeacherConfigError,
                       match=r'4 missing keys: bbox_head.wh_head.*'
                       r'1 unexpected keys: extra.weight'):
        MODELS.build(kd_cfg(env, teacher_ckpt=str(tmp_path / 'keys.pth')))


def test_error_class_mismatch(env, tmp_path):
    teacher = MODELS.build(Config.fromfile(env['teacher']).model)
    ckpt = save_ckpt(teacher, tmp_path / 'hex.pth',
                     classes=('ring', 'star', 'cross', 'hexagon'))
    with pytest.raises(TeacherConfigError,
                       match=r"student \(model.classes\) classes "
                       r"\['triangle'\] are not among teacher .*hex\.pth"):
        MODELS.build(kd_cfg(env, teacher_ckpt=ckpt))
    with pytest.raises(TeacherConfigError, match='model.classes is not set'):
        MODELS.build(kd_cfg(env, classes=None))
    with pytest.raises(TeacherConfigError, match='num_classes=4'):
        MODELS.build(kd_cfg(env, classes=('ring', 'star')))


def test_error_output_size_mismatch(env, tmp_path):
    # two upsampling stages instead of three: stride 8 instead of 4
    t_cfg = write(tmp_path / 'stride8.py', f"""
        _base_ = [{env['teacher']!r}]
        model = dict(neck=dict(num_deconv_filters=(32, 16),
                               num_deconv_kernels=(4, 4)))
        """)
    teacher = MODELS.build(Config.fromfile(t_cfg).model)
    ckpt = save_ckpt(teacher, tmp_path / 's8.pth')
    with pytest.raises(TeacherConfigError,
                       match=r'stride8\.py outputs \(16, 16\) maps .* '
                       r'student outputs \(32, 32\)'):
        MODELS.build(kd_cfg(env, teacher_config=t_cfg, teacher_ckpt=ckpt))


def test_error_preprocessing_mismatch(env, tmp_path):
    t_cfg = write(tmp_path / 'bgr.py', f"""
        _base_ = [{env['teacher']!r}]
        model = dict(data_preprocessor=dict(bgr_to_rgb=False))
        """)
    with pytest.raises(TeacherConfigError, match=r'bgr\.py was trained'):
        MODELS.build(
            kd_cfg(env, teacher_config=t_cfg, teacher_ckpt=env['ckpt']))


# ------------------------------------------------- end to end via tools/


def test_kd_checkpoint_runs_in_plain_student_test_and_demo(env):
    from tools import demo, test, train
    from centerx_mm.utils import load_checkpoint_safely
    work = str(env['tmp'] / 'work')
    train.main([env['kd'], '--work-dir', work])
    ckpt_path = osp.join(work, 'iter_2.pth')
    state = load_checkpoint_safely(ckpt_path)['state_dict']
    assert not any('teacher' in k for k in state)
    plain = MODELS.build(Config.fromfile(env['student']).model)
    plain.load_state_dict(state, strict=True)
    metrics = test.main([env['student'], ckpt_path, '--work-dir', work])
    assert 'coco/bbox_mAP' in metrics
    img = osp.join(env['root'], 'val', '000000.png')
    out = str(env['tmp'] / 'demo.jpg')
    demo.main([img, env['student'], ckpt_path, '--out-file', out])
    assert osp.isfile(out)
    # a KD run resumes (the teacher is rebuilt from its config)
    train.main([env['kd'], '--work-dir', work, '--resume',
                '--cfg-options', 'train_cfg.max_iters=4'])
    assert osp.isfile(osp.join(work, 'iter_4.pth'))


# ------------------------------------------------ the shipped kd configs


@pytest.mark.parametrize('name,use_gt,teacher_depth', [
    ('kd_r18', True, 50), ('kd_r18_nolabel', False, 50),
    ('kd_r18_self', True, 18)])
def test_shipped_kd_configs_build(name, use_gt, teacher_depth, env, tmp_path):
    from centerx_mm.registry import DATASETS
    cfg = Config.fromfile(osp.join(REPO, f'configs/centerx/{name}.py'))
    model_cfg = cfg.model
    assert model_cfg.type == 'CenterXDistiller'
    assert model_cfg.use_gt is use_gt
    assert tuple(model_cfg.classes) == CLASSES
    assert cfg.train_cfg.max_iters == Config.fromfile(
        osp.join(REPO, 'configs/centerx/centerx_r18_1k_shapes.py')
    ).train_cfg.max_iters  # same schedule as the baseline
    t_cfg = osp.join(REPO, model_cfg.teacher_config)
    # the default teacher_ckpt (a training output) is named when missing
    if not osp.isfile(osp.join(REPO, model_cfg.teacher_ckpt)):
        with pytest.raises(FileNotFoundError, match='model.teacher_ckpt'):
            MODELS.build(dict(model_cfg, teacher_config=t_cfg))
    teacher = MODELS.build(Config.fromfile(t_cfg).model)
    assert teacher.backbone.depth == teacher_depth
    ckpt = save_ckpt(teacher, tmp_path / 't.pth')
    model = MODELS.build(
        dict(model_cfg, teacher_config=t_cfg, teacher_ckpt=ckpt))
    assert model.backbone.depth == 18 and model.teacher.backbone.depth == (
        teacher_depth)
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = env['root']
    dataset = DATASETS.build(dataset_cfg)
    assert dataset.metainfo['classes'] == CLASSES
    if not use_gt:
        assert dataset_cfg.type == 'UnlabeledImageDataset'
        assert dataset[0]['data_samples'].metainfo['annotated_labels'] == []


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
    # every term reached the hook at both steps: reweighted, or (the
    # 'logits' KD heatmap of an untrained pair: ReLU of negative logits)
    # exactly 0 and given weight 0
    for term in ('loss_heatmap', 'loss_wh', 'loss_offset', 'loss_kd_heatmap',
                 'loss_kd_wh', 'loss_kd_offset'):
        assert hook_state['num_updates'].get(term, 0) + hook_state[
            'num_zero'].get(term, 0) == 2, (term, hook_state)
    assert hook_state['num_updates']['loss_kd_wh'] == 2
    assert hook_state['num_skipped_steps'] == 0


def test_no_label_config_trains_on_an_image_folder(env, tmp_path):
    """kd_r18_nolabel.py's data setup (UnlabeledImageDataset under the
    default AspectRatioBatchSampler, use_gt=False) through tools/train.py."""
    from tools import train
    shipped = Config.fromfile(
        osp.join(REPO, 'configs/centerx/kd_r18_nolabel.py'))
    assert shipped.train_dataloader.dataset.type == 'UnlabeledImageDataset'
    assert shipped.train_dataloader.batch_sampler.type == \
        'AspectRatioBatchSampler'
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
