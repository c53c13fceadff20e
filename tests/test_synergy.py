"""Synergy network (Jiao et al. suppl. Table 3): shapes, LSU identity at init, parameter counts."""

import pytest
import torch

from depthstudy.models import build
from depthstudy.models.synergy import LateralSharingUnit

SMALL = dict(backbone_width=0.25)   # c5 = 512 -> decoder widths 256, 128, 64, 32, 16
WIDTHS = [256, 128, 64, 32, 16]


def n_params(params) -> int:
    return sum(p.numel() for p in params)


def up(ci: int, co: int) -> int:
    """Up-projection: two interleaved convs (3x3+2x3+3x2+2x2 = 25 taps), one 3x3 conv, 3 BNs."""
    return 2 * 25 * ci * co + 9 * co * co + 3 * 2 * co


def branch(out: int, k: int = 3) -> int:
    ups = sum(up(a, b) for a, b in zip(WIDTHS[:-1], WIDTHS[1:]))
    skips = sum(k * k * c * 16 + 2 * 16 for c in WIDTHS[:-1])
    return ups + skips + 9 * 16 * out + out


@pytest.mark.parametrize("size", [(64, 96), (60, 76)])
def test_shapes_and_backward(size):
    torch.manual_seed(0)
    model = build("synergy", classes=4, **SMALL)
    out = model(torch.rand(2, 3, *size))
    assert set(out) == {"depth", "semantic"}
    assert out["depth"].shape == (2, 1, *size)
    assert out["semantic"].shape == (2, 4, *size)
    (out["depth"].mean() + out["semantic"].mean()).backward()
    assert model.encoder.conv1.weight.grad is not None
    # at init (LSU weights 0) phi_S gets a gradient: d(depth)/d(phi_S) = sem map, non-zero
    assert model.lsu[0].phi_S.grad.abs().item() > 0


def test_depth_only():
    model = build("synergy", depth_only=True, **SMALL)
    out = model(torch.rand(1, 3, 60, 76), features=True)
    assert set(out) == {"depth", "features"}
    assert set(out["features"]) == {"backbone", "bottleneck", "depth_up1"}
    assert not hasattr(model, "semantic_branch") and not hasattr(model, "lsu")
    assert model.lsu_weights() == {}
    with pytest.raises(ValueError, match="depth_only"):
        model.branch_parameters("semantic")
    encoder = n_params(model.encoder.parameters())
    conv2 = 512 * 256 + 2 * 256
    assert n_params(model.parameters()) == encoder + conv2 + branch(1)
    assert n_params(model.branch_parameters("depth")) == branch(1)


def test_feature_taps():
    model = build("synergy", classes=40, **SMALL)
    feats = model(torch.rand(1, 3, 64, 96), features=True)["features"]
    assert feats["backbone"].shape == (1, 512, 2, 3)
    assert feats["bottleneck"].shape == (1, 256, 2, 3)
    assert feats["depth_up1"].shape == (1, 128, 4, 6)
    assert feats["semantic_up1"].shape == (1, 128, 4, 6)


def test_param_count_by_hand():
    for classes in (4, 40):
        model = build("synergy", classes=classes, **SMALL)
        encoder = n_params(model.encoder.parameters())
        conv2 = 512 * 256 + 2 * 256          # 1x1 conv (no bias, BN follows) + BN
        lsu = 3 * 4                           # 3 LSUs x (phi_D, phi_S, gamma_S, gamma_D)
        expected = encoder + conv2 + branch(1) + branch(classes) + lsu
        assert n_params(model.parameters()) == expected
        assert n_params(model.lsu.parameters()) == 12
        assert n_params(model.conv2.parameters()) == conv2
    channel = build("synergy", classes=4, lsu="channel", upskip_kernel=1, **SMALL)
    expected = (n_params(channel.encoder.parameters()) + 512 * 256 + 2 * 256
                + branch(1, k=1) + branch(4, k=1) + 4 * (128 + 64 + 32))
    assert n_params(channel.parameters()) == expected


def test_paper_configuration_widths():
    model = build("synergy", classes=40)
    assert model.encoder.out_channels[-1] == 2048
    assert model.conv2[0].weight.shape == (1024, 2048, 1, 1)
    ups = model.depth_branch.up
    assert [(u.up1.convs[0].in_channels, u.up1.convs[0].out_channels) for u in ups] == \
        [(1024, 512), (512, 256), (256, 128), (128, 64)]
    assert model.semantic_branch.pred.weight.shape == (40, 64, 3, 3)
    assert [s[0].in_channels for s in model.depth_branch.skip] == [1024, 512, 256, 128]
    assert all(s[0].out_channels == 64 for s in model.depth_branch.skip)


def test_lsu_identity_decouples_depth_from_semantic_branch():
    torch.manual_seed(0)
    model = build("synergy", classes=4, **SMALL).eval()
    x = torch.rand(1, 3, 60, 76)
    with torch.no_grad():
        before = model(x)
        for p in model.semantic_branch.parameters():
            p.add_(torch.randn_like(p))
        after = model(x)
        assert torch.equal(before["depth"], after["depth"])
        assert not torch.allclose(before["semantic"], after["semantic"])
        model.lsu[1].phi_S.fill_(0.5)
        coupled = model(x)
        for p in model.semantic_branch.parameters():
            p.add_(torch.randn_like(p))
        assert not torch.allclose(coupled["depth"], model(x)["depth"])


def test_lsu_formula():
    unit = LateralSharingUnit(3, "scalar", init=0.0)
    with torch.no_grad():
        for name, v in zip(LateralSharingUnit.NAMES, (0.5, 2.0, -0.5, 3.0)):
            getattr(unit, name).fill_(v)
    dep, sem = torch.full((1, 3, 2, 2), 2.0), torch.full((1, 3, 2, 2), 10.0)
    d_in, s_in = unit(dep, sem)
    assert torch.allclose(d_in, torch.full_like(dep, 1.5 * 2 + 2.0 * 10))
    assert torch.allclose(s_in, torch.full_like(sem, 0.5 * 10 + 3.0 * 2))


def test_branch_parameters_disjoint_and_lsu_weights():
    model = build("synergy", classes=4, lsu_init=0.25, **SMALL)
    dep = {id(p) for p in model.branch_parameters("depth")}
    sem = {id(p) for p in model.branch_parameters("semantic")}
    shared = {id(p) for p in model.encoder.parameters()} | {id(p) for p in model.conv2.parameters()}
    assert dep and sem and not dep & sem and not (dep | sem) & shared
    assert dep | sem | shared == {id(p) for p in model.parameters()}
    assert id(model.lsu[0].phi_S) in dep and id(model.lsu[0].gamma_D) in sem
    w = model.lsu_weights()
    assert len(w) == 12 and w["lsu3.gamma_D"] == 0.25
    with pytest.raises(ValueError, match="task"):
        model.branch_parameters("normals")


def test_bad_options():
    with pytest.raises(ValueError, match="classes"):
        build("synergy", classes=1, **SMALL)
    with pytest.raises(ValueError, match="lsu"):
        build("synergy", lsu="pixel", **SMALL)
    with pytest.raises(ValueError, match="upskip_kernel"):
        build("synergy", upskip_kernel=5, **SMALL)
