"""Sample-dict transforms: shapes, interpolation modes, exact crops, consistent flips, colour jitter."""

from __future__ import annotations

import pytest
import torch

from depthstudy.data.sample import check_sample
from depthstudy.data.transforms import CenterCrop, ColorJitter, Compose, RandomHorizontalFlip, Resize


def _sample(h: int = 6, w: int = 8) -> dict:
    g = torch.Generator().manual_seed(0)
    depth = torch.arange(h * w, dtype=torch.float32).reshape(1, h, w) / 10 + 1
    raw = depth.clone()
    raw[0, 1:3, 2:5] = 0.0
    sem = torch.randint(0, 5, (h, w), generator=g)
    sem[0, 0] = 255
    return {"image": torch.rand(3, h, w, generator=g), "depth": depth, "raw_depth": raw, "semantic": sem,
            "scene": 3, "scene_name": "office_0003", "scene_type": "office", "index": 7}


def test_resize_shapes_and_modes():
    s = _sample()
    out = Resize(3, 4)(s)
    check_sample(out)
    assert out["image"].shape == (3, 3, 4) and out["semantic"].shape == (3, 4)
    assert out["scene_name"] == "office_0003" and out["index"] == 7
    # Bilinear, half-pixel centres, 2x down: each output is the mean of its 2x2 block.
    d = s["depth"][0]
    assert out["depth"][0, 0, 0].item() == pytest.approx(d[:2, :2].mean().item(), abs=1e-6)
    assert out["depth"][0, 2, 3].item() == pytest.approx(d[4:6, 6:8].mean().item(), abs=1e-6)
    # Nearest keeps labels (including 255) and raw values exact: holes stay exact zeros, no smearing.
    assert set(out["semantic"].unique().tolist()) <= set(s["semantic"].unique().tolist())
    assert set(out["raw_depth"].unique().tolist()) <= set(s["raw_depth"].unique().tolist())
    up = Resize(12, 16)(s)
    assert (up["raw_depth"] == 0).sum().item() == 4 * (s["raw_depth"] == 0).sum().item()
    assert up["semantic"].dtype == torch.int64 and up["semantic"][0, 0].item() == 255


def test_center_crop_exact_window():
    s = _sample(5, 7)
    out = CenterCrop(2, 3)(s)
    top, left = (5 - 2) // 2, (7 - 3) // 2
    for key in ("image", "depth", "raw_depth", "semantic"):
        torch.testing.assert_close(out[key], s[key][..., top:top + 2, left:left + 3])
    check_sample(out)
    with pytest.raises(ValueError, match="larger"):
        CenterCrop(6, 7)(s)


def test_flip_flips_every_map_together():
    s = _sample()
    out = RandomHorizontalFlip(p=1.0)(s)
    for key in ("image", "depth", "raw_depth", "semantic"):
        torch.testing.assert_close(out[key], torch.flip(s[key], dims=[-1]))
    assert out["depth"][0, 0, 0].item() == s["depth"][0, 0, -1].item()
    same = RandomHorizontalFlip(p=0.0)(s)
    for key in ("image", "depth", "raw_depth", "semantic"):
        assert torch.equal(same[key], s[key])


def test_flip_is_deterministic_given_seed():
    def decisions(seed):
        flip = RandomHorizontalFlip(0.5, generator=seed)
        s = _sample()
        return [not torch.equal(flip(s)["depth"], s["depth"]) for _ in range(40)]

    a = decisions(5)
    assert a == decisions(5)
    assert 8 < sum(a) < 32
    assert a != decisions(6)


def test_color_jitter_image_only_and_deterministic():
    s = _sample()
    out = ColorJitter(0.4, 0.4, 0.4, generator=1)(s)
    assert not torch.equal(out["image"], s["image"])
    assert 0 <= out["image"].min() and out["image"].max() <= 1
    for key in ("depth", "raw_depth", "semantic"):
        assert out[key] is s[key]
    torch.testing.assert_close(ColorJitter(0.4, 0.4, 0.4, generator=1)(s)["image"], out["image"])
    assert torch.equal(ColorJitter()(s)["image"], s["image"])                # zero strength: identity


def test_color_jitter_factors():
    grey = {"image": torch.full((3, 2, 2), 0.5)}
    # Saturation and contrast leave a uniform grey image unchanged; brightness scales it.
    torch.testing.assert_close(ColorJitter(0, 0.9, 0.9, generator=0)(grey)["image"], grey["image"])
    g = torch.Generator().manual_seed(3)
    torch.randperm(3, generator=g)
    u = torch.rand(3, generator=g).tolist()
    factor = 0.6 + u[0] * 0.8
    out = ColorJitter(brightness=0.4, generator=3)(grey)["image"]
    torch.testing.assert_close(out, torch.full((3, 2, 2), 0.5 * factor))


def test_compose_and_errors():
    s = _sample(6, 8)
    out = Compose([CenterCrop(4, 6), Resize(2, 3), RandomHorizontalFlip(1.0)])(s)
    assert out["image"].shape == (3, 2, 3)
    check_sample(out)
    with pytest.raises(ValueError, match="height"):
        Resize(0, 4)
    with pytest.raises(ValueError, match="p="):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="generator"):
        RandomHorizontalFlip(0.5, generator="seed")
    with pytest.raises(ValueError, match="brightness"):
        ColorJitter(brightness=-1)
