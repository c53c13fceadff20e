"""ResNet backbones: structure, parameter counts, torchvision key compatibility, input norm."""

from __future__ import annotations

import math

import pytest
import torch

from depthstudy.models.resnet import InputNorm, load_backbone_weights, resnet, scale_channels


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def torchvision_resnet50_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of torchvision's resnet50 state dict, written out from the known structure."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    shapes["conv1.weight"] = (64, 3, 7, 7)
    bn("bn1", 64)
    cin = 64
    for li, (blocks, planes) in enumerate(zip([3, 4, 6, 3], [64, 128, 256, 512]), start=1):
        for b in range(blocks):
            p = f"layer{li}.{b}"
            shapes[f"{p}.conv1.weight"] = (planes, cin, 1, 1)
            bn(f"{p}.bn1", planes)
            shapes[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            shapes[f"{p}.conv3.weight"] = (planes * 4, planes, 1, 1)
            bn(f"{p}.bn3", planes * 4)
            if b == 0:
                shapes[f"{p}.downsample.0.weight"] = (planes * 4, cin, 1, 1)
                bn(f"{p}.downsample.1", planes * 4)
            cin = planes * 4
    shapes["fc.weight"] = (1000, 2048)
    shapes["fc.bias"] = (1000,)
    return shapes


def fake_checkpoint(seed: int = 0, batches_tracked: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shape in torchvision_resnet50_shapes().items():
        if k.endswith("num_batches_tracked"):
            if batches_tracked:
                sd[k] = torch.tensor(7)
        else:
            sd[k] = torch.randn(shape, generator=g)
    return sd


@pytest.fixture(scope="module")
def r50() -> torch.nn.Module:
    return resnet(50)


def test_parameter_counts(r50):
    # torchvision totals minus fc (2048*1000+1000 = 2,049,000; 512*1000+1000 = 513,000)
    assert n_params(r50) == 25_557_032 - 2_049_000 == 23_508_032
    assert n_params(resnet(18)) == 11_689_512 - 513_000
    assert n_params(resnet(34)) == 21_797_672 - 513_000


def test_out_channels_and_width():
    assert resnet(50).out_channels == (256, 512, 1024, 2048)
    assert resnet(18).out_channels == (64, 128, 256, 512)
    assert resnet(18, width=0.5).out_channels == (32, 64, 128, 256)
    assert resnet(50, width=0.25).out_channels == (64, 128, 256, 512)
    assert (scale_channels(64, 0.5), scale_channels(64, 0.1), scale_channels(64, 0.3)) == (32, 8, 16)
    assert resnet(18, width=0.5).conv1.weight.shape == (32, 3, 7, 7)


@pytest.mark.parametrize("depth", [18, 50])
def test_forward_shapes_non_multiple_of_32(depth):
    m = resnet(depth, width=0.25)
    feats = m(torch.rand(2, 3, 60, 76))
    # 60x76 -> stem /2 30x38 -> pool 15x19 -> 8x10 -> 4x5 -> 2x3 (ceil at every stride 2)
    sizes = [(15, 19), (8, 10), (4, 5), (2, 3)]
    assert [tuple(f.shape) for f in feats] == [(2, c, *s) for c, s in zip(m.out_channels, sizes)]


def test_init_is_torchvision_like():
    m = resnet(18)
    assert torch.all(m.bn1.weight == 1) and torch.all(m.bn1.bias == 0)
    w = m.layer3[0].conv2.weight  # 256 x 256 x 3 x 3, fan_out = 256*9
    assert abs(w.std().item() - math.sqrt(2.0 / (256 * 9))) < 0.05 * math.sqrt(2.0 / (256 * 9))


def test_torchvision_keys_load_strictly(tmp_path, r50):
    expected = {k: v for k, v in torchvision_resnet50_shapes().items() if not k.startswith("fc.")}
    assert {k: tuple(v.shape) for k, v in r50.state_dict().items()} == expected
    sd = fake_checkpoint()
    path = tmp_path / "resnet50.pth"
    torch.save(sd, path)
    report = load_backbone_weights(r50, path)
    assert report == {"loaded": len(expected), "ignored": ["fc.bias", "fc.weight"]}
    assert torch.equal(r50.layer3[5].conv2.weight, sd["layer3.5.conv2.weight"])
    assert torch.equal(r50.layer4[0].downsample[1].running_var, sd["layer4.0.downsample.1.running_var"])


def test_wrapped_and_old_style_checkpoints(tmp_path):
    m = resnet(50)
    sd = fake_checkpoint(seed=1, batches_tracked=False)
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": sd}, path)
    report = load_backbone_weights(m, path)
    assert report["loaded"] == len([k for k in sd if not k.startswith("fc.")])
    assert torch.equal(m.conv1.weight, sd["conv1.weight"])


def test_missing_unexpected_and_wrong_shape_are_named(tmp_path, r50):
    sd = fake_checkpoint()
    del sd["layer2.1.bn2.running_mean"]
    sd["layer1.0.conv1.weight"] = torch.zeros(64, 64, 3, 3)
    sd["head.weight"] = torch.zeros(3)
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(ValueError) as err:
        load_backbone_weights(r50, path)
    msg = str(err.value)
    assert "layer2.1.bn2.running_mean" in msg and "layer1.0.conv1.weight" in msg
    assert "head.weight" in msg and "(64, 64, 3, 3)" in msg


def test_loader_rejects_width_and_missing_file(tmp_path):
    torch.save(resnet(18).state_dict(), tmp_path / "x.pth")  # width-1 (ImageNet-shaped) weights
    with pytest.raises(ValueError, match="width 0.5; ImageNet weights exist at width 1"):
        load_backbone_weights(resnet(18, width=0.5), tmp_path / "x.pth")
    narrow = resnet(18, width=0.5)
    torch.save(narrow.state_dict(), tmp_path / "narrow.pth")  # a pre-trained trunk of the same width loads
    assert load_backbone_weights(resnet(18, width=0.5), tmp_path / "narrow.pth")["loaded"] > 0
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        load_backbone_weights(resnet(18), tmp_path / "nothere.pth")


def test_caffe_and_pytorch_stride_placement():
    caffe, torch_style = resnet(50, stride="caffe"), resnet(50, stride="pytorch")
    shapes = lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}  # noqa: E731
    assert shapes(caffe) == shapes(torch_style)
    for name in ("layer2", "layer3", "layer4"):
        cb, tb = getattr(caffe, name)[0], getattr(torch_style, name)[0]
        assert (cb.conv1.stride, cb.conv2.stride) == ((2, 2), (1, 1))
        assert (tb.conv1.stride, tb.conv2.stride) == ((1, 1), (2, 2))
        assert cb.downsample[0].stride == tb.downsample[0].stride == (2, 2)
    assert caffe.layer1[0].conv1.stride == caffe.layer1[0].conv2.stride == (1, 1)
    small_c, small_t = resnet(50, "caffe", 0.125), resnet(50, "pytorch", 0.125)
    small_t.load_state_dict(small_c.state_dict())
    x = torch.rand(1, 3, 64, 64)
    small_c.eval(), small_t.eval()
    out_c, out_t = small_c(x), small_t(x)
    assert [o.shape for o in out_c] == [o.shape for o in out_t]
    assert not torch.allclose(out_c[1], out_t[1])
    assert torch.allclose(out_c[0], out_t[0])  # layer1 has no stride: identical


def test_input_norm_modes():
    x = torch.zeros(1, 3, 1, 2)
    x[0, 0, 0, 0] = 1.0  # pure red pixel, then a black pixel
    caffe = InputNorm("caffe")(x)
    assert torch.allclose(caffe[0, :, 0, 1], -torch.tensor([102.9801, 115.9465, 122.7717]))
    assert torch.allclose(caffe[0, :, 0, 0], torch.tensor([-102.9801, -115.9465, 255 - 122.7717]))
    imnet = InputNorm("imagenet")(x)
    assert torch.allclose(imnet[0, :, 0, 0], torch.tensor([(1 - 0.485) / 0.229, -0.456 / 0.224,
                                                           -0.406 / 0.225]))
    assert torch.equal(InputNorm("none")(x), x)
    assert InputNorm("caffe").state_dict() == {}
    with pytest.raises(ValueError, match="mode"):
        InputNorm("bgr")
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        InputNorm()(torch.rand(1, 1, 4, 4))


def test_bad_arguments():
    with pytest.raises(ValueError, match="depth"):
        resnet(101)
    with pytest.raises(ValueError, match="stride"):
        resnet(50, stride="tf")
    with pytest.raises(ValueError, match="width"):
        resnet(18, width=0)
