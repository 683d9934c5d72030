"""Every shipped config parses, its model builds, and its pipelines build."""
import glob
import re
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from centerx_mm.registry import MODELS, TRANSFORMS
from centerx_mm.utils.misc import check_input_scale
from tests.helpers import REPO

CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'centerx', '*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'centerx_ttf', '*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'distill', '**', '*.py'),
              recursive=True))
DISTILL = sorted(glob.glob(osp.join(REPO, 'configs', 'distill', '*.py')))
# deprecated names in configs/centerx -> their configs/distill config
ALIASES = {
    'kd_r18.py': 'kd_r50-r18_shapes.py',
    'kd_r18_nolabel.py': 'kd-nolabel_r50-r18_shapes.py',
    'kd_r18_self.py': 'self-kd_r18-r18_shapes.py',
    'mt_r18_kd_nolabel_shapes.py': 'mtkd-nolabel_2xr50-r18_partial_shapes.py',
    'mt_r18_kd_gt_shapes.py': 'mtkd_2xr50-r18_partial_shapes.py',
    'mt_teacher_a_r50_shapes.py': 'teachers/centerx_r50_2k_shapes-part0.py',
    'mt_teacher_b_r50_shapes.py': 'teachers/centerx_r50_2k_shapes-part1.py',
}


def strip_pretrained(model_cfg):
    for part in ('backbone', 'neck'):
        if part in model_cfg:
            model_cfg[part]['init_cfg'] = None


@pytest.mark.parametrize(
    'path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(REPO, 'configs')))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'centerx_mm'
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = cfg[loader]['dataset']
        while 'pipeline' not in dataset:  # RepeatDataset / ConcatDataset
            dataset = dataset.get('dataset') or dataset['datasets'][0]
        for transform in dataset['pipeline']:
            TRANSFORMS.build(transform)
    # mmdet's DetInferencer and mmdeploy's SDK export look for this name
    test_ds = cfg.test_dataloader.dataset
    while 'pipeline' not in test_ds:
        test_ds = test_ds.get('dataset') or test_ds['datasets'][0]
    assert test_ds.pipeline[0].type == 'LoadImageFromFile'
    # flip TTA (tools/test.py --tta) is available everywhere
    assert cfg.tta_model.type == 'DetTTAModel'
    assert cfg.tta_pipeline[0].type == 'LoadImageFromFile'
    for transform in cfg.tta_pipeline:
        TRANSFORMS.build(transform)
    check_input_scale(cfg, path)  # a top-level img_scale is what is used
    if cfg.model.type != 'CenterX':
        return  # distillers need teacher checkpoints: tested on their own
    strip_pretrained(cfg.model)
    model = MODELS.build(cfg.model)
    classes = cfg.train_dataloader.dataset.get('metainfo', {}).get('classes')
    if classes:
        assert model.bbox_head.num_classes == len(classes)
    with torch.no_grad():
        # (heatmap, wh, offset) or, for CenterXTTFHead, (heatmap, ltrb)
        outs = model.eval()(torch.zeros(1, 3, 64, 64), mode='tensor')
    assert len(outs) == (2 if cfg.model.bbox_head.type == 'CenterXTTFHead'
                         else 3)
    assert outs[0].shape[-2:] == (16, 16)


@pytest.mark.parametrize('path', DISTILL)
def test_teacher_configs_resolve_from_any_working_directory(
        path, tmp_path, monkeypatch):
    """teacher configs are given relative to the config file's own folder
    ({{fileDirname}}), not to the working directory."""
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(path)
    teachers = cfg.model.get('teachers') or []
    assert teachers, 'a distill config names its teachers'
    for teacher in teachers:
        config = teacher['config']
        assert osp.isabs(config) and osp.isfile(config), config
        config = osp.normpath(config)
        assert osp.commonpath([config, osp.join(REPO, 'configs')]) == \
            osp.join(REPO, 'configs'), config


def test_relative_teacher_config_error_says_relative_to_what(
        tmp_path, monkeypatch):
    from centerx_mm.models.utils.teacher import load_teacher
    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / 't.pth'
    ckpt.write_bytes(b'')
    with pytest.raises(FileNotFoundError,
                       match=r'teacher config file not found: '
                       r'centerx_r50\.py \(relative to the working directory '
                       + str(tmp_path) + r".*'\{\{fileDirname\}\}/NAME\.py'"):
        load_teacher('centerx_r50.py', str(ckpt))


@pytest.mark.parametrize('alias, target', sorted(ALIASES.items()))
def test_deprecated_config_names_are_the_distill_configs(alias, target):
    old = Config.fromfile(osp.join(REPO, 'configs', 'centerx', alias))
    new = Config.fromfile(osp.join(REPO, 'configs', 'distill', target))
    for key in ('model', 'train_dataloader', 'train_cfg', 'param_scheduler'):
        assert old.get(key) == new.get(key), key


@pytest.fixture(scope='module')
def teacher_ckpts(tmp_path_factory):
    """Random-init checkpoints of the shipped teacher configs, on demand."""
    tmp = tmp_path_factory.mktemp('teachers')
    cache = {}

    def get(config):
        if config not in cache:
            cfg = Config.fromfile(osp.join(REPO, config))
            strip_pretrained(cfg.model)
            model = MODELS.build(cfg.model)
            classes = cfg.train_dataloader.dataset.metainfo.classes
            cache[config] = str(tmp / f'{len(cache)}.pth')
            torch.save(dict(state_dict=model.state_dict(),
                            meta=dict(dataset_meta=dict(classes=classes))),
                       cache[config])
        return cache[config]

    return get


@pytest.mark.parametrize('path', DISTILL, ids=osp.basename)
def test_distill_config_builds(path, teacher_ckpts):
    """Every shipped distillation config builds with (random-init)
    checkpoints of its teacher configs: classes, head kinds, strides and
    preprocessing fit; teachers stronger than the student (deeper or as
    deep); the name says what the config does."""
    from centerx_mm.models.detectors import CenterXDistiller
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    model_cfg = cfg.model
    assert model_cfg.type == 'CenterXDistiller'
    assert model_cfg.use_gt is ('nolabel' not in name)
    if name.startswith('mtkd'):
        assert len(model_cfg.teachers) == 2
    for spec in model_cfg.teachers:
        spec.config = osp.normpath(spec.config)  # {{fileDirname}}/..
        assert spec.config.startswith(osp.join(REPO, 'configs', '')) \
            and osp.isfile(spec.config)
        # the default checkpoint is where training the teacher config
        # writes by default
        stem = osp.splitext(osp.basename(spec.config))[0]
        assert spec.checkpoint.startswith(f'work_dirs/{stem}/iter_')
        spec.checkpoint = teacher_ckpts(spec.config)
    model = MODELS.build(model_cfg)
    assert isinstance(model, CenterXDistiller)
    assert model.classes == tuple(cfg.metainfo.classes)
    # <method>_<teachers>-<student>_...: the teachers' depth, e.g. 2xr50
    depth = int(re.match(r'[a-z-]+_(?:\dx)?r(\d+)', name).group(1))
    assert all(t.backbone.depth == depth for t in model.teachers)
    if 'overlap' in name:
        assert model.teacher_classes == (('ring', 'star'),
                                         ('ring', 'cross', 'triangle'))
    with torch.no_grad():
        outs = model.eval()(torch.zeros(1, 3, 64, 64), mode='tensor')
    assert outs[0].shape == (1, 4, 16, 16)
