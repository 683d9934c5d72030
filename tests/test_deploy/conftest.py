"""Shared fixtures: a tiny CenterX (8-channel ResNet-18, 128x128 input) with
randomised BN statistics and box heads, its checkpoint and a tiny dataset."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from tests.helpers import TINY_CONFIG, data_options, make_tiny_dataset


def tiny_detector(cfg, seed: int = 0) -> nn.Module:
    """Random tiny detector whose outputs are not degenerate: BN statistics
    away from (0, 1), boxes of 2..6 cells, spread heatmap logits."""
    from centerx_mm.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        head = model.bbox_head
        head.wh_head[-1].weight.normal_(0, 0.05)
        head.wh_head[-1].bias.uniform_(2, 6)
        head.offset_head[-1].weight.normal_(0, 0.05)
        head.heatmap_head[-1].weight.normal_(0, 0.5)
    return model.eval()


def check_caffe_dets(model, prototxt, caffemodel, img, num):
    """OpenCV Caffe + numpy decode on ``img`` gives PyTorch's ``num``
    highest-scoring boxes (1e-3 px) and labels."""
    import cv2
    import numpy as np

    from centerx_mm.apis import OpenCVCaffeDetector
    det = OpenCVCaffeDetector(prototxt, caffemodel)
    batch, metas = det.preprocess([cv2.imread(img)])
    with torch.no_grad():
        maps = model(torch.from_numpy(batch), mode='tensor')
        ref = model.bbox_head.predict_by_feat(
            *maps, [dict(metas[0], batch_input_shape=batch.shape[2:])])[0]
    thr = float(ref.scores[num - 1] + ref.scores[num]) / 2  # num dets above
    ours = det(img, score_thr=thr)
    ref = ref[ref.scores > thr]
    assert len(ref) == num and len(ours['scores']) == num
    np.testing.assert_allclose(ours['bboxes'], ref.bboxes.numpy(), atol=1e-3)
    assert (ours['labels'] == ref.labels.numpy()).all()


@pytest.fixture(scope='session')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('deploy')
    data = make_tiny_dataset(root / 'data', num_train=2, num_val=4)
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict(dict(opt.split('=', 1) for opt in data_options(data)))
    cfg_file = str(root / 'tiny_cfg.py')
    cfg.dump(cfg_file)
    model = tiny_detector(cfg)
    ckpt = str(root / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    img = osp.join(data, 'val', '000001.png')
    return SimpleNamespace(
        root=root, cfg=cfg, cfg_file=cfg_file, model=model, ckpt=ckpt,
        data=data, img=img)
