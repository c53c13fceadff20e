"""CLIFFNet: paper parameter counts, output shapes, CLIFF variants, scene head, weight loading."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from depthstudy.models import build
from depthstudy.models.cliffnet import CLIFF, VARIANTS
from depthstudy.models.resnet import resnet

SMALL = dict(backbone_depth=18, backbone_width=0.25, fpn_channels=16)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def paper_model() -> torch.nn.Module:
    return build("cliffnet")


def test_paper_parameter_count_and_breakdown(paper_model):
    m = paper_model
    c = 256
    conv3 = c * c * 9
    fpn = (2048 + 1024 + 512 + 256) * c + 4 * c + 4 * 2 * c + 4 * (conv3 + c + 2 * c)
    heads = 4 * (conv3 + c + 2 * c)
    cliff = 3 * 2 * (2 * conv3 + 2 * c)
    pred = conv3 + 2 * c + 9 * c + 1
    assert (fpn, heads, cliff, pred) == (3_348_480, 2_362_368, 7_080_960, 592_641)
    assert n_params(m.backbone) == 23_508_032
    assert n_params(m.fpn) == fpn
    assert n_params(m.head.level) == heads
    assert n_params(m.head.cliff) == cliff
    assert n_params(m.head.score) == pred
    assert n_params(m) == 36_892_481


def test_paper_defaults_follow_the_code(paper_model):
    assert paper_model.input_norm.mode == "caffe"
    assert paper_model.backbone.layer2[0].conv1.stride == (2, 2)  # Caffe stride on the 1x1
    assert paper_model.scene_head is None
    assert paper_model.head.cliff[0].conv1[0].bias is None
    assert paper_model.fpn.lateral[0][0].bias is not None


def test_full_size_forward_once(paper_model):
    paper_model.eval()
    with torch.no_grad():
        out = paper_model(torch.rand(1, 3, 228, 304))
    assert tuple(out["depth"].shape) == (1, 1, 228, 304)
    assert tuple(out["features"].shape) == (1, 256, 57, 76)  # res2 size at CLIFFNet's 228x304
    assert torch.isfinite(out["depth"]).all()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", [(60, 76), (64, 96)])
def test_variants_shapes_and_backward(variant, size):
    torch.manual_seed(0)
    m = build("cliffnet", variant=variant, **SMALL)
    out = m(torch.rand(2, 3, *size))
    assert tuple(out["depth"].shape) == (2, 1, *size)
    assert tuple(out["features"].shape) == (2, 16, -(-size[0] // 4), -(-size[1] // 4))
    assert "scene" not in out
    out["depth"].mean().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_variant_parameter_counts():
    c = 8
    conv = c * c * 9
    bn = 2 * c
    expected = {"cliff": 2 * (2 * conv + bn), "wo_id": 2 * (2 * conv + bn),
                "wo_att": (2 * conv + bn) + (conv + bn), "wo_sel": 2 * (conv + bn),
                "baseline": 2 * (conv + bn)}
    assert {v: n_params(CLIFF(c, v)) for v in VARIANTS} == expected


def _pair(a: str, b: str) -> tuple[CLIFF, CLIFF]:
    torch.manual_seed(1)
    ma, mb = CLIFF(8, a).eval(), CLIFF(8, b).eval()
    mb.load_state_dict(ma.state_dict())
    return ma, mb


def test_cliff_identity_and_variant_formulas():
    low, high = torch.rand(2, 8, 10, 12), torch.rand(2, 8, 5, 6)
    fh = F.interpolate(high, size=(10, 12), mode="bilinear", align_corners=False)
    cliff, wo_id = _pair("cliff", "wo_id")
    assert torch.allclose(cliff(low, high), wo_id(low, high) + fh, atol=1e-6)
    # code version by hand: F1 = CBR([low, low*fh]), F2 = CBR([fh, F1]), out = F2 + fh
    f1 = cliff.conv1(torch.cat([low, low * fh], 1))
    assert torch.allclose(cliff(low, high), cliff.conv2(torch.cat([fh, f1], 1)) + fh, atol=1e-6)
    wo_sel, base = _pair("wo_sel", "baseline")
    zero_low = torch.zeros_like(low)
    # low = 0: both convolve fh; wo_sel keeps the identity of the high-level map
    assert torch.allclose(wo_sel(zero_low, high), base(zero_low, high) + fh, atol=1e-6)
    # high = 0: wo_sel convolves low + 0 + 0, baseline convolves low + 0
    zero_high = torch.zeros_like(high)
    assert torch.allclose(wo_sel(low, zero_high), base(low, zero_high), atol=1e-6)
    wo_att = CLIFF(8, "wo_att").eval()
    expect = wo_att.conv2(wo_att.conv1(torch.cat([low, fh], 1))) + fh
    assert torch.allclose(wo_att(low, high), expect, atol=1e-6)


def test_cliff_init_is_kaiming_uniform_a1():
    conv = CLIFF(64).conv1[0]
    bound = (6.0 / ((1 + 1) * 128 * 9)) ** 0.5  # gain sqrt(2/(1+a^2)), fan_in = 2C*9
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.95 * bound


def test_scene_head_mt_baseline():
    m = build("cliffnet", scene_classes=7, **SMALL)
    assert m.backbone.out_channels[-1] == 128
    assert n_params(m.scene_head) == (128 * 256 + 256) + (256 * 7 + 7)
    out = m(torch.rand(2, 3, 64, 96))
    assert tuple(out["scene"].shape) == (2, 7)
    out["scene"].sum().backward()
    assert m.scene_head.fc1.weight.grad is not None and m.backbone.conv1.weight.grad is not None


def test_pretrained_backbone_from_local_file(tmp_path):
    torch.manual_seed(3)
    src = resnet(18, stride="pytorch")
    path = tmp_path / "r18.pth"
    torch.save(src.state_dict(), path)
    m = build("cliffnet", backbone_depth=18, fpn_channels=8, stride="pytorch",
              input_norm="imagenet", pretrained=str(path))
    assert torch.equal(m.backbone.layer4[1].conv2.weight, src.layer4[1].conv2.weight)
    with pytest.warns(UserWarning, match="input_norm"):
        build("cliffnet", backbone_depth=18, fpn_channels=8, pretrained=path)
    with pytest.raises(ValueError, match="width"):
        build("cliffnet", backbone_depth=18, backbone_width=0.5, fpn_channels=8, stride="pytorch",
              input_norm="imagenet", pretrained=path)


def test_bad_options():
    with pytest.raises(ValueError, match="variant"):
        build("cliffnet", variant="cliff2", **SMALL)
    with pytest.raises(ValueError, match="fpn_channels"):
        build("cliffnet", backbone_depth=18, backbone_width=0.25, fpn_channels=0)
    with pytest.raises(TypeError):
        build("cliffnet", heads=3)
