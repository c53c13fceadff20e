"""Laina et al. FCRN (ResNet-50 + up-projection), the baseline of Jiao et al. suppl. Table 8.

Structure (from the authors' TF port ``irolaina/FCRN-DepthPrediction``):
ResNet-50 (Caffe stride placement) -> ``layer1`` 1x1 conv 2048->1024 with bias + BN (no ReLU)
-> four up-projection blocks 1024->512->256->128->64, each doubling the resolution (1/32 -> 1/2)
-> dropout -> 3x3 conv 64->1 (with bias, no output activation) -> bilinear resize to the input.
The prediction conv's bias starts at :data:`DEPTH_BIAS_M` (Decision J18; the TF port restores
trained weights and gives no initialisation).

The up-projection is computed in the fast "interleaving" form. The slow form it replaces is:
zero-unpool x2 (each input pixel ``x[i, j]`` goes to ``y[2i, 2j]``, the top-left of its 2x2 cell,
the other three positions are 0), then a 5x5 convolution (cross-correlation, zero padding 2).
Write ``K`` for that 5x5 kernel. An output pixel at (2i + r, 2j + c), r, c in {0, 1}, only sees
the non-zero rows/cols of ``y``, which gives four small convolutions on the low-resolution input:

==========  =========  ================  ==========================  ============================
position    conv       kernel = K[...]   input rows / cols read      zero padding (l, r, t, b)
==========  =========  ================  ==========================  ============================
A (r0, c0)  3x3        K[0::2, 0::2]     i-1..i+1 / j-1..j+1         (1, 1, 1, 1)
B (r1, c0)  2x3        K[1::2, 0::2]     i..i+1   / j-1..j+1         (1, 1, 0, 1)
C (r0, c1)  3x2        K[0::2, 1::2]     i-1..i+1 / j..j+1           (0, 1, 1, 1)
D (r1, c1)  2x2        K[1::2, 1::2]     i..i+1   / j..j+1           (0, 1, 0, 1)
==========  =========  ================  ==========================  ============================

so the fast form equals the slow form exactly (``tests/test_fcrn.py`` checks this numerically).
Deviations from the TF port, both to keep that exact equivalence:

- The TF port pads B, C and D on the top/left instead of the bottom/right, i.e. its odd output
  rows/cols read input rows i-1..i where the slow form reads i..i+1: a one-pixel shift of the
  odd positions against the slow form. We use the exact (bottom/right) padding.
- The TF port gives each of the four convs its own bias; the slow form has one bias, and BN
  follows each of these convs, so the four convs here have no bias (four independent biases would
  only add a parity-dependent offset, a checkerboard the slow form cannot produce).

Other choices: the BN layers use PyTorch's default eps 1e-5 (the TF port: 1e-4). The TF port is an
inference release with dropout keep-probability 1; the training dropout rate is in no source,
so ``dropout`` defaults to 0.

Inputs whose sides are not multiples of 32: every ResNet stride-2 stage gives ceil(n / 2), so the
2x grid of an up-projection is the encoder's map one level finer or one larger; the block crops
the bottom/right excess. With top-left unpooling, grid position 2i lies at input position 2i, so
the crop keeps the maps aligned with the encoder's (and with the image).

Also defines small layers shared by the Jiao models: :func:`conv_bn_relu`, :func:`resize_to`,
:func:`check_image`, :class:`InterleavedUpConv`, :class:`UpProjection`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import MODELS
from .resnet import InputNorm, backbone_options, load_backbone_weights, pretrained_path, resnet

Size = tuple[int, int]

# (kernel (h, w), F.pad padding (left, right, top, bottom)) of convs A, B, C, D; see the table above.
_FAST_CONVS = (((3, 3), (1, 1, 1, 1)), ((2, 3), (1, 1, 0, 1)),
               ((3, 2), (0, 1, 1, 1)), ((2, 2), (0, 1, 0, 1)))


DEPTH_BIAS_M = 2.5
"""Initial bias of the depth prediction convs of FCRN and the structure-study networks, in metres
(Decision J18): about the median depth of indoor scenes (SynthRooms' training median is 2.48 m)."""

def check_image(image: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``image`` is a float tensor [B,3,H,W]."""
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a tensor [B,3,H,W] (RGB in [0,1]), got {shape}")
    if not image.is_floating_point():
        raise ValueError(f"image must be a floating-point tensor, got dtype {image.dtype}")


def resize_to(x: torch.Tensor, size: Size | torch.Size) -> torch.Tensor:
    """Bilinear resize of [B,C,h,w] to ``size`` = (H, W) (align_corners=False); no-op if equal."""
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def half_size(image_size: Size | torch.Size) -> Size:
    """Size of the 1/2-scale map of an (H, W) image: ceil(H/2), ceil(W/2), as ResNet's conv1."""
    return (int(image_size[0]) + 1) // 2, (int(image_size[1]) + 1) // 2


def conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    """``kernel`` x ``kernel`` conv (no bias, 'same' padding) + BN + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def interleave(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Four maps [N,C,h,w] -> one [N,C,2h,2w] with a at (even, even), b at (odd row, even col),
    c at (even row, odd col), d at (odd, odd)."""
    n, ch, h, w = a.shape
    even_rows = torch.stack((a, c), dim=-1).reshape(n, ch, h, 2 * w)
    odd_rows = torch.stack((b, d), dim=-1).reshape(n, ch, h, 2 * w)
    return torch.stack((even_rows, odd_rows), dim=-2).reshape(n, ch, 2 * h, 2 * w)


class InterleavedUpConv(nn.Module):
    """Zero-unpool x2 + 5x5 conv, computed as four small convs interleaved (module docstring).

    Args:
        cin, cout: channels. The convs have no bias (a BN always follows; module docstring).

    Attributes:
        convs: ``nn.ModuleList`` of the A (3x3), B (2x3), C (3x2), D (2x2) convs.
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(cin, cout, k, bias=False) for k, _ in _FAST_CONVS)

    def forward(self, x: torch.Tensor, size: Size | None = None) -> torch.Tensor:
        """x [N,cin,h,w] -> [N,cout,2h,2w], cropped at the bottom/right to ``size`` if given.

        Raises:
            ValueError: ``size`` is larger than 2h x 2w.
        """
        outs = [conv(F.pad(x, pad)) for conv, (_, pad) in zip(self.convs, _FAST_CONVS)]
        y = interleave(*outs)
        if size is None:
            return y
        if size[0] > y.shape[-2] or size[1] > y.shape[-1]:
            raise ValueError(f"up-projection target size {tuple(size)} exceeds the 2x grid "
                             f"{tuple(y.shape[-2:])} of its input {tuple(x.shape[-2:])}")
        return y[..., : size[0], : size[1]]


class UpProjection(nn.Module):
    """Laina's up-projection block: doubles the resolution, ``cin`` -> ``cout`` channels.

    branch1 = InterleavedUpConv -> BN -> ReLU -> 3x3 conv (no bias) -> BN;
    branch2 = InterleavedUpConv -> BN; output = ReLU(branch1 + branch2).
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up1 = InterleavedUpConv(cin, cout)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.up2 = InterleavedUpConv(cin, cout)
        self.bn3 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, size: Size | None = None) -> torch.Tensor:
        """x [N,cin,h,w] -> [N,cout,2h,2w] (or cropped to ``size``, see InterleavedUpConv)."""
        b1 = self.bn2(self.conv(F.relu(self.bn1(self.up1(x, size)))))
        b2 = self.bn3(self.up2(x, size))
        return F.relu(b1 + b2)


def decoder_channels(c5: int, stages: int = 5) -> list[int]:
    """Channel widths c5/2, c5/4, ... (``stages`` of them): 1024, 512, 256, 128, 64 for c5 = 2048.

    Narrow backbones (``backbone_width`` < 1, ResNet-18/34) scale the decoder by the same ratio.
    """
    widths = [c5 // 2 ** k for k in range(1, stages + 1)]
    if widths[-1] < 1:
        raise ValueError(f"backbone output of {c5} channels is too narrow for {stages} halvings")
    return widths


def feature_sizes(feats: list[torch.Tensor], image_size: Size | torch.Size) -> list[Size]:
    """Target sizes of the four up-projections: c4, c3, c2 sizes and the 1/2-scale size."""
    c2, c3, c4, _ = feats
    return [tuple(c4.shape[-2:]), tuple(c3.shape[-2:]), tuple(c2.shape[-2:]), half_size(image_size)]


def build_encoder(backbone_depth: int, backbone_width: float, stride: str,
                  pretrained: str | Path | None, model: str) -> nn.Module:
    """ResNet trunk, with ImageNet weights from the local file ``pretrained`` if given.

    torchvision weights were trained with PyTorch stride placement and ImageNet normalisation;
    loading them into a Caffe-stride trunk works (same keys) but warns.
    """
    encoder = resnet(depth=backbone_depth, stride=stride, width=backbone_width)
    if pretrained is not None:
        if stride != "pytorch":
            warnings.warn(f"{model}: torchvision-format weights loaded into a stride={stride!r} "
                          "ResNet; they were trained with stride='pytorch'", stacklevel=3)
        load_backbone_weights(encoder, pretrained)
    return encoder


class FCRN(nn.Module):
    """Laina et al. FCRN (see the module docstring).

    Args:
        backbone_depth, backbone_width, stride: the ResNet trunk (see ``resnet.resnet``).
        input_norm: ``InputNorm`` mode.
        dropout: dropout probability before the prediction conv (module docstring).
        pretrained: local torchvision-format ResNet weights, or None.
    """

    def __init__(self, backbone_depth: int = 50, backbone_width: float = 1.0, stride: str = "caffe",
                 input_norm: str = "imagenet", dropout: float = 0.0,
                 pretrained: str | Path | None = None):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.norm = InputNorm(input_norm)
        self.encoder = build_encoder(backbone_depth, backbone_width, stride, pretrained, "fcrn")
        c5 = self.encoder.out_channels[-1]
        widths = decoder_channels(c5)
        self.layer1 = nn.Sequential(nn.Conv2d(c5, widths[0], 1, bias=True),
                                    nn.BatchNorm2d(widths[0]))
        self.up = nn.ModuleList(UpProjection(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(dropout)
        self.pred = nn.Conv2d(widths[-1], 1, 3, padding=1, bias=True)
        nn.init.constant_(self.pred.bias, DEPTH_BIAS_M)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """image [B,3,H,W] RGB in [0,1] -> {"depth": [B,1,H,W] metres}."""
        check_image(image)
        feats = self.encoder(self.norm(image))
        x = self.layer1(feats[-1])
        for block, size in zip(self.up, feature_sizes(feats, image.shape[-2:])):
            x = block(x, size)
        depth = self.pred(self.dropout(x))
        return {"depth": resize_to(depth, image.shape[-2:])}


def fcrn_options(profile) -> dict:
    """Backbone and ImageNet weights of ``profile`` (torchvision weights: PyTorch stride placement)."""
    pretrained = pretrained_path(profile)
    return {**backbone_options(profile), "pretrained": pretrained, **({"stride": "pytorch"} if pretrained else {})}


@MODELS.register("fcrn", from_profile=fcrn_options)
def build_fcrn(backbone_depth: int = 50, backbone_width: float = 1.0, stride: str = "caffe",
               input_norm: str = "imagenet", dropout: float = 0.0,
               pretrained: str | Path | None = None) -> FCRN:
    """Build :class:`FCRN` (Laina et al., 3DV 2016)."""
    return FCRN(backbone_depth=backbone_depth, backbone_width=backbone_width, stride=stride,
                input_norm=input_norm, dropout=dropout, pretrained=pretrained)


__all__ = ["FCRN", "UpProjection", "InterleavedUpConv", "interleave", "conv_bn_relu", "resize_to",
           "half_size", "check_image", "decoder_channels", "feature_sizes", "build_encoder",
           "build_fcrn"]
