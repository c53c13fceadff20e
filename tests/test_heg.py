"""HEG-S / HEG-R (paper Tables 1-2), HEG-Rn, HEG-Im conversion and freezing."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from depthstudy.models import build
from depthstudy.models.heg import HEGR, HEGS, freeze, random_heg, to_depth_input

TABLE_CHANNELS = [16, 16, 32, 32, 64, 64]
TABLE_STRIDES = [1, 1, 2, 1, 2, 1]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def conv_of(layer: nn.Sequential) -> nn.Conv2d:
    return layer[0]


@pytest.mark.parametrize("name", ["heg_s", "heg_r"])
def test_layer_plan_matches_tables(name):
    m = build(name)
    assert len(m.convs) == 6
    cins = [1] + TABLE_CHANNELS[:-1]
    for layer, cin, cout, s in zip(m.convs, cins, TABLE_CHANNELS, TABLE_STRIDES):
        conv = conv_of(layer)
        assert (conv.in_channels, conv.out_channels, conv.stride, conv.kernel_size,
                conv.padding) == (cin, cout, (s, s), (3, 3), (1, 1))
        has_bn = any(isinstance(x, nn.BatchNorm2d) for x in layer)
        assert has_bn == (name == "heg_s")  # Table 2: HEG-R encoder has no BN
        assert (conv.bias is None) == (name == "heg_s")
        act = layer[-1]
        assert isinstance(act, nn.LeakyReLU) and act.negative_slope == 0.01


def test_embed_shapes_at_paper_resolution():
    m = build("heg_s").eval()
    with torch.no_grad():
        feats = m.embed(torch.rand(1, 1, 228, 304) * 10, layers=(1, 2, 3, 4, 5, 6))
    assert [tuple(f.shape[1:]) for f in feats] == [
        (16, 228, 304), (16, 228, 304), (32, 114, 152), (32, 114, 152), (64, 57, 76), (64, 57, 76)]


def test_parameter_counts_from_tables():
    convs = 1 * 16 * 9 + 16 * 16 * 9 + 16 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 64 * 64 * 9
    assert convs == 71_568
    channel_sum = 16 + 16 + 32 + 32 + 64 + 64  # 224
    # HEG-S: convs without bias, BN2d (2 per channel), FC 256->256 (no bias) + BN1d twice,
    # FC 256->249 with bias.
    heg_s = convs + 2 * channel_sum + 2 * (256 * 256 + 2 * 256) + (256 * 249 + 249)
    assert n_params(build("heg_s")) == heg_s == 268_105
    # HEG-R encoder: convs with bias, no BN, FC 256->256 with bias.
    encoder = convs + channel_sum + 256 * 256 + 256
    # decoder: FC 256->256, conv 64->64, convT 64->32 (k4), conv 32->32, convT 32->16 (k4),
    # conv 16->16, conv 16->1, all with bias.
    decoder = ((256 * 256 + 256) + (64 * 64 * 9 + 64) + (64 * 32 * 16 + 32) + (32 * 32 * 9 + 32)
               + (32 * 16 * 16 + 16) + (16 * 16 * 9 + 16) + (16 * 9 + 1))
    assert n_params(build("heg_r")) == encoder + decoder == 293_025


def test_heg_s_forward_and_width():
    m = build("heg_s", num_scenes=5)
    out = m(torch.rand(3, 1, 32, 40) * 10)
    assert tuple(out["scene"].shape) == (3, 5)
    out["scene"].sum().backward()
    assert m.convs[0][0].weight.grad is not None
    half = build("heg_s", num_scenes=5, width=0.5)
    assert [conv_of(layer).out_channels for layer in half.convs] == [8, 8, 16, 16, 32, 32]
    assert half.classifier[0].in_features == 4 * 32


def test_embed_computes_only_needed_layers_and_keeps_order():
    m = build("heg_s").eval()
    calls = []
    for i, layer in enumerate(m.convs, start=1):
        layer.register_forward_hook(lambda mod, inp, out, i=i: calls.append(i))
    x = torch.rand(2, 1, 16, 20)
    a, b = m.embed(x, layers=(4, 2))
    assert calls == [1, 2, 3, 4]
    assert tuple(a.shape) == (2, 32, 8, 10) and tuple(b.shape) == (2, 16, 16, 20)
    pre = m.convs[1][1](m.convs[1][0](m.convs[0](x)))  # conv2 + BN2 of layer 2
    assert (pre < 0).any()
    assert torch.allclose(b, torch.where(pre > 0, pre, 0.01 * pre))  # post-BN, post-LeakyReLU
    with pytest.raises(ValueError, match="layers"):
        m.embed(x, layers=(0, 2))
    with pytest.raises(ValueError, match="layers"):
        m.embed(x, layers=(7,))
    with pytest.raises(ValueError, match=r"\[B,1,H,W\]"):
        m.embed(torch.rand(2, 3, 16, 20))


@pytest.mark.parametrize("size", [(61, 77), (64, 96)])
def test_heg_r_reconstruction_shape(size):
    m = build("heg_r")
    out = m(torch.rand(2, 1, *size) * 10)
    assert tuple(out["depth"].shape) == (2, 1, *size)
    code = m.encode(torch.rand(2, 1, *size))
    assert tuple(code.shape) == (2, 256) and (code >= 0).all()
    feats = m.embed(torch.rand(1, 1, *size), layers=(2, 4))
    assert tuple(feats[1].shape) == (1, 32, -(-size[0] // 2), -(-size[1] // 2))
    out["depth"].abs().mean().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_to_depth_input_averages_first_layer():
    torch.manual_seed(0)
    rgb = build("heg_s", in_channels=3, num_scenes=4).eval()
    with torch.no_grad():  # non-default BN statistics so the check covers the whole layer
        rgb.convs[0][1].running_mean.uniform_(-1, 1)
    dep = to_depth_input(rgb)
    w = rgb.convs[0][0].weight
    manual = (w[:, 0] + w[:, 1] + w[:, 2]) / 3
    assert dep.convs[0][0].weight.shape == (16, 1, 3, 3)
    assert torch.allclose(dep.convs[0][0].weight[:, 0], manual)
    assert rgb.convs[0][0].weight.shape == (16, 3, 3, 3)  # original untouched
    d = torch.rand(2, 1, 12, 16) * 10
    # conv(mean_c w, d) == conv(w, [d/3, d/3, d/3])
    with torch.no_grad():
        got = dep.embed(d, layers=(4,))[0]
        ref = rgb.embed(d.repeat(1, 3, 1, 1) / 3, layers=(4,))[0]
    assert torch.allclose(got, ref, atol=1e-5)
    assert tuple(dep(d)["scene"].shape) == (2, 4)


def test_freeze_keeps_eval_and_passes_gradients():
    m = freeze(build("heg_s"))
    m.train()
    assert not m.training and not any(mod.training for mod in m.modules())
    assert not any(p.requires_grad for p in m.parameters())
    mean_before = m.convs[0][1].running_mean.clone()
    x = (torch.rand(2, 1, 16, 20) * 10).requires_grad_()
    f2, f4 = m.embed(x, layers=(2, 4))
    (f2.abs().mean() + f4.abs().mean()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in m.parameters())
    assert torch.equal(m.convs[0][1].running_mean, mean_before)


def test_random_heg_is_seeded_and_leaves_global_rng():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    a = random_heg("s", seed=0)
    assert torch.equal(torch.rand(3), expected)
    b, c = random_heg("s", seed=0), random_heg("s", seed=1)
    assert torch.equal(a.convs[2][0].weight, b.convs[2][0].weight)
    assert not torch.equal(a.convs[2][0].weight, c.convs[2][0].weight)
    assert isinstance(a, HEGS) and not a.training and a.frozen
    bn = a.convs[0][1]
    assert torch.equal(bn.running_mean, torch.zeros(16)) and torch.equal(bn.running_var, torch.ones(16))
    r = random_heg("r", seed=2)
    assert isinstance(r, HEGR) and not any(p.requires_grad for p in r.parameters())
    with pytest.raises(ValueError, match="kind"):
        random_heg("x")


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_scenes"):
        build("heg_s", num_scenes=0)
    with pytest.raises(ValueError, match="in_channels"):
        build("heg_r", in_channels=0)
    with pytest.raises(TypeError):
        to_depth_input(nn.Conv2d(3, 3, 3))
