"""Hierarchical embedding loss (with stand-in HEGs) and weighted combinations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthstudy.losses import available, build

SOBEL_X = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


class TinyHEG(nn.Module):
    """HEG-like stand-in: 3x3 conv (no bias) -> BN -> LeakyReLU per layer, ``embed`` as HEG-S."""

    def __init__(self, channels=(4, 4, 6, 6), strides=(1, 1, 2, 1), slope=0.01, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        layers, c_in = [], 1
        for c, s in zip(channels, strides):
            layers.append(nn.Sequential(
                nn.Conv2d(c_in, c, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(slope)))
            c_in = c
        self.layers = nn.ModuleList(layers)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.2, 0.2)

    def embed(self, depth, layers):
        out, x = [], depth
        for k, layer in enumerate(self.layers, start=1):
            x = layer(x)
            if k in layers:
                out.append(x)
        return out


def sobel_heg():
    """A one-layer HEG whose features are exactly the Sobel x and y responses (zero padding)."""
    heg = TinyHEG(channels=(2,), strides=(1,), slope=1.0)
    conv, bn = heg.layers[0][0], heg.layers[0][1]
    with torch.no_grad():
        conv.weight.copy_(torch.stack([SOBEL_X, SOBEL_X.t()]).unsqueeze(1))
        bn.weight.fill_(1.0)
        bn.bias.zero_()
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
    bn.eps = 1e-12
    return heg


def _depths(seed=0, shape=(2, 1, 8, 10), dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=dtype) * 5 + 0.5


def _call(loss, pred, gt):
    return loss({"depth": pred}, {"depth": gt})


def test_zero_when_prediction_equals_gt_and_entries():
    loss = build("hierarchical", heg=TinyHEG())
    gt = _depths()
    out = _call(loss, gt.clone(), gt)
    assert set(out) == {"total", "l1", "heg_2", "heg_4"}
    assert all(v.item() == 0.0 for v in out.values())
    out = _call(loss, _depths(seed=1), gt)
    assert out["heg_2"].item() > 1e-3 and out["heg_4"].item() > 1e-3


def test_sobel_heg_reduces_to_gradient_loss():
    gt, pred = _depths(seed=2), _depths(seed=3)
    loss = build("hierarchical", heg=sobel_heg(), layers=(1,), weights=(0.0, 3.0), warmup_steps=0)
    k = torch.stack([SOBEL_X, SOBEL_X.t()]).unsqueeze(1)
    expected = 3.0 * (F.conv2d(gt, k, padding=1) - F.conv2d(pred, k, padding=1)).abs().mean()
    out = _call(loss, pred, gt)
    assert out["total"].item() == pytest.approx(expected.item(), rel=1e-5)
    # the grad loss sums the two channels over interior pixels: twice the interior channel mean
    interior = (F.conv2d(gt, k) - F.conv2d(pred, k)).abs().mean()
    grad = build("grad")({"depth": pred}, {"depth": gt})["grad"]
    assert grad.item() == pytest.approx(2 * interior.item(), rel=1e-5)


def test_totals_weights_and_layer_zero():
    heg = TinyHEG()
    gt, pred = _depths(seed=4), _depths(seed=5)
    loss = build("hierarchical", heg=heg, weights=(2.0, 10.0, 15.0), warmup_steps=0)
    out = _call(loss, pred, gt)
    f2g, f4g = heg.embed(gt, (2, 4))
    f2p, f4p = heg.embed(pred, (2, 4))
    assert out["l1"].item() == pytest.approx((pred - gt).abs().mean().item(), rel=1e-6)
    assert out["heg_2"].item() == pytest.approx((f2g - f2p).abs().mean().item(), rel=1e-5)
    assert out["heg_4"].item() == pytest.approx((f4g - f4p).abs().mean().item(), rel=1e-5)
    expected = 2.0 * out["l1"] + 10.0 * out["heg_2"] + 15.0 * out["heg_4"]
    assert out["total"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_heg_is_frozen_in_eval_mode_and_gradients_reach_prediction():
    heg = TinyHEG().train()
    loss = build("hierarchical", heg=heg).train()
    assert not heg.training and not any(p.requires_grad for p in heg.parameters())
    loss.set_step(100)
    pred = _depths(seed=6).requires_grad_(True)
    running = heg.layers[0][1].running_mean.clone()
    _call(loss, pred, _depths(seed=7))["total"].backward()
    assert pred.grad.abs().sum() > 0
    assert torch.equal(heg.layers[0][1].running_mean, running)
    assert all(p.grad is None for p in heg.parameters())


def test_invalid_gt_is_filled_with_prediction():
    gt = _depths(seed=8)
    pred = gt.clone()
    gt[0, 0, 2:5, 3:6] = 0.0
    gt[1, 0, 0, 0] = float("nan")
    pred[0, 0, 2:5, 3:6] = 4.0
    out = _call(build("hierarchical", heg=TinyHEG(), warmup_steps=0), pred, gt)
    assert out["total"].item() == 0.0


def test_all_invalid_batch_is_zero_not_nan():
    pred = _depths(seed=9).requires_grad_(True)
    out = _call(build("hierarchical", heg=TinyHEG(), warmup_steps=0), pred, torch.zeros_like(pred))
    assert out["total"].item() == 0.0 and out["total"].grad_fn is not None
    out["total"].backward()
    assert torch.isfinite(pred.grad).all()


def test_warmup_is_linear_then_one():
    loss = build("hierarchical", heg=TinyHEG(), weights=(1.0, 10.0, 15.0), warmup_steps=4).train()
    gt, pred = _depths(seed=10), _depths(seed=11)
    ramps = []
    for _ in range(7):
        out = _call(loss, pred, gt)
        feature = 10.0 * out["heg_2"] + 15.0 * out["heg_4"]
        ramps.append(((out["total"] - out["l1"]) / feature).item())
    assert ramps == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0], abs=1e-6)
    loss.eval()
    loss.set_step(2)
    _call(loss, pred, gt)
    _call(loss, pred, gt)
    assert loss.step == 2 and loss.ramp() == 0.5
    assert build("hierarchical", heg=TinyHEG(), warmup_steps=0).ramp() == 1.0


def test_gradcheck_float64():
    heg = TinyHEG(channels=(3, 3), strides=(1, 2)).double()
    loss = build("hierarchical", heg=heg, layers=(1, 2), warmup_steps=0)
    gt = _depths(seed=12, shape=(1, 1, 5, 6), dtype=torch.float64)  # no hole: a filled hole copies the
    # detached prediction, so a finite difference there would also move the GT branch
    pred = _depths(seed=13, shape=(1, 1, 5, 6), dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: _call(loss, p, gt)["total"], (pred,))


def test_heg_from_path(tmp_path):
    heg = TinyHEG()
    path = tmp_path / "heg.pt"
    torch.save(heg, path)
    gt, pred = _depths(seed=14), _depths(seed=15)
    from_module = _call(build("hierarchical", heg=heg), pred, gt)
    from_path = _call(build("hierarchical", heg=str(path)), pred, gt)
    assert from_path["heg_4"].item() == pytest.approx(from_module["heg_4"].item())
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        build("hierarchical", heg=str(tmp_path / "missing.pt"))


def test_heg_from_checkpoint_dict(tmp_path, monkeypatch):
    import depthstudy.models

    monkeypatch.setattr(depthstudy.models, "build", lambda name, **options: TinyHEG(**options))
    heg = TinyHEG(seed=3)
    path = tmp_path / "heg.pth"
    torch.save({"model": "heg_s", "options": {"seed": 9}, "state_dict": heg.state_dict()}, path)
    gt, pred = _depths(seed=16), _depths(seed=17)
    from_module = _call(build("hierarchical", heg=heg), pred, gt)
    from_path = _call(build("hierarchical", heg=path), pred, gt)
    assert from_path["heg_2"].item() == pytest.approx(from_module["heg_2"].item())
    torch.save({"weights": 1}, path)
    with pytest.raises(ValueError, match="expected a module with embed"):
        build("hierarchical", heg=path)


def test_hierarchical_bad_options():
    with pytest.raises(TypeError, match="embed"):
        build("hierarchical", heg=nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="weights needs 3 values"):
        build("hierarchical", heg=TinyHEG(), weights=(1.0, 10.0))
    with pytest.raises(ValueError, match="layers"):
        build("hierarchical", heg=TinyHEG(), layers=(4, 2))


# ----------------------------------------------------------------------------- combo

def _depth_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 1, 6, 7, generator=g) * 5 + 0.5
    gt[0, 0, 1, 1] = 0.0
    pred = torch.rand(2, 1, 6, 7, generator=g) * 5 + 0.5
    logits = torch.randn(2, 4, 6, 7, generator=g)
    sem = torch.randint(0, 4, (2, 6, 7), generator=g)
    return {"depth": pred, "semantic": logits}, {"depth": gt, "semantic": sem}


def test_combo_total_is_weighted_sum_of_parts():
    outputs, batch = _depth_batch()
    out = build("combo", terms={"l1": 1.0, "grad": 2.0})(outputs, batch)
    l1 = build("l1")(outputs, batch)["total"]
    grad = build("grad")(outputs, batch)["total"]
    assert set(out) == {"total", "l1", "grad"}
    assert out["l1"].item() == pytest.approx(l1.item())
    assert out["total"].item() == pytest.approx((l1 + 2.0 * grad).item(), rel=1e-6)
    from_string = build("combo", terms="l1+grad*2")(outputs, batch)
    assert from_string["total"].item() == pytest.approx(out["total"].item(), rel=1e-6)


def test_combo_jiao_attention_loss_and_options():
    outputs, batch = _depth_batch(seed=1)
    out = build("combo", terms="da+jg+focal", options={"da": {"normaliser": "image_max"}})(outputs, batch)
    parts = [build("da", normaliser="image_max"), build("jg"), build("focal")]
    values = [p(outputs, batch)["total"].item() for p in parts]
    assert [out[n].item() for n in ("da", "jg", "focal")] == pytest.approx(values, rel=1e-6)
    assert out["total"].item() == pytest.approx(sum(values), rel=1e-6)
    assert out["da"].item() != pytest.approx(build("da")(outputs, batch)["total"].item(), rel=1e-3)


def test_combo_errors_list_valid_names():
    with pytest.raises(ValueError, match=r"unknown term 'nope'; valid names: .*berhu.*scene_ce"):
        build("combo", terms="l1+nope")
    with pytest.raises(ValueError, match="not terms"):
        build("combo", terms={"l1": 1.0}, options={"da": {}})
    with pytest.raises(ValueError, match="cannot parse"):
        build("combo", terms="l1+grad*x")
    with pytest.raises(ValueError, match="twice"):
        build("combo", terms="l1+l1")


def test_combo_forwards_step_and_train_mode_to_hierarchical():
    loss = build("combo", terms={"hierarchical": 1.0, "l1": 0.5}, options={"hierarchical": {"heg": TinyHEG()}})
    loss.set_step(50)
    assert loss.terms["hierarchical"].ramp() == 0.5
    loss.train()
    assert not loss.terms["hierarchical"].heg.training


def test_every_declared_name_is_registered():
    assert set(available()) == {"l1", "l2", "berhu", "si", "grad", "da", "jg", "ce", "focal", "scene_ce",
                                "hierarchical", "combo"}
    for name in set(available()) - {"hierarchical", "combo"}:
        assert isinstance(build(name), nn.Module)
    with pytest.raises(TypeError):
        build("l1", bogus=1)
