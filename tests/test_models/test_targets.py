import pytest
import torch
from mmdet.models.dense_heads import CenterNetHead
from mmengine.structures import InstanceData

from centerx_mm.models.dense_heads import CenterXHead
from centerx_mm.models.utils import centernet_targets, gaussian_radius


def random_boxes(gen, n, img_h, img_w):
    """Boxes fully inside the image, 1..half-image sized."""
    wh = torch.rand(n, 2, generator=gen) * torch.tensor(
        [img_w / 2, img_h / 2]) + 1
    x1 = torch.rand(n, generator=gen) * (img_w - wh[:, 0])
    y1 = torch.rand(n, generator=gen) * (img_h - wh[:, 1])
    return torch.stack([x1, y1, x1 + wh[:, 0], y1 + wh[:, 1]], 1)


@pytest.mark.parametrize('seed,num_boxes', [(0, 1), (1, 5), (2, 30),
                                            (3, 100)])
def test_targets_equal_mmdet(seed, num_boxes):
    gen = torch.Generator().manual_seed(seed)
    num_classes, img_h, img_w, batch = 4, 128, 160, 3
    feat_h, feat_w = img_h // 4, img_w // 4
    bboxes = [random_boxes(gen, num_boxes, img_h, img_w) for _ in range(batch)]
    bboxes[1] = bboxes[1][:0]  # an image without boxes
    labels = [torch.randint(0, num_classes, (len(b), ), generator=gen)
              for b in bboxes]
    mmdet_head = CenterNetHead(in_channels=8, feat_channels=8,
                               num_classes=num_classes)
    ref, ref_avg = mmdet_head.get_targets(
        bboxes, labels, (batch, num_classes, feat_h, feat_w), (img_h, img_w))
    ours, avg = centernet_targets(bboxes, labels, num_classes,
                                  (feat_h, feat_w), (img_h, img_w))
    assert avg == int(ref_avg)
    torch.testing.assert_close(ours['heatmap'], ref['center_heatmap_target'],
                               rtol=0, atol=0)
    torch.testing.assert_close(ours['wh'], ref['wh_target'], rtol=0, atol=0)
    torch.testing.assert_close(ours['offset'], ref['offset_target'],
                               rtol=0, atol=0)
    torch.testing.assert_close(ours['wh_offset_weight'],
                               ref['wh_offset_target_weight'], rtol=0, atol=0)


def test_targets_shared_centre_last_box_wins():
    # Two boxes with the same centre cell: mmdet writes the later one.
    boxes = [torch.tensor([[10., 10., 30., 30.], [12., 12., 28., 28.]])]
    labels = [torch.tensor([0, 1])]
    t, avg = centernet_targets(boxes, labels, 2, (16, 16), (64, 64))
    assert t['wh'][0, :, 5, 5].tolist() == [4.0, 4.0]
    assert t['heatmap'][0, 0, 5, 5] == 1 and t['heatmap'][0, 1, 5, 5] == 1
    assert avg == 2


def test_targets_edge_cases_no_nan():
    boxes = [
        torch.tensor([[5., 5., 5., 20.],  # zero width: no target
                      [-10., -10., 20., 20.],  # partly outside: clipped
                      [50., 50., 90., 90.]]),  # outside-ish: clipped
        torch.zeros(0, 4),
    ]
    labels = [torch.tensor([0, 1, 0]), torch.zeros(0, dtype=torch.long)]
    t, avg = centernet_targets(boxes, labels, 2, (16, 16), (64, 64))
    for v in t.values():
        assert torch.isfinite(v).all()
    # The clipped box (0,0)-(20,20) has its centre at cell (2, 2), size 5x5.
    assert t['heatmap'][0, 1, 2, 2] == 1
    assert t['wh'][0, :, 2, 2].tolist() == [5.0, 5.0]
    # Zero-width box made no positive on class 0 at its centre (1, 3).
    assert t['heatmap'][0, 0, 3, 1] < 1
    # Box clipped to (50,50)-(64,64): centre (57, 57) -> cell (14, 14).
    assert t['heatmap'][0, 0, 14, 14] == 1
    assert avg == 2
    assert t['heatmap'][1].sum() == 0


def test_targets_empty_batch():
    t, avg = centernet_targets([torch.zeros(0, 4)] * 2,
                               [torch.zeros(0, dtype=torch.long)] * 2, 3,
                               (8, 8), (32, 32))
    assert avg == 1
    assert t['heatmap'].shape == (2, 3, 8, 8) and t['heatmap'].sum() == 0


def test_gaussian_radius_matches_mmdet():
    from mmdet.models.utils import gaussian_radius as mmdet_radius
    h = torch.tensor([1., 3.5, 10., 40.])
    w = torch.tensor([2., 7., 10., 5.])
    ours = gaussian_radius(h, w, 0.3)
    for i in range(4):
        assert float(ours[i]) == pytest.approx(
            float(mmdet_radius([h[i], w[i]], 0.3)), rel=1e-6)


def test_head_loss_uses_targets():
    head = CenterXHead(num_classes=2, in_channels=8, feat_channels=8)
    head.init_weights()
    feats = (torch.randn(2, 8, 16, 16), )
    gt = InstanceData(bboxes=torch.tensor([[8., 8., 40., 40.]]),
                      labels=torch.tensor([1]))
    empty = InstanceData(bboxes=torch.zeros(0, 4),
                         labels=torch.zeros(0, dtype=torch.long))
    metas = [dict(batch_input_shape=(64, 64))] * 2
    losses = head.loss_by_feat(*head(feats), [gt, empty], metas)
    assert set(losses) == {'loss_heatmap', 'loss_wh', 'loss_offset'}
    for v in losses.values():
        assert torch.isfinite(v) and v > 0
