"""CenterXTTFHead: ltrb targets, GIoU loss and the ltrb decode."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from centerx_mm.models.dense_heads import CenterXTTFHead
from centerx_mm.models.utils import centerx_decode, ttf_targets


def one_image(boxes, labels=None):
    boxes = torch.tensor(boxes, dtype=torch.float32).view(-1, 4)
    labels = torch.zeros(len(boxes), dtype=torch.long) if labels is None \
        else torch.tensor(labels)
    return [boxes], [labels]


def test_ltrb_targets_match_hand_computed_values():
    # Input 64x64, maps 16x16 (stride 4). Box (10, 10, 30, 22) px is
    # (2.5, 2.5, 7.5, 5.5) cells: w=5, h=3, centre (5.0, 4.0) -> cell (5, 4).
    # beta radii int(0.54*5/2)=1 (x), int(0.54*3/2)=0 (y): cells x=4,5,6, y=4.
    boxes, labels = one_image([10, 10, 30, 22])
    t, avg = ttf_targets(boxes, labels, 2, (16, 16), (64, 64))
    assert avg == 1
    weight = t['reg_weight'][0, 0]
    assert weight.nonzero().tolist() == [[4, 4], [4, 5], [4, 6]]
    # Anchor at the cell centre (5.5, 4.5): l=3, t=2, r=2, b=1.
    torch.testing.assert_close(t['ltrb'][0, :, 4, 5],
                               torch.tensor([3., 2., 2., 1.]))
    torch.testing.assert_close(t['ltrb'][0, :, 4, 4],
                               torch.tensor([2., 2., 3., 1.]))
    # Weights: G / sum(G) * log(area); sigma_x = 3/6, G(+-1) = exp(-2).
    g = math.exp(-2)
    log_area = math.log(20 * 12)
    assert weight[4, 5].item() == pytest.approx(log_area / (1 + 2 * g))
    assert weight[4, 4].item() == pytest.approx(g * log_area / (1 + 2 * g))
    assert weight.sum().item() == pytest.approx(log_area)
    # Elliptical heatmap (alpha = beta here): 1 at the centre, exp(-2)
    # beside it, only in class 0.
    heat = t['heatmap'][0]
    assert heat[0, 4, 5] == 1 and heat[1].max() == 0
    assert heat[0, 4, 4].item() == pytest.approx(g)
    assert heat[0, 3, 5] == 0


def test_smaller_box_wins_overlapping_cells():
    # A big box and a small one with the same centre cell (5, 5).
    boxes, labels = one_image([[0, 0, 44, 44], [18, 18, 26, 26]], [0, 1])
    t, avg = ttf_targets(boxes, labels, 2, (16, 16), (64, 64))
    assert avg == 2  # one peak in each class
    # the small box (2 cells, region = its centre cell) owns that cell
    torch.testing.assert_close(t['ltrb'][0, :, 5, 5],
                               torch.tensor([1., 1., 1., 1.]))
    # the big box's region (radius int(0.54 * 11 / 2) = 2) keeps the rest
    torch.testing.assert_close(t['ltrb'][0, :, 5, 7],
                               torch.tensor([7.5, 5.5, 3.5, 5.5]))
    assert t['reg_weight'][0, 0, 3:8, 3:8].count_nonzero() == 25
    assert t['reg_weight'][0, 0, 5, 8] == 0


def test_tiny_zero_and_outside_boxes():
    boxes, labels = one_image([[10, 10, 11, 11], [5, 5, 5, 20],
                               [80, 80, 90, 90], [-10, 60, 6, 70]],
                              [0, 0, 0, 1])
    t, avg = ttf_targets(boxes, labels, 2, (16, 16), (64, 64))
    for value in t.values():
        assert torch.isfinite(value).all()
    # tiny box: its centre cell (2, 2) is a positive, and only it
    assert t['heatmap'][0, 0, 2, 2] == 1
    assert t['reg_weight'][0, 0].count_nonzero() == 2
    # log(area) clamped at e, so a tiny box weighs 1
    assert t['reg_weight'][0, 0, 2, 2].item() == pytest.approx(1.0)
    # zero-width and fully outside boxes give nothing; the partly outside
    # one is clipped to (0, 60, 6, 64) and gives class 1 a peak
    assert avg == 2
    assert t['heatmap'][0, 1].max() == 1


def test_empty_batch_targets():
    t, avg = ttf_targets([torch.zeros(0, 4)], [torch.zeros(0).long()], 3,
                         (8, 8), (32, 32))
    assert avg == 1 and t['reg_weight'].sum() == 0
    assert t['ltrb'].shape == (1, 4, 8, 8)


def make_head(**kwargs):
    head = CenterXTTFHead(num_classes=2, in_channels=8, feat_channels=8,
                          **kwargs)
    head.init_weights()
    return head


def gt(boxes, labels):
    inst = InstanceData()
    inst.bboxes = torch.as_tensor(boxes, dtype=torch.float32).view(-1, 4)
    inst.labels = torch.tensor(labels, dtype=torch.long)
    return inst


def test_giou_loss_finite_on_degenerate_boxes_and_predictions():
    head = make_head()
    feats = (torch.randn(2, 8, 16, 16), )
    heat, ltrb = head(feats)
    assert ltrb.min() >= 0
    # prediction all zero (degenerate boxes at every anchor)
    ltrb = torch.zeros_like(ltrb, requires_grad=True)
    metas = [dict(batch_input_shape=(64, 64))] * 2
    losses = head.loss_by_feat(
        heat, ltrb, [
            gt([[10, 10, 10.5, 10.5], [3, 3, 3, 9], [0, 0, 64, 64]],
               [0, 1, 1]),
            gt(torch.zeros(0, 4), [])
        ], metas)
    total = losses['loss_heatmap'] + losses['loss_bbox']
    assert torch.isfinite(total)
    assert losses['loss_bbox'] > 0
    total.backward()
    assert torch.isfinite(ltrb.grad).all() and ltrb.grad.abs().sum() > 0


def test_giou_loss_zero_for_perfect_prediction():
    head = make_head()
    heat = torch.zeros(1, 2, 16, 16)
    boxes, labels = [[10., 10., 30., 22.], [40., 36., 60., 60.]], [0, 1]
    t, _ = ttf_targets(*one_image(boxes, labels), 2, (16, 16), (64, 64))
    losses = head.loss_by_feat(heat, t['ltrb'], [gt(boxes, labels)],
                               [dict(batch_input_shape=(64, 64))])
    assert losses['loss_bbox'].item() == pytest.approx(0, abs=1e-5)
    losses = head.loss_by_feat(heat, t['ltrb'] * 0.5, [gt(boxes, labels)],
                               [dict(batch_input_shape=(64, 64))])
    assert losses['loss_bbox'].item() > 0.1


def test_ltrb_decode_on_known_peaks():
    heat = torch.full((1, 2, 8, 8), -5.)
    heat[0, 1, 2, 3] = 2.0
    heat[0, 0, 6, 1] = 0.0
    ltrb = torch.zeros(1, 4, 8, 8)
    ltrb[0, :, 2, 3] = torch.tensor([1., 2., 3., 0.5])
    ltrb[0, :, 6, 1] = torch.tensor([-1., 1., 1., 1.])  # negative -> 0
    dets, labels = centerx_decode(heat, ltrb, None, input_hw=(32, 32),
                                  topk=2)
    # anchor (3.5, 2.5) cells -> (2.5, 0.5, 6.5, 3.0) cells -> x4 px
    torch.testing.assert_close(
        dets[0, 0], torch.tensor([10., 2., 26., 12., torch.tensor(
            2.).sigmoid().item()]))
    assert labels[0].tolist() == [1, 0]
    torch.testing.assert_close(dets[0, 1],
                               torch.tensor([6., 22., 10., 30., 0.5]))


def test_decode_rejects_wrong_map_combination():
    heat = torch.zeros(1, 2, 8, 8)
    with pytest.raises(ValueError, match='ltrb'):
        centerx_decode(heat, torch.zeros(1, 3, 8, 8), None, input_hw=(32, 32))
    with pytest.raises(ValueError, match='offset'):
        centerx_decode(heat, torch.zeros(1, 2, 8, 8), None, input_hw=(32, 32))


def test_decode_clamps_negative_wh_and_runs_in_fp32():
    heat = torch.full((1, 1, 8, 8), -4.)
    heat[0, 0, 4, 4] = 3.
    wh = torch.zeros(1, 2, 8, 8)
    wh[0, :, 4, 4] = torch.tensor([-2., 3.])
    off = torch.zeros(1, 2, 8, 8)
    dets, _ = centerx_decode(heat.half(), wh.half(), off.half(),
                             input_hw=(1024, 1024), topk=1)
    assert dets.dtype == torch.float32
    x1, y1, x2, y2 = dets[0, 0, :4].tolist()
    assert x1 == x2 == 4 * 128  # width clamped to 0, no x1 > x2
    assert y2 - y1 == pytest.approx(3 * 128)


def test_ttf_head_rejects_bad_options():
    with pytest.raises(ValueError, match='heatmap_gaussian'):
        make_head(heatmap_gaussian='square')
    with pytest.raises(ValueError, match='beta'):
        make_head(beta=0)
    with pytest.raises(ValueError, match='ltrb_init_bias'):
        make_head(ltrb_init_bias=float('nan'))


def test_ltrb_init_bias_gives_the_box_loss_a_gradient_at_init():
    """From TTFNet's init (bias 0, std 0.001) every box starts at size ~0,
    where GIoU's gradient vanishes: SGD never moves the branch. A bias of
    1.0 starts the boxes at ``ltrb_scale`` cells per side."""
    torch.manual_seed(0)
    feats = (torch.randn(2, 8, 16, 16), )
    boxes = [gt([[8., 8., 40., 36.]], [0]), gt([[20., 16., 60., 56.]], [1])]
    metas = [dict(batch_input_shape=(64, 64))] * 2
    grads = {}
    for bias in (0.0, 1.0):
        torch.manual_seed(0)
        head = make_head(ltrb_init_bias=bias)
        heat, ltrb = head(feats)
        if bias:
            torch.testing.assert_close(ltrb, torch.full_like(ltrb, 4.0),
                                       atol=0.05, rtol=0)
        else:
            assert ltrb.max() < 0.05
        loss = head.loss_by_feat(heat, ltrb, boxes, metas)['loss_bbox']
        loss.backward()
        grads[bias] = torch.cat([
            p.grad.flatten() for p in head.ltrb_head.parameters()
        ]).norm().item()
        # GIoU loss: 1 per cell for size-0 boxes (x the loss weight, 5)
        giou = loss.item() / head.loss_bbox.loss_weight
        assert giou == pytest.approx(1.0, abs=0.01) if not bias \
            else giou < 0.5
    assert grads[0.0] < 1e-3
    assert grads[1.0] > 100 * grads[0.0] and grads[1.0] > 0.05
