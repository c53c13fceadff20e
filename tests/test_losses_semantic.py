"""Semantic and scene losses: ce, focal, scene_ce."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from depthstudy.losses import build


def _semantic_batch(seed=0, classes=5, shape=(2, 4, 6), dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    b, h, w = shape
    logits = torch.randn(b, classes, h, w, generator=g, dtype=dtype) * 2
    target = torch.randint(0, classes, shape, generator=g)
    target[0, 0, :3] = 255
    target[-1, -1, -1] = 255
    return logits, target


def _run(name, logits, target, **options):
    return build(name, **options)({"semantic": logits}, {"semantic": target})


def test_ce_matches_torch_with_ignore_index():
    logits, target = _semantic_batch()
    out = _run("ce", logits, target)
    assert set(out) == {"total", "ce"}
    expected = F.cross_entropy(logits, target, ignore_index=255)
    assert out["ce"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_ce_class_weights_match_torch():
    logits, target = _semantic_batch(seed=1)
    weights = [0.5, 2.0, 1.0, 0.1, 3.0]
    out = _run("ce", logits, target, class_weights=weights)
    expected = F.cross_entropy(logits, target, weight=torch.tensor(weights), ignore_index=255)
    assert out["ce"].item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="class_weights has 2 entries"):
        _run("ce", logits, target, class_weights=[1.0, 2.0])


def test_ce_hand_value():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]]).T.reshape(1, 2, 1, 2)  # pixel 0: (2, 0); pixel 1: (0, 0)
    target = torch.tensor([[[0, 1]]])
    expected = (math.log(1 + math.exp(-2)) + math.log(2)) / 2
    assert _run("ce", logits, target)["ce"].item() == pytest.approx(expected)


def test_focal_with_gamma_zero_alpha_one_equals_ce():
    logits, target = _semantic_batch(seed=2)
    focal = _run("focal", logits, target, alpha=1.0, gamma=0.0)["focal"]
    ce = _run("ce", logits, target)["ce"]
    assert focal.item() == pytest.approx(ce.item(), rel=1e-6)


def test_focal_hand_value_and_easy_pixels_down_weighted():
    # two classes; pixel 0 easy (p_t = 0.9), pixel 1 hard (p_t = 0.5)
    easy = math.log(0.9 / 0.1)
    logits = torch.tensor([[easy, 0.0], [0.0, 0.0]]).T.reshape(1, 2, 1, 2)
    target = torch.tensor([[[0, 0]]])
    terms = [-0.25 * 0.1 ** 2 * math.log(0.9), -0.25 * 0.5 ** 2 * math.log(0.5)]
    out = _run("focal", logits, target)
    assert out["focal"].item() == pytest.approx(sum(terms) / 2, rel=1e-5)
    ce_terms = [-math.log(0.9), -math.log(0.5)]
    assert terms[0] / ce_terms[0] < terms[1] / ce_terms[1] / 10


def test_focal_gradcheck():
    logits, target = _semantic_batch(seed=3, shape=(1, 3, 4), dtype=torch.float64)
    logits.requires_grad_(True)
    loss = build("focal")
    assert torch.autograd.gradcheck(lambda x: loss({"semantic": x}, {"semantic": target})["total"], (logits,))


@pytest.mark.parametrize("name", ["ce", "focal"])
def test_ignored_pixels_get_zero_gradient(name):
    logits, target = _semantic_batch(seed=4)
    logits.requires_grad_(True)
    _run(name, logits, target)["total"].backward()
    ignored = (target == 255).unsqueeze(1).expand_as(logits)
    assert (logits.grad[ignored] == 0).all()
    assert (logits.grad[~ignored] != 0).all()


@pytest.mark.parametrize("name", ["ce", "focal"])
def test_all_ignored_batch_is_zero_not_nan(name):
    logits, target = _semantic_batch(seed=5)
    logits.requires_grad_(True)
    target = torch.full_like(target, 255)
    out = _run(name, logits, target)
    assert out["total"].item() == 0.0 and out["total"].grad_fn is not None
    out["total"].backward()
    assert (logits.grad == 0).all()


def test_ce_all_ignored_with_class_weights_is_zero():
    logits, target = _semantic_batch(seed=5)
    out = _run("ce", logits, torch.full_like(target, 255), class_weights=[1.0] * 5)
    assert out["total"].item() == 0.0


def test_bad_semantic_inputs_raise_clear_errors():
    logits, target = _semantic_batch()
    bad = target.clone()
    bad[0, 1, 1] = 7
    with pytest.raises(ValueError, match=r"batch\['semantic'\] holds labels \[7\]"):
        _run("ce", logits, bad)
    with pytest.raises(ValueError, match=r"batch\['semantic'\]"):
        _run("focal", logits, target[:, :2])
    with pytest.raises(KeyError, match=r"outputs\['semantic'\]"):
        build("ce")({"depth": torch.zeros(1)}, {"semantic": target})
    with pytest.raises(ValueError, match="gamma"):
        build("focal", gamma=-1.0)


def test_scene_ce_matches_torch_and_hand_value():
    logits = torch.zeros(3, 4)
    out = build("scene_ce")({"scene": logits}, {"scene": torch.tensor([0, 3, 1])})
    assert set(out) == {"total", "scene_ce"}
    assert out["scene_ce"].item() == pytest.approx(math.log(4))
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(5, 7, generator=g)
    target = torch.tensor([0, 6, 2, 2, 4])
    out = build("scene_ce")({"scene": logits}, {"scene": target.tolist()})
    assert out["scene_ce"].item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-6)


def test_scene_ce_rejects_out_of_range_scene():
    with pytest.raises(ValueError, match=r"batch\['scene'\] holds labels \[9\]"):
        build("scene_ce")({"scene": torch.zeros(2, 4)}, {"scene": torch.tensor([1, 9])})
