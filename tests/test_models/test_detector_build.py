import pytest
import torch
from mmengine.config import Config

from centerx_mm.registry import MODELS
from tests.helpers import TINY_CONFIG


def tiny_model_cfg():
    return Config.fromfile(TINY_CONFIG).model


def test_forward_tensor_mode_returns_head_maps():
    model = MODELS.build(tiny_model_cfg())
    model.init_weights()
    heat, wh, off = model(torch.randn(2, 3, 64, 96), mode='tensor')
    assert heat.shape == (2, 4, 16, 24)
    assert wh.shape == off.shape == (2, 2, 16, 24)
    # Heatmap bias starts at logit(0.1).
    assert torch.allclose(model.bbox_head.heatmap_head[-1].bias,
                          torch.full((4, ), -2.1972), atol=1e-3)


def test_missing_pretrained_backbone_file_is_named(tmp_path):
    cfg = tiny_model_cfg()
    cfg.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(tmp_path / 'r18_imagenet.pth'))
    with pytest.raises(FileNotFoundError,
                       match=r'backbone\.init_cfg\.checkpoint: file not '
                       r'found: .*r18_imagenet\.pth'):
        MODELS.build(cfg)


def test_download_urls_are_refused():
    cfg = tiny_model_cfg()
    cfg.backbone.init_cfg = dict(
        type='Pretrained', checkpoint='torchvision://resnet18')
    with pytest.raises(ValueError, match='never downloads'):
        MODELS.build(cfg)


def test_local_pretrained_backbone_loads(tmp_path):
    cfg = tiny_model_cfg()
    donor = MODELS.build(cfg)
    path = tmp_path / 'backbone.pth'
    torch.save({'state_dict': donor.backbone.state_dict()}, path)
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(path))
    model = MODELS.build(cfg)
    model.init_weights()
    for key, value in donor.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
