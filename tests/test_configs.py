"""Every shipped config parses, its model builds, and its pipelines build."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from centerx_mm.registry import MODELS, TRANSFORMS
from centerx_mm.utils.misc import check_input_scale
from tests.helpers import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'centerx', '*.py')))


def strip_pretrained(model_cfg):
    for part in ('backbone', 'neck'):
        if part in model_cfg:
            model_cfg[part]['init_cfg'] = None


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
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
        heat, wh, off = model.eval()(torch.zeros(1, 3, 64, 64), mode='tensor')
    assert heat.shape[-2:] == (16, 16)


@pytest.mark.parametrize('name', ['kd_r18.py', 'kd_r18_self.py',
                                  'mt_r18_kd_gt_shapes.py'])
def test_teacher_configs_resolve_from_any_working_directory(
        name, tmp_path, monkeypatch):
    """teacher configs are given relative to the config file's own folder
    ({{fileDirname}}), not to the working directory."""
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'centerx', name))
    paths = [cfg.model.teacher_config] if 'teacher_config' in cfg.model \
        else [t['config'] for t in cfg.model.teachers]
    for path in paths:
        assert osp.isabs(path) and osp.isfile(path), path
        assert osp.dirname(path) == osp.join(REPO, 'configs', 'centerx')


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
