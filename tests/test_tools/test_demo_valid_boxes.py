"""tools/demo.py on a weakly trained model whose wh head predicts negative
sizes: the decode clamps wh at 0 (issue 16 item 5), so the boxes are valid
and mmdet's visualizer draws them instead of failing its x1 <= x2 assert."""
import os.path as osp

import torch
from mmengine.config import Config

from centerx_mm.registry import MODELS
from tests.helpers import TINY_CONFIG, make_tiny_dataset, save_ckpt


def test_demo_with_negative_wh_predictions_draws_valid_boxes(tmp_path):
    data = make_tiny_dataset(tmp_path / 'data', num_train=1, num_val=1)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    model.init_weights()
    with torch.no_grad():  # every predicted size negative
        model.bbox_head.wh_head[-1].weight.zero_()
        model.bbox_head.wh_head[-1].bias.fill_(-3.0)
    ckpt = save_ckpt(model, tmp_path / 'weak.pth',
                     ('ring', 'star', 'cross', 'triangle'))
    from tools.demo import main
    result = main([osp.join(data, 'val', '000000.png'), TINY_CONFIG, ckpt,
                   '--out-file', str(tmp_path / 'out.png'),
                   '--score-thr', '0.0'])
    boxes = result.pred_instances.bboxes
    assert len(boxes) > 0
    assert (boxes[:, 2] >= boxes[:, 0]).all()
    assert (boxes[:, 3] >= boxes[:, 1]).all()
    assert (tmp_path / 'out.png').exists()
