"""The NYU-Depth V2 path: 480x640 evaluation, the papers' augmentations, the CLIFFNet training set,
the evaluation resolution in run.json, and the metric/optimiser details pinned by Decisions D8-D10."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from depthstudy import results
from depthstudy.data.bts import write_sync_fixture
from depthstudy.data.factory import (
    SYNC_IMAGES,
    SYNC_LIST,
    SyncFrames,
    build_dataset,
    evaluation_resolution,
)
from depthstudy.data.nyu_fixture import write_fixture_root
from depthstudy.data.nyuv2 import NYUv2Labeled
from depthstudy.data.transforms import (
    CLIFFNET_CROP,
    ColorJitter,
    ResizeShortSide,
    cliffnet_augmentation,
    jiao_augmentation,
)
from depthstudy.engine import evaluate
from depthstudy.engine.optim import build_optimizer
from depthstudy.metrics import depth_metrics, get_protocol
from depthstudy.profiles import get_profile
from depthstudy.studies.cliffnet import item_scenes, network_resolution_test_set

H, W = 480, 640


@pytest.fixture(scope="module")
def nyu_root(tmp_path_factory):
    """A real-layout labeled NYU folder at 480x640 with 16 images (8 train, 8 test)."""
    root = tmp_path_factory.mktemp("nyu480")
    return write_fixture_root(root, n_images=16, height=H, width=W)


def _nyu(content, **overrides):
    return get_profile("nyu", nyu_root=str(content["root"]), nyu_sync_root="", **overrides)


# ---------------------------------------------------------------------------------------------
# test set and evaluation at 480x640 (Decisions D1, D2, D7)


def test_nyu_test_set_keeps_480x640_ground_truth(nyu_root):
    test = build_dataset(_nyu(nyu_root), "test")
    raw = NYUv2Labeled(nyu_root["root"], split="test")
    s, r = test[0], raw[0]
    assert s["image"].shape == (3, 228, 304) and s["semantic"].shape == (228, 304)
    assert s["depth"].shape == (1, H, W) and s["raw_depth"].shape == (1, H, W)
    assert torch.equal(s["depth"], r["depth"]) and torch.equal(s["raw_depth"], r["raw_depth"])
    # labels resized nearest only: no value outside the original label set
    assert set(s["semantic"].unique().tolist()) <= set(r["semantic"].unique().tolist())


class _Constant(torch.nn.Module):
    """Predicts ``value`` metres everywhere at the network resolution of its input."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, image):
        return {"depth": torch.full((image.shape[0], 1, *image.shape[-2:]), self.value) + 0 * self.anchor}


def test_eigen_crop_is_applied_at_480x640(nyu_root):
    test = build_dataset(_nyu(nyu_root), "test")
    result = evaluate(_Constant(2.0), test, protocol="eigen", progress=False, device="cpu")
    top, bottom, left, right = get_protocol("eigen").crop
    # the fixture's depth is hole-free within (0, 10] m: every pixel of the 440x592 window counts
    assert set(result.per_image["n_valid"]) == {(bottom - top) * (right - left)}
    gt = torch.stack([test[i]["depth"] for i in range(2)])
    changed = gt.clone()
    changed[..., :top, :] = 9.0
    changed[..., bottom:, :] = 9.0
    changed[..., :, :left] = 9.0
    changed[..., :, right:] = 0.5
    assert depth_metrics(changed, gt, protocol="eigen") == depth_metrics(gt, gt, protocol="eigen")
    inside = gt.clone()
    inside[..., top, left] += 1.0
    assert depth_metrics(inside, gt, protocol="eigen")["abs_rel"] > 0


def test_cliffnet_protocol_stays_at_network_resolution(nyu_root):
    test = build_dataset(_nyu(nyu_root), "test")
    result = evaluate(_Constant(2.0), test, protocol="cliffnet", progress=False, device="cpu")
    assert set(result.per_image["n_valid"]) == {228 * 304}


def test_network_resolution_test_set_resizes_ground_truth(nyu_root):
    s = network_resolution_test_set(_nyu(nyu_root))[0]
    assert s["depth"].shape == (1, 228, 304) and s["raw_depth"].shape == (1, 228, 304)
    assert s["image"].shape == (3, 228, 304) and s["semantic"].shape == (228, 304)
    # raw depth resized nearest: holes stay exact zeros, no blended values
    raw = NYUv2Labeled(nyu_root["root"], split="test")[0]["raw_depth"]
    assert set(s["raw_depth"].unique().tolist()) <= set(raw.unique().tolist())


def test_evaluation_resolution_is_recorded(tmp_path):
    nyu = get_profile("nyu")
    assert evaluation_resolution(nyu, "eigen") == {"input": "228x304", "depth": "480x640", "semantic": "228x304"}
    assert evaluation_resolution(nyu, "bts")["depth"] == "480x640"
    assert evaluation_resolution(nyu, "cliffnet")["depth"] == "228x304"
    assert evaluation_resolution(get_profile("cpu"), "synthetic")["depth"] == "48x64"
    writer = results.StudyWriter("loss_comparison", "smoke", root=tmp_path, dataset="synthrooms",
                                 protocol="synthetic", params={})
    writer.add("l1", 0, {"rmse": 1.0}, n_images=3)
    run = json.loads(writer.finish()["run"].read_text())
    assert run["evaluation_resolution"] == {"input": "48x64", "depth": "48x64", "semantic": "48x64"}


# ---------------------------------------------------------------------------------------------
# augmentations (Decisions D3, D4)


def _asymmetric(h: int = H, w: int = W) -> dict:
    """Maps encoding their own coordinates: depth = 1 + row / 100 + col / 1000, labels = col % 7."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    depth = (1 + yy / 100 + xx / 1000)[None]
    image = torch.stack([yy / h, xx / w, torch.full_like(yy, 0.5)])
    return {"image": image, "depth": depth, "raw_depth": depth.clone(),
            "semantic": (xx.long() % 7), "index": 0}


def test_cliffnet_augmentation_geometry():
    s = _asymmetric()
    seen = set()
    for seed in range(12):
        out = cliffnet_augmentation(228, generator=seed)(s)
        assert out["image"].shape == (3, 228, 304) and out["depth"].shape == (1, 228, 304)
        assert out["semantic"].shape == (228, 304) and out["raw_depth"].shape == (1, 228, 304)
        flipped = bool(out["depth"][0, 0, 0] > out["depth"][0, 0, -1])
        seen.add(flipped)
        d = out["depth"][0].flip(-1) if flipped else out["depth"][0]
        # crop rows 12..467, cols 16..623; 2x bilinear down = mean of 2x2 blocks (half-pixel centres)
        assert d[0, 0].item() == pytest.approx(1 + 12.5 / 100 + 16.5 / 1000, abs=1e-5)
        assert d[-1, -1].item() == pytest.approx(1 + 466.5 / 100 + 622.5 / 1000, abs=1e-5)
        # the flip pairs image, depth, raw depth and labels
        sem = out["semantic"].flip(-1) if flipped else out["semantic"]
        img_cols = out["image"][1].flip(-1) if flipped else out["image"][1]
        raw = out["raw_depth"][0].flip(-1) if flipped else out["raw_depth"][0]
        assert sem[0, 0].item() == (16 + 1) % 7  # nearest-exact at 2x: source col 2j+1 of the crop
        assert raw[0, 0].item() == pytest.approx(1 + 13 / 100 + 17 / 1000, abs=1e-6)
        assert img_cols[0, 0] < img_cols[0, -1]
    assert seen == {True, False}
    assert CLIFFNET_CROP == (456, 608)


def test_resize_short_side_keeps_aspect():
    out = ResizeShortSide(228)({"depth": torch.ones(1, 456, 608), "semantic": torch.zeros(456, 608, dtype=torch.long)})
    assert out["depth"].shape == (1, 228, 304) and out["semantic"].dtype == torch.int64
    with pytest.raises(ValueError, match="ResizeShortSide"):
        ResizeShortSide(0)


def test_color_jitter_touches_rgb_only():
    s = _asymmetric(48, 64)
    out = ColorJitter(0.4, 0.4, 0.4, generator=3)(s)
    assert not torch.equal(out["image"], s["image"])
    for key in ("depth", "raw_depth", "semantic"):
        assert out[key] is s[key]


def test_jiao_augmentation_flips_full_frame_without_jitter():
    s = _asymmetric()
    outs = [jiao_augmentation(228, 304, generator=seed)(s) for seed in range(8)]
    plain = [o for o in outs if o["depth"][0, 0, 0] < o["depth"][0, 0, -1]]
    flips = [o for o in outs if o["depth"][0, 0, 0] > o["depth"][0, 0, -1]]
    assert plain and flips
    assert torch.equal(flips[0]["image"], plain[0]["image"].flip(-1))
    assert torch.equal(flips[0]["semantic"], plain[0]["semantic"].flip(-1))
    # full frame, no crop: the first output row averages source rows around 0.55 (scale 0.475)
    assert plain[0]["depth"][0, 0, 0].item() < 1.01


# ---------------------------------------------------------------------------------------------
# training sets by family (Decisions D4-D6)


def test_train_sets_by_family_on_labeled_fallback(nyu_root):
    prof = _nyu(nyu_root)
    jiao = build_dataset(prof, "train")
    cliff = build_dataset(prof, "train", family="cliffnet")
    assert isinstance(jiao, NYUv2Labeled) and isinstance(cliff, NYUv2Labeled)
    assert len(jiao) == len(cliff) == len(nyu_root["train"])
    assert cliff[0]["depth"].shape == jiao[0]["depth"].shape == (1, 228, 304)
    with pytest.raises(ValueError, match="family"):
        build_dataset(prof, "train", family="dorn")


@pytest.fixture(scope="module")
def sync_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sync")
    write_sync_fixture(root / SYNC_IMAGES, n_scenes=4, frames=3, height=H, width=W,
                       list_name=f"../{SYNC_LIST}")
    return root


def test_cliffnet_trains_on_sampled_sync_frames(nyu_root, sync_root):
    prof = _nyu(nyu_root).replace(nyu_sync_root=str(sync_root), nyu_train_frames=5)
    train = build_dataset(prof, "train", family="cliffnet")
    again = build_dataset(prof, "train", family="cliffnet")
    assert isinstance(train, SyncFrames) and len(train) == 5
    assert train.indices == again.indices == sorted(train.indices)
    assert len(set(train.indices)) == 5
    sample = train[0]
    assert sample["image"].shape == (3, 228, 304) and sample["depth"].shape == (1, 228, 304)
    # HEGs read the scene of every frame without loading it; a/b parts are one scene instance
    scenes = item_scenes(train)
    assert scenes == [train.sync.scene_ids[train.sync.scene_of(i)[0]] for i in train.indices]
    assert train.sync.scene_names == ["bedroom_0002", "kitchen_0001"]
    whole = build_dataset(prof.replace(nyu_train_frames=40000), "train", family="cliffnet")
    assert whole.indices == list(range(12))
    # the Jiao studies keep the labeled 795 even when the sync folder is given
    assert isinstance(build_dataset(prof, "train"), NYUv2Labeled)
    with pytest.raises(ValueError, match="nyu_train_frames"):
        build_dataset(prof.replace(nyu_train_frames=0), "train", family="cliffnet")


# ---------------------------------------------------------------------------------------------
# metric and optimiser details vs the authors' code (Decisions D8-D10; D8, D9 in test_metrics.py)


def test_adam_adds_eps_after_bias_correction():
    """Decision D10: torch's Adam, eps added to sqrt(v_hat); the authors add it to sqrt(v) before
    the bias-correction rescale, i.e. an effective eps / sqrt(1 - beta2^t) (31.6x at step 1)."""
    p = torch.nn.Parameter(torch.zeros(1))
    model = torch.nn.Module()
    model.register_parameter("bias", p)
    opt = build_optimizer(model, lr=1.0, weight_decay=0.0)
    g = 1e-7
    p.grad = torch.full((1,), g)
    opt.step()
    ours = -g / (g + 1e-8)
    authors = -g / (g + 1e-8 / np.sqrt(1 - 0.999))
    assert p.item() == pytest.approx(ours, rel=1e-5)
    assert abs(p.item() - authors) > 0.5

