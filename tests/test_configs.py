"""Every shipped config parses, its model builds, and its pipelines build."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from centerx_mm.registry import MODELS, TRANSFORMS
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
