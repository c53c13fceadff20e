"""CLIFFNet (Wang et al., ECCV 2020): ResNet -> FPN -> per-level convs -> 3 CLIFF fusions -> depth.

Built exactly as the authors' released code (scott89/CLIFFNet, [CODE]); the paper configuration
(ResNet-50, width 1, FPN 256, variant ``cliff``, no scene head) has 36,892,481 parameters:
backbone 23,508,032; FPN 3,348,480; 4 per-level heads 2,362,368; 3 CLIFF modules 7,080,960;
prediction head 592,641.

Deviations from the original, by necessity:

- The original loads Caffe ResNet-50 ImageNet weights (``resnet-50-caffe.pth``, unreleased) with
  Caffe stride placement and BGR/255-scale mean-subtracted input. ``pretrained`` here takes a
  local torchvision-format file; torchvision weights were trained with ``input_norm="imagenet"``
  and ``stride="pytorch"``, so use those two settings with them (a warning is issued otherwise).
- The default without weights keeps the code's ``stride="caffe"`` and ``input_norm="caffe"``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import MODELS
from .resnet import InputNorm, backbone_options, load_backbone_weights, pretrained_path, resnet

VARIANTS = ("cliff", "wo_att", "wo_sel", "wo_id", "baseline")


def _upsample(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear resize to ``size`` (align_corners=False), as ``F.interpolate`` in the code."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def _conv_bn_relu(cin: int, cout: int, kernel: int, bias: bool) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FPN(nn.Module):
    """Feature pyramid with BN + ReLU (CLIFFNet's ``network/fpn.py`` with ``bn=True``).

    Laterals: 1x1 conv (bias) + BN + ReLU -> L2..L5. Top-down: M4 = L4 + up(L5), M3 = L3 + up(M4),
    M2 = L2 + up(M3), bilinear resize to the exact lateral size. Outputs: 3x3 conv (bias) + BN +
    ReLU on L5, M4, M3, M2. PyTorch default init.

    Input: [c2, c3, c4, c5]; output: [p2, p3, p4, p5], each ``channels`` wide, same sizes.
    """

    def __init__(self, in_channels: tuple[int, ...], channels: int = 256):
        super().__init__()
        self.lateral = nn.ModuleList(_conv_bn_relu(c, channels, 1, bias=True) for c in in_channels)
        self.output = nn.ModuleList(_conv_bn_relu(channels, channels, 3, bias=True)
                                    for _ in in_channels)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        lat = [m(f) for m, f in zip(self.lateral, feats)]
        merged = [lat[-1]]
        for x in reversed(lat[:-1]):
            merged.insert(0, x + _upsample(merged[0], x.shape[-2:]))
        return [m(x) for m, x in zip(self.output, merged)]


class CLIFF(nn.Module):
    """Cross-level feature fusion of a low-level map x_l [B,C,h,w] and a coarser x_h [B,C,h',w'].

    Every "conv" is 3x3, pad 1, no bias, followed by BN + ReLU (written CBR); init
    ``kaiming_uniform_(a=1)``. Fh = bilinear upsample of x_h to (h, w). Output [B,C,h,w].

    - ``cliff`` (the released code): Fa = x_l * Fh;
      F1 = CBR([x_l, Fa]) (2C->C); F2 = CBR([Fh, F1]) (2C->C); out = F2 + Fh.
      Deviation from paper Eq. (2): the paper writes affine convs W*x + b with no nonlinearity;
      the code (followed here) has no bias and BN + ReLU after each conv.
    - ``wo_att`` (no attention refinement): F1 = CBR([x_l, Fh]) (2C->C); F2 = CBR(F1) (C->C);
      out = F2 + Fh. Decision: the paper's "two convolutional layers on their concatenation"
      read literally, so the second conv sees F1 only.
    - ``wo_sel`` (no feature selection): S = x_l + Fa + Fh with Fa = x_l * Fh;
      F1 = CBR(S) (C->C); F2 = CBR(F1) (C->C); out = F2 + Fh. Decision: the sum keeps C channels
      and the identity of the high-level map is kept (only selection is removed).
    - ``wo_id`` (no identity mapping): as ``cliff`` with out = F2.
    - ``baseline``: S = x_l + Fh; F1 = CBR(S) (C->C); F2 = CBR(F1) (C->C); out = F2.

    The ablation variants are described only in the paper's text (no code).
    """

    def __init__(self, channels: int = 256, variant: str = "cliff"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"CLIFF variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        c = channels
        in1 = 2 * c if variant in ("cliff", "wo_id", "wo_att") else c
        in2 = 2 * c if variant in ("cliff", "wo_id") else c
        self.conv1 = _conv_bn_relu(in1, c, 3, bias=False)
        self.conv2 = _conv_bn_relu(in2, c, 3, bias=False)
        for conv in (self.conv1[0], self.conv2[0]):
            nn.init.kaiming_uniform_(conv.weight, a=1)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        fh = _upsample(high, low.shape[-2:])
        v = self.variant
        if v in ("cliff", "wo_id"):
            f1 = self.conv1(torch.cat([low, low * fh], 1))
            f2 = self.conv2(torch.cat([fh, f1], 1))
        elif v == "wo_att":
            f2 = self.conv2(self.conv1(torch.cat([low, fh], 1)))
        elif v == "wo_sel":
            f2 = self.conv2(self.conv1(low + low * fh + fh))
        else:
            f2 = self.conv2(self.conv1(low + fh))
        return f2 + fh if v in ("cliff", "wo_att", "wo_sel") else f2


class DepthHead(nn.Module):
    """Per-level convs, CLIFF fusions and prediction (CLIFFNet's ``network/fcn.py``).

    Per level (no sharing): 3x3 conv (bias) + BN + ReLU on p2..p5 -> p2'..p5'.
    f4 = CLIFF(p4', p5'), f3 = CLIFF(p3', f4), f2 = CLIFF(p2', f3).
    Prediction on f2: 3x3 conv (no bias) + BN + ReLU, then 3x3 conv C->1 (bias); no activation.

    forward([p2..p5]) -> (depth at stride 4 [B,1,h2,w2], f2 [B,C,h2,w2]).
    """

    def __init__(self, channels: int = 256, variant: str = "cliff"):
        super().__init__()
        self.level = nn.ModuleList(_conv_bn_relu(channels, channels, 3, bias=True) for _ in range(4))
        self.cliff = nn.ModuleList(CLIFF(channels, variant) for _ in range(3))
        self.score = nn.Sequential(_conv_bn_relu(channels, channels, 3, bias=False),
                                   nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, pyramid: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        p = [m(x) for m, x in zip(self.level, pyramid)]
        fused = p[3]
        for i in (2, 1, 0):
            fused = self.cliff[i](p[i], fused)
        return self.score(fused), fused


class SceneHead(nn.Module):
    """MT baseline's scene classifier on res5 (paper 4.x, "global average pooling followed by two
    fully connected layers").

    c5 [B,Cin,h,w] -> GAP -> FC Cin->hidden -> ReLU -> FC hidden->classes -> logits [B,classes].
    Decision: hidden width 256 (the width of every other CLIFFNet head) and a ReLU between the
    two FCs; neither is stated in the paper.
    """

    def __init__(self, in_channels: int, classes: int, hidden: int = 256):
        super().__init__()
        self.fc1 = nn.Linear(in_channels, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, c5: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(c5.mean(dim=(2, 3)))))


class CLIFFNet(nn.Module):
    """CLIFFNet: image [B,3,H,W] RGB in [0,1] -> dict.

    Output keys: ``depth`` [B,1,H,W] in metres at the input size (bilinear, align_corners=False;
    linear output, may be negative; clip at evaluation), ``features`` the fused stride-4 map f2
    [B,fpn_channels,ceil(H/4),ceil(W/4)], and ``scene`` logits [B,scene_classes] when
    ``scene_classes > 0`` (MT baseline).

    Args: see :func:`build_cliffnet`.
    """

    def __init__(self, variant: str = "cliff", backbone_depth: int = 50,
                 backbone_width: float = 1.0, stride: str = "caffe", input_norm: str = "caffe",
                 fpn_channels: int = 256, scene_classes: int = 0, scene_hidden: int = 256):
        super().__init__()
        if fpn_channels < 1:
            raise ValueError(f"fpn_channels must be >= 1, got {fpn_channels!r}")
        if scene_classes < 0:
            raise ValueError(f"scene_classes must be >= 0, got {scene_classes!r}")
        self.input_norm = InputNorm(input_norm)
        self.backbone = resnet(backbone_depth, stride=stride, width=backbone_width)
        self.fpn = FPN(self.backbone.out_channels, fpn_channels)
        self.head = DepthHead(fpn_channels, variant)
        self.scene_head = (SceneHead(self.backbone.out_channels[-1], scene_classes, scene_hidden)
                           if scene_classes > 0 else None)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.backbone(self.input_norm(image))
        depth, f2 = self.head(self.fpn(feats))
        out = {"depth": _upsample(depth, image.shape[-2:]), "features": f2}
        if self.scene_head is not None:
            out["scene"] = self.scene_head(feats[-1])
        return out


def cliffnet_options(profile) -> dict:
    """Backbone, FPN width and ImageNet weights of ``profile`` (torchvision weights need PyTorch
    stride placement and ImageNet normalisation instead of the authors' Caffe ones)."""
    pretrained = pretrained_path(profile)
    return {**backbone_options(profile), "fpn_channels": profile.fpn_channels, "pretrained": pretrained,
            **({"stride": "pytorch", "input_norm": "imagenet"} if pretrained else {})}


@MODELS.register("cliffnet", from_profile=cliffnet_options)
def build_cliffnet(variant: str = "cliff", backbone_depth: int = 50, backbone_width: float = 1.0,
                   stride: str = "caffe", input_norm: str = "caffe", fpn_channels: int = 256,
                   scene_classes: int = 0, scene_hidden: int = 256,
                   pretrained: str | Path | None = None) -> CLIFFNet:
    """Build CLIFFNet.

    Args:
        variant: CLIFF module variant, one of :data:`VARIANTS` (see :class:`CLIFF`).
        backbone_depth: ResNet depth, 18, 34 or 50 (paper: 50).
        backbone_width: ResNet channel multiplier for small profiles (paper: 1.0).
        stride: ResNet stride placement, ``"caffe"`` (paper code) or ``"pytorch"``.
        input_norm: ``"caffe"`` (paper code), ``"imagenet"`` or ``"none"``.
        fpn_channels: width of FPN, heads and CLIFF modules (paper: 256).
        scene_classes: > 0 adds the MT baseline's scene head on res5.
        scene_hidden: hidden width of the scene head (Decision: 256).
        pretrained: local torchvision-format ResNet weights file, loaded strictly into the
            backbone. Such weights expect ``input_norm="imagenet"`` and ``stride="pytorch"``.
    """
    model = CLIFFNet(variant, backbone_depth, backbone_width, stride, input_norm, fpn_channels,
                     scene_classes, scene_hidden)
    if pretrained is not None:
        if input_norm != "imagenet" or stride != "pytorch":
            warnings.warn("torchvision ImageNet weights were trained with input_norm='imagenet' "
                          f"and stride='pytorch'; got input_norm={input_norm!r}, stride={stride!r}",
                          stacklevel=2)
        load_backbone_weights(model.backbone, pretrained)
    return model


__all__ = ["CLIFFNet", "CLIFF", "FPN", "DepthHead", "SceneHead", "VARIANTS", "build_cliffnet"]
