"""Loss gradients w.r.t. the predicted depth (CLIFFNet Fig. 3 analysis)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from depthstudy import losses
from depthstudy.analysis import gradients
from depthstudy.models.heg import random_heg


def test_l1_gradient_is_sign_over_valid_count():
    pred = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    gt = torch.tensor([[2.0, 2.0], [2.0, 0.0]])  # last pixel invalid; [1,0] has zero residual
    maps = gradients.loss_gradients(pred, gt, {"L1": losses.build("l1")})
    np.testing.assert_allclose(maps["L1"], [[-1 / 3, 1 / 3], [0.0, 0.0]], atol=1e-7)


def test_heg_term_matches_finite_difference():
    torch.manual_seed(0)
    heg = random_heg("s", seed=1)
    gt = 1.0 + 3.0 * torch.rand(1, 1, 12, 12)
    pred = gt + 0.3 * torch.randn(1, 1, 12, 12)
    term = gradients.heg_term(heg, 2)
    g = gradients.loss_gradients(pred, gt, {"t": term})["t"]
    eps = 1e-3
    for (i, j) in [(3, 4), (7, 9)]:
        up, down = pred.clone(), pred.clone()
        up[0, 0, i, j] += eps
        down[0, 0, i, j] -= eps
        numeric = (float(term({"depth": up}, {"depth": gt})["total"])
                   - float(term({"depth": down}, {"depth": gt})["total"])) / (2 * eps)
        assert g[i, j] == pytest.approx(numeric, rel=0.05, abs=1e-6)


def test_fig3_losses_names_shapes_and_mode():
    heg = random_heg("s", seed=0)
    fns = gradients.fig3_losses(heg, random_heg("s", seed=1))
    assert list(fns) == ["L1", "DA", "Grad", "HEG-Rn2", "HEG-Rn4", "HEG-S2", "HEG-S4"]
    gt = 1.0 + torch.rand(1, 10, 14)
    maps = gradients.loss_gradients(gt + 0.1, gt, fns)
    assert all(m.shape == (10, 14) and np.isfinite(m).all() for m in maps.values())
    l1 = maps["L1"]
    np.testing.assert_allclose(l1, np.full((10, 14), 1 / 140), rtol=1e-5)  # uniform for a constant offset
    with pytest.raises(ValueError, match="differ in size"):
        gradients.loss_gradients(torch.ones(4, 4), torch.ones(5, 4), fns)


def test_normalise_concentration_and_shared_scale():
    maps = {"u": np.ones((10, 10)), "spike": np.zeros((10, 10)), "z": np.zeros((4, 4))}
    maps["spike"][0, 0] = -5.0
    norm = gradients.normalise(maps)
    assert norm["u"].mean() == pytest.approx(1.0) and norm["spike"].max() == pytest.approx(100.0)
    assert not norm["z"].any()
    share = gradients.concentration({"u": maps["u"], "spike": maps["spike"]}, fraction=0.1)
    assert share["u"] == pytest.approx(0.1) and share["spike"] == pytest.approx(1.0)
    fig = gradients.gradient_grid({"a": np.ones((6, 8)), "b": 2 * np.eye(6, 8)}, columns=2,
                                  extra={"depth": np.ones((6, 8))})
    images = [ax.images[0] for ax in fig.axes if ax.images][1:]  # gradient panels only
    assert len(images) == 2 and len({im.get_clim() for im in images}) == 1
    with pytest.raises(ValueError, match="mode"):
        gradients.normalise(maps, mode="max")
