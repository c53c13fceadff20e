"""ResNet-18/34/50 backbones with torchvision state-dict key names, and input normalisation.

Written in the package because torchvision is not installable here. The module and parameter
names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1`` ... ``layer4.2.downsample.1``), so
an ImageNet checkpoint saved by torchvision loads with strict key matching (its ``fc.*`` keys are
ignored). Nothing is downloaded: :func:`load_backbone_weights` reads a local file.

Two stride placements:

- ``"pytorch"``: the stride-2 of a down-sampling Bottleneck sits on its 3x3 conv (torchvision).
- ``"caffe"``: the stride-2 sits on the first 1x1 conv (MSRA/Caffe ResNet, used by CLIFFNet's
  code). For BasicBlock (ResNet-18/34) the two placements are identical.

Both placements have the same keys and shapes; only the forward computation differs.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn


def backbone_options(profile) -> dict:
    """ResNet depth and width multiplier of a profile (every ResNet-based model's ``from_profile``)."""
    return {"backbone_depth": profile.backbone_depth, "backbone_width": profile.backbone_width}


def pretrained_path(profile) -> str | None:
    """The backbone weights of ``profile``, or None (random init).

    ``pretrained="synthrooms"``: the trunk of the SynthRooms pre-training run at any width (Decision
    S12; trained on first use, :func:`depthstudy.studies.pretraining.trunk_file`); any other
    non-empty value: a local ImageNet checkpoint, used where the backbone has torchvision widths.
    """
    from ..studies.pretraining import PRETRAIN_SOURCE, trunk_file

    if profile.pretrained == PRETRAIN_SOURCE:
        return str(trunk_file(profile))
    return profile.pretrained if profile.pretrained and profile.backbone_width == 1.0 else None

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (102.9801, 115.9465, 122.7717)

_LAYOUT = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3))}
_STRIDES = ("pytorch", "caffe")
_NORM_MODES = ("imagenet", "caffe", "none")


class InputNorm(nn.Module):
    """Normalise an RGB image [B,3,H,W] with values in [0, 1].

    Modes:
        ``"imagenet"``: ``(x - mean) / std`` with torchvision's ImageNet mean/std (RGB order).
        ``"caffe"``: RGB -> BGR, ``x * 255 - (102.9801, 115.9465, 122.7717)``, no std division
            (CLIFFNet's code).
        ``"none"``: identity.

    The constants are non-persistent buffers, so they never appear in a state dict.
    """

    def __init__(self, mode: str = "imagenet"):
        super().__init__()
        if mode not in _NORM_MODES:
            raise ValueError(f"InputNorm mode must be one of {_NORM_MODES}, got {mode!r}")
        self.mode = mode
        if mode == "imagenet":
            mean, scale = torch.tensor(IMAGENET_MEAN), 1.0 / torch.tensor(IMAGENET_STD)
        elif mode == "caffe":
            mean, scale = torch.tensor(CAFFE_BGR_MEAN) / 255.0, torch.full((3,), 255.0)
        else:
            mean, scale = torch.zeros(3), torch.ones(3)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] RGB in [0,1] -> [B,3,H,W] normalised (BGR channel order in caffe mode)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"InputNorm expects an image [B,3,H,W], got shape {tuple(x.shape)}")
        if self.mode == "none":
            return x
        if self.mode == "caffe":
            x = x.flip(1)
        return (x - self.mean) * self.scale

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs (stride on the first) + BN; projection shortcut when the shape changes.

    ``caffe`` is accepted for a uniform block signature; both placements coincide here.
    """

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, caffe: bool = False):
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (x4 expansion) with BN; stride on the 3x3 (pytorch) or first 1x1 (caffe)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, caffe: bool = False):
        super().__init__()
        s1, s2 = (stride, 1) if caffe else (1, stride)
        self.conv1 = _conv1x1(cin, planes, s1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, s2)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * 4)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    """Projection shortcut (1x1 conv no bias + BN) where channels or resolution change."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(_conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


def scale_channels(channels: int, width: float) -> int:
    """``channels * width`` rounded to a multiple of 8, at least 8."""
    return max(8, int(round(channels * width / 8.0)) * 8)


class ResNet(nn.Module):
    """ResNet trunk without the classifier; returns the res2..res5 feature maps.

    Args:
        depth: 18, 34 or 50.
        stride: ``"pytorch"`` or ``"caffe"`` stride placement (see the module docstring).
        width: channel multiplier; every channel count becomes :func:`scale_channels` of it.

    Attributes:
        out_channels: channels of (c2, c3, c4, c5), e.g. (256, 512, 1024, 2048) for ResNet-50.
        depth, stride, width: the construction arguments.
    """

    def __init__(self, depth: int = 50, stride: str = "pytorch", width: float = 1.0):
        super().__init__()
        if depth not in _LAYOUT:
            raise ValueError(f"ResNet depth must be one of {sorted(_LAYOUT)}, got {depth!r}")
        if stride not in _STRIDES:
            raise ValueError(f"ResNet stride must be one of {_STRIDES}, got {stride!r}")
        if not width > 0:
            raise ValueError(f"ResNet width must be > 0, got {width!r}")
        self.depth, self.stride, self.width = depth, stride, float(width)
        kind, blocks = _LAYOUT[depth]
        block = Bottleneck if kind == "bottleneck" else BasicBlock
        stem = scale_channels(64, width)
        self.conv1 = nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin, outs = stem, []
        for i, (n, planes) in enumerate(zip(blocks, (64, 128, 256, 512))):
            planes = scale_channels(planes, width)
            layer = []
            for j in range(n):
                s = 2 if (i > 0 and j == 0) else 1
                layer.append(block(cin, planes, s, caffe=stride == "caffe"))
                cin = planes * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
            outs.append(cin)
        self.out_channels: tuple[int, int, int, int] = tuple(outs)
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convs (fan_out, relu) and BN weight 1 / bias 0, as torchvision."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x [B,3,H,W] (already normalised) -> [c2, c3, c4, c5] at strides 4, 8, 16, 32."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats


def resnet(depth: int = 50, stride: str = "pytorch", width: float = 1.0) -> ResNet:
    """Build a ResNet-``depth`` trunk (see :class:`ResNet`)."""
    return ResNet(depth=depth, stride=stride, width=width)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's message advises an unsafe weights_only=False (Decision X12)
        raise ValueError(
            f"{path} ({path.stat().st_size} bytes): not a readable PyTorch file of tensors ({type(err).__name__}); "
            "expected a torchvision-format ResNet state dict saved with torch.save(model.state_dict()). "
            "Check the file given by DEPTHSTUDY_PRETRAINED (download it again if it is truncated).") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a state dict (name -> tensor) or {{'state_dict': ...}}")
    return obj


def load_backbone_weights(model: ResNet, path: str | Path) -> dict:
    """Load a torchvision-format ResNet state dict from the local file ``path`` into ``model``.

    Strict on backbone keys: every model parameter/buffer must be in the file with the same shape,
    and the file may hold nothing else except ``fc.*`` (ignored). BN ``num_batches_tracked``
    counters may be absent (older torchvision checkpoints lack them); they are then left as is.

    Returns:
        ``{"loaded": number of tensors copied, "ignored": sorted list of ignored file keys}``.

    Raises:
        ValueError: keys are missing, unexpected or of the wrong shape (all offending keys are
            listed; ImageNet weights fit only a width-1 model).
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    source = _read_state_dict(path)
    target = model.state_dict()
    ignored = sorted(k for k in source if k.startswith("fc."))
    missing = [k for k in target if k not in source and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in source if k not in target and not k.startswith("fc.")]
    mismatched = [f"{k}: file {tuple(source[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in target.items() if k in source and source[k].shape != v.shape]
    if missing or unexpected or mismatched:
        hint = "" if model.width == 1.0 else (f" (this ResNet has width {model.width:g}; "
                                              "ImageNet weights exist at width 1)")
        raise ValueError(
            f"{path} does not match ResNet-{model.depth}{hint}: missing keys {missing}; "
            f"unexpected keys {unexpected}; shape mismatches {mismatched}")
    loadable = {k: source[k] for k in target if k in source}
    model.load_state_dict(loadable, strict=False)
    return {"loaded": len(loadable), "ignored": ignored}


__all__ = ["InputNorm", "ResNet", "BasicBlock", "Bottleneck", "resnet", "load_backbone_weights",
           "scale_channels", "IMAGENET_MEAN", "IMAGENET_STD", "CAFFE_BGR_MEAN"]
