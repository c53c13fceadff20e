"""Depth losses: hand-computed values, masking, gradients, edge cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from depthstudy.losses import build

DEPTH_LOSSES = ("l1", "l2", "berhu", "si", "grad", "da", "jg")
PIXEL_LOSSES = ("l1", "l2", "berhu", "da", "si")


def _run(name, pred, gt, **options):
    return build(name, **options)({"depth": pred}, {"depth": gt})


def _row(*values, dtype=torch.float64):
    """A [1,1,1,N] depth map."""
    return torch.tensor(values, dtype=dtype).view(1, 1, 1, -1)


def _random_depth(shape=(2, 1, 7, 8), seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=dtype) * 6 + 0.5)


def _with_holes(gt):
    gt = gt.clone()
    gt[0, 0, 1, 2] = 0.0
    gt[0, 0, 4, 5] = float("nan")
    gt[1, 0, 3, 3] = -1.0
    gt[1, 0, 4, 0] = float("inf")
    return gt


@pytest.mark.parametrize("name", DEPTH_LOSSES)
def test_zero_when_prediction_equals_gt(name):
    gt = _with_holes(_random_depth())
    pred = torch.where(torch.isfinite(gt) & (gt > 0), gt, torch.full_like(gt, 3.0))
    out = _run(name, pred, gt)
    assert set(out) == {"total", name}
    assert out["total"].abs().item() < 1e-6


@pytest.mark.parametrize("name", DEPTH_LOSSES)
def test_positive_when_prediction_differs(name):
    gt = _random_depth(seed=1)
    pred = _random_depth(seed=2)
    assert _run(name, pred, gt)["total"].item() > 1e-3


@pytest.mark.parametrize("name", DEPTH_LOSSES)
def test_invalid_pixels_get_exactly_zero_gradient(name):
    gt = _with_holes(_random_depth(seed=3))
    pred = _random_depth(seed=4).requires_grad_(True)
    _run(name, pred, gt)["total"].backward()
    invalid = ~(torch.isfinite(gt) & (gt > 0))
    assert torch.isfinite(pred.grad).all()
    assert (pred.grad[invalid] == 0).all()
    if name not in ("grad", "jg"):  # grad silences pixels next to a hole; jg signs can cancel
        assert (pred.grad[~invalid] != 0).all()


@pytest.mark.parametrize("name", ["grad", "jg"])
def test_valid_pixel_with_invalid_neighbourhood_gets_zero_gradient(name):
    gt = _random_depth(shape=(1, 1, 12, 12), seed=5)
    gt[0, 0, 2:7, 2:7] = 0.0
    gt[0, 0, 4, 4] = 2.0  # valid, isolated inside a hole
    pred = _random_depth(shape=(1, 1, 12, 12), seed=6).requires_grad_(True)
    _run(name, pred, gt)["total"].backward()
    assert pred.grad[0, 0, 4, 4] == 0
    assert pred.grad[0, 0, 10, 10] != 0


@pytest.mark.parametrize("name", DEPTH_LOSSES)
@pytest.mark.parametrize("fill", [0.0, float("nan"), -1.0])
def test_all_invalid_batch_gives_zero_with_grad_fn(name, fill):
    gt = torch.full((2, 1, 5, 6), fill)
    pred = _random_depth(shape=(2, 1, 5, 6)).requires_grad_(True)
    out = _run(name, pred, gt)
    assert out["total"].item() == 0.0
    assert out["total"].grad_fn is not None
    out["total"].backward()
    assert (pred.grad == 0).all()


def test_l1_and_l2_hand_values():
    gt = _row(2.0, 3.0, 4.0, 0.0)
    pred = _row(3.0, 1.0, 7.0, 9.0)  # residuals 1, -2, 3 and one invalid pixel
    assert _run("l1", pred, gt)["l1"].item() == pytest.approx(2.0)
    assert _run("l2", pred, gt)["l2"].item() == pytest.approx(14.0 / 3.0)


def test_berhu_is_l1_below_c_and_quadratic_above():
    gt = _row(1.0, 1.0, 1.0, 1.0)
    pred = gt + _row(0.1, -0.5, 1.0, 5.0)  # c = 0.2 * 5 = 1
    # |x| for 0.1, 0.5 and 1.0 (= c); (25 + 1) / 2 = 13 for 5
    assert _run("berhu", pred, gt)["berhu"].item() == pytest.approx((0.1 + 0.5 + 1.0 + 13.0) / 4)


def test_berhu_c_comes_from_valid_pixels_only():
    gt = _row(1.0, 1.0, 0.0)
    pred = _row(1.5, 3.0, 100.0)  # c = 0.2 * 2 = 0.4 (the invalid residual 100 is ignored)
    expected = ((0.25 + 0.16) / 0.8 + (4 + 0.16) / 0.8) / 2
    assert _run("berhu", pred, gt)["berhu"].item() == pytest.approx(expected)


def test_berhu_gradient_is_sign_below_c_and_x_over_c_above():
    gt = _row(1.0, 1.0, 1.0)
    pred = (gt + _row(0.5, -0.2, 5.0)).requires_grad_(True)  # c = 1
    _run("berhu", pred, gt)["total"].backward()
    assert torch.allclose(pred.grad.flatten(), torch.tensor([1.0, -1.0, 5.0], dtype=torch.float64) / 3)


def test_si_hand_value():
    gt = _row(1.0, 2.0, 3.0, 4.0)
    pred = gt * torch.exp(_row(1.0, -1.0, 0.0, 2.0))  # d = 1, -1, 0, 2
    # mean(d^2) = 1.5, mean(d) = 0.5 -> 1.5 - 0.5 * 0.25
    assert _run("si", pred, gt)["si"].item() == pytest.approx(1.375)
    assert _run("si", pred, gt, lam=0.0)["si"].item() == pytest.approx(1.5)


def test_si_is_scale_invariant_with_lambda_one():
    gt, pred = _random_depth(seed=7), _random_depth(seed=8)
    base = _run("si", pred, gt, lam=1.0)["si"].item()
    assert base > 0.01
    assert _run("si", pred * 3.7, gt, lam=1.0)["si"].item() == pytest.approx(base, rel=1e-5)
    assert _run("si", pred * 3.7, gt, lam=0.5)["si"].item() != pytest.approx(
        _run("si", pred, gt, lam=0.5)["si"].item(), rel=1e-3)


def test_si_averages_over_images_and_skips_empty_ones():
    gt, pred = _random_depth(seed=9), _random_depth(seed=10)
    first = _run("si", pred[:1], gt[:1])["si"]
    both = _run("si", pred, gt)["si"]
    second = _run("si", pred[1:], gt[1:])["si"]
    assert both.item() == pytest.approx((first.item() + second.item()) / 2, rel=1e-6)
    gt_empty = gt.clone()
    gt_empty[1] = 0
    assert _run("si", pred, gt_empty)["si"].item() == pytest.approx(first.item(), rel=1e-6)


def test_si_clamps_non_positive_prediction():
    gt = _row(1.0, 2.0)
    pred = _row(-1.0, 2.0)  # clamped to 1e-3: d = ln 1e-3, 0
    d = math.log(1e-3)
    assert _run("si", pred, gt, lam=0.5)["si"].item() == pytest.approx(d * d / 2 - 0.5 * (d / 2) ** 2)


def test_grad_hand_value_on_ramp():
    cols = torch.arange(6, dtype=torch.float64) + 1.0
    gt = cols.view(1, 1, 1, 6).expand(1, 1, 5, 6).clone()  # slope 1 m/px in x
    pred = torch.full_like(gt, 2.0)
    # Sobel_x of a unit ramp = (1 + 2 + 1) * (d[x-1] - d[x+1]) = -8; Sobel_y = 0
    out = _run("grad", pred, gt, weight=2.0)
    assert out["grad"].item() == pytest.approx(8.0)
    assert out["total"].item() == pytest.approx(16.0)


def test_grad_matches_independent_sobel_on_counted_pixels():
    gt, pred = _random_depth(seed=11, dtype=torch.float64), _random_depth(seed=12, dtype=torch.float64)
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=torch.float64)
    k = torch.stack([kx, kx.t()]).unsqueeze(1)
    expected = (F.conv2d(pred, k) - F.conv2d(gt, k)).abs().sum(dim=1).mean()
    assert _run("grad", pred, gt)["grad"].item() == pytest.approx(expected.item())


def test_da_hand_value_and_detached_weights():
    gt = _row(2.0, 8.0)
    pred = (gt + 0.5).requires_grad_(True)
    w_near = 2 / 10 + 1 - math.log(3) / math.log(3.5)
    w_far = 8 / 10 + 1 - math.log(9) / math.log(9.5)
    out = _run("da", pred, gt)
    assert out["da"].item() == pytest.approx((w_near + w_far) * 0.5 / 2)
    out["total"].backward()
    # weights are constants (J8): the gradient is weight * sign(residual) / N
    assert pred.grad.flatten().tolist() == pytest.approx([w_near / 2, w_far / 2])


def test_da_weights_far_pixels_more():
    gt = _row(2.0, 8.0, dtype=torch.float32)
    pred = (gt - 0.5).requires_grad_(True)
    _run("da", pred, gt)["total"].backward()
    near, far = pred.grad.abs().flatten().tolist()
    assert far > near * 2
    l1_pred = (gt - 0.5).requires_grad_(True)
    _run("l1", l1_pred, gt)["total"].backward()
    assert l1_pred.grad[0, 0, 0, 0] == l1_pred.grad[0, 0, 0, 1]


def test_da_image_max_normaliser_and_berhu_base():
    gt = _row(2.0, 8.0)
    pred = gt + _row(0.5, 0.1)
    lam = [1 - math.log(3) / math.log(3.5), 1 - math.log(9) / math.log(9.1)]
    w = [2 / 8 + lam[0], 8 / 8 + lam[1]]
    out = _run("da", pred, gt, normaliser="image_max")
    assert out["da"].item() == pytest.approx((w[0] * 0.5 + w[1] * 0.1) / 2)
    # berHu: c = 0.1, so 0.5 is quadratic: (0.25 + 0.01) / 0.2 = 1.3; 0.1 = c is linear
    out = _run("da", pred, gt, normaliser="image_max", base="berhu")
    assert out["da"].item() == pytest.approx((w[0] * 1.3 + w[1] * 0.1) / 2)


def test_da_lambda_guard_below_one_metre():
    gt = _row(0.5, 0.3)
    pred = _row(0.2, -0.4)  # second prediction is negative: clamped to 0 for lambda -> lambda = 1
    lam0 = 1 - math.log1p(0.2) / math.log1p(0.5)
    expected = ((0.05 + lam0) * 0.3 + (0.03 + 1.0) * 0.7) / 2
    assert _run("da", pred, gt)["da"].item() == pytest.approx(expected)


def test_jg_hand_value():
    gt = torch.ones(1, 1, 4, 5, dtype=torch.float64)
    rows = torch.arange(4, dtype=torch.float64).view(1, 1, 4, 1)
    cols = torch.arange(5, dtype=torch.float64).view(1, 1, 1, 5)
    pred = gt + 0.1 * cols + 0.3 * rows
    assert _run("jg", pred, gt)["jg"].item() == pytest.approx(0.4)
    gt_holes = gt.clone()
    gt_holes[0, 0, :, 2] = 0  # no horizontal pair left in columns 1-3; vertical pairs remain
    pred_holes = pred.clone()
    pred_holes[0, 0, :, 2] = 50.0
    assert _run("jg", pred_holes, gt_holes)["jg"].item() == pytest.approx(0.4)


def _gradcheck(name, pred, gt, **options):
    loss = build(name, **options)
    return torch.autograd.gradcheck(lambda p: loss({"depth": p}, {"depth": gt})["total"], (pred,))


@pytest.mark.parametrize("name", ["l1", "l2", "si", "jg", "grad"])
def test_gradcheck(name):
    gt = _with_holes(_random_depth(shape=(2, 1, 5, 6), seed=13, dtype=torch.float64))
    pred = _random_depth(shape=(2, 1, 5, 6), seed=14, dtype=torch.float64).requires_grad_(True)
    assert _gradcheck(name, pred, gt)


def test_gradcheck_berhu_with_fixed_threshold_pixel():
    gt = _random_depth(shape=(1, 1, 3, 4), seed=15, dtype=torch.float64)
    gt[0, 0, 0, 0] = float("nan")
    free = (gt.flatten()[2:] + torch.linspace(-1.5, 1.5, 10, dtype=torch.float64)).requires_grad_(True)
    anchor = gt.flatten()[1:2] + 10.0  # largest residual: c = 2, the free residuals stay off c
    loss = build("berhu")

    def f(x):
        pred = torch.cat([torch.ones(1, dtype=torch.float64), anchor, x]).view_as(gt)
        return loss({"depth": pred}, {"depth": gt})["total"]

    assert torch.autograd.gradcheck(f, (free,))
