"""Fig. 2 helpers: the prediction-free image choice and the shared-scale prediction/error grid."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from depthstudy import viz


class scenes(SimpleNamespace):
    """A stand-in dataset: only ``scene_ids`` and a length."""

    def __init__(self, ids):
        super().__init__(scene_ids=list(ids))

    def __len__(self):
        return len(self.scene_ids)


def test_evenly_spaced_items_takes_first_view_of_quantile_scenes():
    # 5 scenes in first-appearance order 7, 3, 9, 1, 4 with 2 views each, the second scene interleaved
    data = scenes([7, 7, 3, 9, 3, 9, 1, 1, 4, 4])
    assert viz.evenly_spaced_items(data, 1) == [0]
    assert viz.evenly_spaced_items(data, 2) == [0, 8]
    assert viz.evenly_spaced_items(data, 3) == [0, 3, 8]
    assert viz.evenly_spaced_items(data, 5) == [0, 2, 3, 6, 8]
    for k in range(1, 6):
        picked = viz.evenly_spaced_items(data, k)
        assert len(set(picked)) == k and picked == sorted(picked)


def test_evenly_spaced_items_distinct_for_every_k_and_rejects_bad_k():
    data = scenes(np.repeat(np.arange(12), 3))
    for k in range(1, 13):
        picked = viz.evenly_spaced_items(data, k)
        assert len(set(picked)) == k and picked == sorted(picked) and all(i % 3 == 0 for i in picked)
    for bad in (0, -1, 13, 2.0, True):
        with pytest.raises(ValueError, match="k must"):
            viz.evenly_spaced_items(data, bad)
    with pytest.raises(ValueError, match="scene_ids"):
        viz.evenly_spaced_items(type("D", (), {"scene_ids": {"a": 0}, "__len__": lambda self: 3})(), 1)


def _inputs(n=2, h=8, w=10):
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(n, 3, h, w, generator=g)
    gt = 1 + 3 * torch.rand(n, 1, h, w, generator=g)
    gt[0, 0, 0, :] = 0  # invalid GT pixels
    preds = {"l1": gt + 0.5, "si": gt * 2, "heg_s": gt - 0.1}
    return rgb, gt, preds


def test_prediction_error_grid_layout_scales_and_rmse_titles():
    rgb, gt, preds = _inputs()
    fig = viz.prediction_error_grid(rgb, gt, preds, row_labels=["a", "b"], title="t")
    grid = [ax for ax in fig.axes if not ax.get_label().startswith("colorbar")]
    assert len(fig.axes) == len(grid) + 2  # one depth and one error colour bar
    assert len(grid) == 2 * 2 * (2 + len(preds))
    axes = np.array(grid).reshape(4, 5)
    assert [axes[0, c].get_title() for c in range(5)] == ["RGB", "depth (GT)", "l1", "si", "heg_s"]
    valid = gt[gt > 0].numpy()
    depth_clims = {axes[r, c].images[0].get_clim() for r in (0, 2) for c in range(1, 5)}
    assert len(depth_clims) == 1
    lo, hi = next(iter(depth_clims))
    assert lo == 0 and hi == pytest.approx(np.percentile(valid, 99), rel=1e-5)
    error_clims = {axes[r, c].images[0].get_clim() for r in (1, 3) for c in range(2, 5)}
    assert len(error_clims) == 1 and next(iter(error_clims))[0] == 0
    # the error panels: |pred - gt| on valid GT pixels and the image's RMSE in the title
    err = axes[1, 3].images[0].get_array()
    gt0 = gt[0, 0].numpy()
    np.testing.assert_allclose(np.asarray(err)[gt0 > 0], gt0[gt0 > 0], rtol=1e-6)
    assert np.isnan(np.asarray(err)[0]).all()
    rmse = float(np.sqrt(np.mean(gt0[gt0 > 0] ** 2)))
    assert axes[1, 3].get_title() == f"RMSE {rmse:.3f} m"
    assert axes[1, 2].get_title() == "RMSE 0.500 m"
    assert not axes[1, 0].axison and not axes[1, 1].axison
    plt.close(fig)


def test_prediction_error_grid_rejects_bad_shapes():
    rgb, gt, preds = _inputs()
    with pytest.raises(ValueError, match="rgb"):
        viz.prediction_error_grid(rgb[:, :1], gt, preds)
    with pytest.raises(ValueError, match="gt"):
        viz.prediction_error_grid(rgb, gt[:1], preds)
    with pytest.raises(ValueError, match=r"preds\['si'\]"):
        viz.prediction_error_grid(rgb, gt, {**preds, "si": gt[:, :, :4]})
    with pytest.raises(ValueError, match="preds"):
        viz.prediction_error_grid(rgb, gt, {})
