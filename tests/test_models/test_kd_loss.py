"""KDLoss: each term against hand-computed values."""
import math

import pytest
import torch

from centerx_mm.models.losses import KDLoss
from centerx_mm.registry import MODELS

BG = -1e4  # sigmoid(BG) == 0 exactly in float32: background adds no mask


def logit(p):
    return math.log(p / (1 - p))


def two_peak_teacher():
    """Teacher (1, 2, 4, 4): class 0 peak at (y=1, x=1) score 0.8 with a
    non-peak neighbour 0.5 at (1, 2); class 1 peak at (3, 3) score 0.4.
    wh (4, 2) at (1, 1), (1, 3) at (3, 3), 100 elsewhere (masked out);
    offset (0.5, 0.25) at (1, 1), (0.1, 0.9) at (3, 3), 7 elsewhere."""
    heat = torch.full((1, 2, 4, 4), BG)
    heat[0, 0, 1, 1] = logit(0.8)
    heat[0, 0, 1, 2] = logit(0.5)
    heat[0, 1, 3, 3] = logit(0.4)
    wh = torch.full((1, 2, 4, 4), 100.)
    wh[0, :, 1, 1] = torch.tensor([4., 2.])
    wh[0, :, 3, 3] = torch.tensor([1., 3.])
    off = torch.full((1, 2, 4, 4), 7.)
    off[0, :, 1, 1] = torch.tensor([0.5, 0.25])
    off[0, :, 3, 3] = torch.tensor([0.1, 0.9])
    return heat, wh, off


def test_registered():
    loss = MODELS.build(dict(type='KDLoss', heatmap_mode='prob'))
    assert isinstance(loss, KDLoss) and loss.heatmap_mode == 'prob'


def test_heatmap_logits_mode_is_mse_of_relu_logits():
    s = torch.tensor([-1., 2., .5, 3.]).view(1, 1, 2, 2)
    t = torch.tensor([1., -2., .5, 1.]).view(1, 1, 2, 2)
    # relu: s (0, 2, .5, 3), t (1, 0, .5, 1) -> sq (1, 4, 0, 4), mean 2.25
    loss = KDLoss(heatmap_mode='logits', loss_heatmap_weight=10.)
    zeros = torch.zeros(1, 2, 2, 2)
    out = loss((s, zeros, zeros), (t, zeros, zeros))
    assert out['loss_kd_heatmap'].item() == pytest.approx(22.5)


def test_heatmap_prob_mode_is_mse_of_sigmoids():
    s = torch.tensor([0., logit(.8), logit(.1), logit(.3)]).view(1, 1, 2, 2)
    t = torch.tensor([0., logit(.4), logit(.3), logit(.3)]).view(1, 1, 2, 2)
    # probs differ by (0, .4, -.2, 0) -> (0 + .16 + .04 + 0) / 4 = .05
    loss = KDLoss(heatmap_mode='prob', loss_heatmap_weight=2.)
    assert loss.heatmap_loss(s, t).item() == pytest.approx(.05, rel=1e-5)
    zeros = torch.zeros(1, 2, 2, 2)
    out = loss((s, zeros, zeros), (t, zeros, zeros))
    assert out['loss_kd_heatmap'].item() == pytest.approx(.1, rel=1e-5)


def test_heatmap_weight_averages_over_weighted_elements():
    s = torch.zeros(1, 2, 1, 2)
    t = torch.tensor([[1., 3.], [5., 5.]]).view(1, 2, 1, 2)
    loss = KDLoss(heatmap_mode='logits')
    # class 1 switched off: (1 + 9) / 2 elements
    w = torch.tensor([1., 0.]).view(1, 2, 1, 1)
    assert loss.heatmap_loss(s, t, w).item() == pytest.approx(5.)
    assert loss.heatmap_loss(s, t).item() == pytest.approx(60. / 4)


def test_peaks_mask_keeps_peak_scores_max_over_classes():
    heat, _, _ = two_peak_teacher()
    mask = KDLoss(mask='peaks').regression_mask(heat)
    expected = torch.zeros(1, 1, 4, 4)
    expected[0, 0, 1, 1] = .8  # the 0.5 neighbour is not a peak
    expected[0, 0, 3, 3] = .4
    torch.testing.assert_close(mask, expected)


def test_wh_and_offset_peaks_mask_hand_computed():
    t_heat, t_wh, t_off = two_peak_teacher()
    s_heat = torch.zeros_like(t_heat)
    s_wh = torch.zeros_like(t_wh)
    s_off = torch.zeros_like(t_off)
    loss = KDLoss(mask='peaks', loss_wh_weight=.5, loss_offset_weight=2.)
    out = loss((s_heat, s_wh, s_off), (t_heat, t_wh, t_off))
    # wh: |0-(4,2)| mean 3 at .8, |0-(1,3)| mean 2 at .4 -> 3.2 / 1.2
    assert out['loss_kd_wh'].item() == pytest.approx(.5 * 3.2 / 1.2)
    # offset: mean .375 at .8, mean .5 at .4 -> (.3 + .2) / 1.2
    assert out['loss_kd_offset'].item() == pytest.approx(2. * .5 / 1.2)
    assert set(out) == {'loss_kd_heatmap', 'loss_kd_wh', 'loss_kd_offset'}


def test_wh_normalised_by_teacher_box_size():
    t_heat, t_wh, t_off = two_peak_teacher()
    s_wh = torch.full_like(t_wh, 2.)
    plain = KDLoss(loss_wh_weight=1.)
    rel = KDLoss(loss_wh_weight=1., normalize_wh=True)
    s = (torch.zeros_like(t_heat), s_wh, t_off)
    t = (t_heat, t_wh, t_off)
    # plain: (|2-4|+|2-2|)/2 = 1 and (|2-1|+|2-3|)/2 = 1 -> 1
    assert plain(s, t)['loss_kd_wh'].item() == pytest.approx(1.)
    # relative: (2/4 + 0/2)/2 = .25 at .8; (1/max(1,1) + 1/3)/2 at .4
    expected = (.8 * .25 + .4 * (1 + 1 / 3) / 2) / 1.2
    assert rel(s, t)['loss_kd_wh'].item() == pytest.approx(expected)
    assert rel(s, t)['loss_kd_offset'].item() == 0


def test_dense_mask_follows_heatmap_mode():
    heat = torch.full((1, 2, 1, 3), -5.)
    heat[0, 0, 0, 0] = 2.
    heat[0, 0, 0, 1] = 1.
    heat[0, 1, 0, 1] = 3.
    # logits mode: max over classes of relu(logits) = (2, 3, 0)
    mask = KDLoss(mask='dense', heatmap_mode='logits').regression_mask(heat)
    torch.testing.assert_close(mask.flatten(), torch.tensor([2., 3., 0.]))
    # prob mode: max over classes of sigmoid
    sig = [1 / (1 + math.exp(-v)) for v in (2., 3., -5.)]
    mask = KDLoss(mask='dense', heatmap_mode='prob').regression_mask(heat)
    torch.testing.assert_close(mask.flatten(), torch.tensor(sig))
    # L1 weighted by the dense mask: errors (1, 2, 4) in both channels
    s_wh = torch.zeros(1, 2, 1, 3)
    t_wh = torch.tensor([1., 2., 4.]).expand(1, 2, 1, 3)
    loss = KDLoss(mask='dense', heatmap_mode='logits', loss_wh_weight=1.)
    out = loss((heat, s_wh, s_wh), (heat, t_wh, s_wh))
    assert out['loss_kd_wh'].item() == pytest.approx((2 * 1 + 3 * 2) / 5)
    assert out['loss_kd_heatmap'].item() == 0


@pytest.mark.parametrize('mask', ['peaks', 'dense'])
def test_finite_and_zero_without_teacher_peaks(mask):
    t_heat = torch.full((2, 3, 8, 8), BG)  # no object anywhere
    t_wh = torch.randn(2, 2, 8, 8)
    s_heat = torch.randn(2, 3, 8, 8, requires_grad=True)
    s_wh = torch.randn(2, 2, 8, 8, requires_grad=True)
    s_off = torch.randn(2, 2, 8, 8, requires_grad=True)
    loss = KDLoss(mask=mask, heatmap_mode='prob', normalize_wh=True)
    out = loss((s_heat, s_wh, s_off), (t_heat, t_wh, t_wh))
    for value in out.values():
        assert torch.isfinite(value)
    assert out['loss_kd_wh'].item() == 0 and out['loss_kd_offset'].item() == 0
    sum(out.values()).backward()
    for t in (s_heat, s_wh, s_off):
        assert torch.isfinite(t.grad).all()


def test_no_gradient_into_teacher_maps():
    t = [x.requires_grad_() for x in two_peak_teacher()]
    s = [torch.zeros_like(x, requires_grad=True) for x in t]
    out = KDLoss()(s, t)
    sum(out.values()).backward()
    assert all(x.grad is None for x in t)
    assert all(x.grad is not None for x in s)


def test_fp16_mask_sum_guard():
    t_heat = torch.full((1, 1, 4, 4), -100., dtype=torch.float16)
    s = torch.zeros(1, 2, 4, 4, dtype=torch.float16)
    out = KDLoss()((t_heat, s, s), (t_heat, s + 1, s + 1))
    assert all(torch.isfinite(v) for v in out.values())


def test_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match='heatmap_mode'):
        KDLoss(heatmap_mode='softmax')
    with pytest.raises(ValueError, match='mask'):
        KDLoss(mask='gt')
    with pytest.raises(ValueError, match='min_wh'):
        KDLoss(min_wh=0)
    s = (torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4),
         torch.zeros(1, 2, 4, 4))
    t = (torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8),
         torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r'heatmap map \(1, 2, 4, 4\)'):
        KDLoss()(s, t)


def test_logits_mode_gives_no_gradient_to_negative_student_logits():
    """Documented limitation: a freshly initialised head (all logits -2.19)
    gets no heatmap-KD gradient in 'logits' mode, but does in 'prob'."""
    t_heat = two_peak_teacher()[0]
    s_heat = torch.full_like(t_heat, -2.19, requires_grad=True)
    KDLoss(heatmap_mode='logits').heatmap_loss(s_heat, t_heat).backward()
    assert s_heat.grad.abs().max() == 0
    s_heat.grad = None
    KDLoss(heatmap_mode='prob').heatmap_loss(s_heat, t_heat).backward()
    # d/ds mean((sig(s) - sig(t))^2) at the 0.8 peak: 2 (p - .8) p (1 - p) / N
    p = 1 / (1 + math.exp(2.19))
    expected = 2 * (p - .8) * p * (1 - p) / t_heat.numel()
    assert s_heat.grad[0, 0, 1, 1].item() == pytest.approx(expected, rel=1e-4)
