import math

import pytest
import torch
from mmdet.models.losses import GaussianFocalLoss
from mmengine.structures import InstanceData

from centerx_mm.models.dense_heads import CenterXHead
from centerx_mm.models.losses import (GaussianFocalLossWithLogits,
                                      gaussian_focal_loss_with_logits)
from centerx_mm.models.utils import centerx_decode, centerx_peaks


def logit(p):
    return math.log(p / (1 - p))


def make_maps():
    """Two peaks: class 1 at cell (x=3, y=2) score 0.9, box 4x2 cells,
    offset (0.5, 0.25); class 0 at cell (x=6, y=5) score 0.6, box 2x6."""
    heat = torch.full((1, 2, 8, 8), logit(0.01))
    heat[0, 1, 2, 3] = logit(0.9)
    heat[0, 1, 2, 4] = logit(0.5)  # neighbour of the peak: suppressed
    heat[0, 0, 5, 6] = logit(0.6)
    wh = torch.zeros(1, 2, 8, 8)
    off = torch.zeros(1, 2, 8, 8)
    wh[0, :, 2, 3] = torch.tensor([4., 2.])
    off[0, :, 2, 3] = torch.tensor([0.5, 0.25])
    wh[0, :, 5, 6] = torch.tensor([2., 6.])
    return heat, wh, off


def test_decode_known_peaks_to_known_boxes():
    heat, wh, off = make_maps()
    dets, labels = centerx_decode(heat, wh, off, input_hw=(32, 32), topk=3)
    assert dets.shape == (1, 3, 5) and labels.shape == (1, 3)
    # Peak 1: centre (3.5, 2.25) cells -> x 1.5..5.5, y 1.25..3.25, *4 px.
    torch.testing.assert_close(dets[0, 0],
                               torch.tensor([6., 5., 22., 13., 0.9]))
    assert labels[0, 0] == 1
    torch.testing.assert_close(dets[0, 1],
                               torch.tensor([20., 8., 28., 32., 0.6]))
    assert labels[0, 1] == 0
    # Third is a background cell, not the suppressed neighbour (0.5).
    assert dets[0, 2, 4] == pytest.approx(0.01, rel=1e-4)


def test_decode_rejects_topk_larger_than_heatmap():
    heat, wh, off = make_maps()
    with pytest.raises(ValueError, match='topk=200'):
        centerx_decode(heat, wh, off, input_hw=(32, 32), topk=200)


def test_peaks_fp16_and_plateau():
    scores = torch.zeros(1, 1, 5, 5, dtype=torch.float16)
    scores[0, 0, 2, 2] = 0.8
    scores[0, 0, 2, 3] = 0.3
    scores[0, 0, 0, 0] = 1e-4  # tiny peak: 1e-9 tricks lose it in fp16
    peaks = centerx_peaks(scores)
    assert peaks.dtype == torch.float16
    assert torch.isfinite(peaks).all()
    assert peaks[0, 0, 2, 2] == scores[0, 0, 2, 2]
    assert peaks[0, 0, 2, 3] == 0
    assert peaks[0, 0, 0, 0] == scores[0, 0, 0, 0]


def test_focal_loss_matches_mmdet_on_probabilities():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8) * 2
    target = torch.rand(2, 3, 8, 8) * 0.9
    target[0, 1, 4, 4] = 1
    target[1, 2, 0, 7] = 1
    ours = GaussianFocalLossWithLogits()(logits, target, avg_factor=2)
    ref = GaussianFocalLoss()(logits.sigmoid(), target, avg_factor=2)
    # mmdet divides the sum by avg_factor too (reduction mean -> sum/avg).
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_focal_loss_hand_computed():
    # One positive cell with p = 0.5 and one negative with target 0.5,
    # p = 0.5: pos = -log(.5) * .5^2, neg = -log(.5) * .5^2 * .5^4.
    logits = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[1.0, 0.5]]]])
    loss = gaussian_focal_loss_with_logits(logits, target)
    l2 = math.log(2)
    torch.testing.assert_close(
        loss, torch.tensor([[[[l2 * 0.25, l2 * 0.25 * 0.0625]]]]))


def test_focal_loss_finite_when_sigmoid_saturates():
    logits = torch.tensor([[[[100., -100., 100., -100.]]]])
    target = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]])
    for dtype in (torch.float32, torch.float16):
        lg = logits.detach().to(dtype).requires_grad_()
        loss = GaussianFocalLossWithLogits()(lg, target.to(dtype),
                                             avg_factor=1)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(lg.grad).all()
    # Confidently wrong cells cost about |logit| (softplus), not inf/NaN.
    loss = gaussian_focal_loss_with_logits(logits.float(), target)
    assert loss[0, 0, 0, 1] == pytest.approx(100, rel=1e-3)
    assert loss[0, 0, 0, 2] == pytest.approx(100, rel=1e-3)


def test_head_predict_rescales_to_original_image():
    head = CenterXHead(num_classes=2, in_channels=8,
                       test_cfg=dict(topk=2, local_maximum_kernel=3))
    heat, wh, off = make_maps()
    meta = dict(batch_input_shape=(32, 32), scale_factor=(2.0, 2.0),
                ori_shape=(16, 16))
    res = head.predict_by_feat(heat, wh, off, [meta])[0]
    assert isinstance(res, InstanceData)
    torch.testing.assert_close(res.bboxes[0],
                               torch.tensor([3., 2.5, 11., 6.5]))
    # Second box (10, 4, 14, 16) is clipped to the 16x16 original image.
    torch.testing.assert_close(res.bboxes[1], torch.tensor([10., 4., 14.,
                                                            16.]))
    assert res.labels.tolist() == [1, 0]


def test_head_loss_finite_without_objects():
    head = CenterXHead(num_classes=3, in_channels=4)
    head.init_weights()
    empty = InstanceData(bboxes=torch.zeros(0, 4),
                         labels=torch.zeros(0, dtype=torch.long))
    outs = head((torch.randn(2, 4, 8, 8), ))
    losses = head.loss_by_feat(*outs, [empty, empty],
                               [dict(batch_input_shape=(32, 32))] * 2)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_wh'] == 0 and losses['loss_offset'] == 0


def test_ignore_unlabelled_classes_weight():
    head = CenterXHead(num_classes=3, in_channels=4)
    heat = torch.zeros(2, 3, 4, 4)
    metas = [dict(annotated_labels=[0, 2]), dict()]
    w = head.heatmap_loss_weight(metas, heat)
    assert w.shape == (2, 3, 1, 1)
    assert w[:, :, 0, 0].tolist() == [[1, 0, 1], [1, 1, 1]]
    assert head.heatmap_loss_weight([dict(), dict()], heat) is None


def test_decode_is_a_registered_function():
    from centerx_mm.registry import FUNCTIONS
    assert FUNCTIONS.get('centerx_decode') is centerx_decode
    assert FUNCTIONS.get('centerx_peaks') is centerx_peaks
