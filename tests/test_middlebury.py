"""Middlebury Motorcycle depth from scikit-image: calibration, holes, the stand-in prediction."""

import math

import numpy as np
import pytest
import torch

from depthstudy.data import middlebury as mb


def test_disparity_to_depth_formula_and_holes():
    d = np.array([[10.0, np.nan], [-40.0, 0.0]], dtype=np.float32)
    depth = mb.disparity_to_depth(d)
    fb = 994.978 * 0.193001
    assert depth[0, 0] == pytest.approx(fb / 41.086, rel=1e-6)
    assert depth[1, 1] == pytest.approx(fb / 31.086, rel=1e-6)
    assert depth[0, 1] == 0.0 and depth[1, 0] == 0.0  # NaN and d + doffs <= 0 are holes


def test_motorcycle_depth_matches_published_ranges():
    pytest.importorskip("skimage")
    sample = mb.motorcycle_depth()
    image, depth = sample["image"], sample["depth"]
    assert tuple(image.shape) == (3, 500, 741) and tuple(depth.shape) == (1, 500, 741)
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    valid = depth > 0
    # Motorcycle at quarter size: disparity 7.19-59.9 px, 27,226 NaN holes -> depth about 2.1-5.0 m
    assert int((~valid).sum()) == 27226
    assert float(depth[valid].min()) == pytest.approx(994.978 * 0.193001 / (59.9 + 31.086), rel=2e-3)
    assert float(depth[valid].max()) == pytest.approx(994.978 * 0.193001 / (7.19 + 31.086), rel=2e-3)


def test_perturbed_prediction_blur_noise_and_errors():
    flat = torch.full((1, 12, 10), 3.0)
    flat[0, 2, 2] = 0.0  # a hole is filled with the median (3 m)
    out = mb.perturbed_prediction(flat, sigma_px=1.5, noise_m=0.0)
    assert torch.allclose(out, torch.full_like(out, 3.0), atol=1e-5)
    step = torch.ones(1, 8, 16)
    step[..., 8:] = 5.0
    blurred = mb.perturbed_prediction(step, sigma_px=2.0, noise_m=0.0)
    assert 1.0 < float(blurred[0, 4, 7]) < 3.0 < float(blurred[0, 4, 8]) < 5.0  # edge softened, symmetric
    a, b = (mb.perturbed_prediction(step, noise_m=0.1, seed=3) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, mb.perturbed_prediction(step, noise_m=0.1, seed=4))
    assert math.isclose(float((a - blurred).std()), 0.1, rel_tol=0.35)
    with pytest.raises(ValueError, match="depth must be"):
        mb.perturbed_prediction(torch.ones(8, 8))
    with pytest.raises(ValueError, match="no valid"):
        mb.perturbed_prediction(torch.zeros(1, 8, 8))
