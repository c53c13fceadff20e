"""depthstudy.analysis.attention: A(T), normalisation, feature collection, figure."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from depthstudy import models
from depthstudy.analysis import attention


def test_attention_map_sums_absolute_channels():
    t = torch.tensor([[[1.0, -2.0]], [[-3.0, 0.5]]])  # [C=2, H=1, W=2]
    assert torch.allclose(attention.attention_map(t), torch.tensor([[4.0, 2.5]]))
    batch = torch.stack([t, 2 * t])
    assert torch.allclose(attention.attention_map(batch), torch.tensor([[[4.0, 2.5]], [[8.0, 5.0]]]))
    with pytest.raises(ValueError, match="activation"):
        attention.attention_map(torch.ones(2, 2))


def test_normalise_maps_per_image():
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[7.0, 7.0], [7.0, 7.0]]])
    norm = attention.normalise_maps(maps)
    assert torch.allclose(norm[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.equal(norm[1], torch.zeros(2, 2))  # constant map -> 0


def test_collect_features_from_synergy_and_hooks():
    net = models.build("synergy", classes=4, backbone_depth=18, backbone_width=0.25)
    images = torch.rand(2, 3, 32, 32)
    feats = attention.collect_features(net, images)
    assert set(feats) == set(attention.SYNERGY_LAYERS)
    assert feats["depth_up1"].shape[0] == 2 and net.training  # mode restored
    hooked = attention.collect_activations(net, images, {"depth_up1": "depth_branch.up.0"})
    assert torch.allclose(hooked["depth_up1"], feats["depth_up1"], atol=1e-5)
    assert not net.depth_branch.up[0]._forward_hooks  # hooks removed
    with pytest.raises(KeyError, match="no_such"):
        attention.collect_activations(net, images, {"x": "no_such"})
    with pytest.raises(KeyError, match="semantic_up9"):
        attention.collect_features(net, images, ["semantic_up9"])
    maps = attention.attention_maps(feats, size=(32, 32))
    assert maps["backbone"].shape == (2, 32, 32)
    assert float(maps["backbone"].min()) == 0.0 and float(maps["backbone"].max()) == pytest.approx(1.0)
    fig = attention.attention_grid(images, maps, titles=attention.SYNERGY_LAYERS)
    assert len(fig.axes) == 2 * 5 + 1  # panels and one colour bar (Decision X23)
    assert fig.axes[1].images[0].get_cmap().name == "viridis"
    assert "attention" in fig.axes[-1].get_ylabel()


def test_collect_features_needs_features_output():
    with pytest.raises(TypeError):
        attention.collect_features(torch.nn.Identity(), torch.rand(1, 3, 8, 8))


def test_depth_correlation_hand_computed():
    depth = torch.tensor([[[[1.0, 2.0], [3.0, 0.0]]], [[[1.0, 2.0], [3.0, 4.0]]]])  # one invalid pixel
    maps = torch.tensor([[[0.0, 0.5], [1.0, 9.0]], [[1.0, 0.5], [0.25, 0.0]]])
    corr = attention.depth_correlation(maps, depth)
    assert corr[0] == pytest.approx(1.0)  # linear in depth on the 3 valid pixels
    expected = torch.corrcoef(torch.stack([maps[1].flatten(), depth[1].flatten()]))[0, 1]
    assert corr[1] == pytest.approx(float(expected), abs=1e-6)
    assert torch.isnan(attention.depth_correlation(torch.ones(1, 2, 2), depth[:1]))[0]
