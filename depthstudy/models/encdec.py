"""EncdDecd, the plain encoder-decoder of Jiao et al. suppl. Table 8 (reference [9]).

Decision J16: reference [9] is not identified (the supplement's reference list is missing), so
this is a plain symmetric SegNet-style conv encoder-decoder trained from scratch:

- Encoder stage s = 0..depth-1: two (3x3 conv, no bias) + BN + ReLU layers with
  ``base * 2**min(s, 3)`` channels (VGG-like doubling, capped at 8 * base), then 2x2 max-pool,
  stride 2, ``ceil_mode=True`` (so odd sizes keep their last row/column).
- Decoder stage s = depth-1..0 (mirror): upsample to the exact pre-pool size of encoder stage s,
  then two 3x3 conv + BN + ReLU layers, the second one going down to the channels of stage s-1
  (stage 0 keeps ``base``).
- Upsampling: ``"unpool"`` (default) = max-unpooling with the encoder's pooling indices, as
  SegNet; ``"bilinear"`` = bilinear resize. Both restore the exact encoder sizes, so any input
  size works (no multiple-of-2**depth requirement).
- Output: 3x3 conv ``base`` -> 1 with bias, no activation (none is given): depth in metres at the
  input resolution.
- No skip connections and no pretrained encoder: "plain" is the one thing the supplement implies.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import MODELS
from .fcrn import check_image, conv_bn_relu, resize_to
from .resnet import InputNorm

UPSAMPLING = ("unpool", "bilinear")


def stage_channels(base: int, depth: int) -> list[int]:
    """Encoder channels per stage: base * 2**min(s, 3), e.g. 32, 64, 128, 256, 256."""
    return [base * 2 ** min(s, 3) for s in range(depth)]


class EncDec(nn.Module):
    """SegNet-style encoder-decoder for depth (see the module docstring).

    Args:
        base: channels of the first stage (>= 1).
        depth: number of encoder (and decoder) stages, 1..6.
        input_norm: ``InputNorm`` mode.
        upsample: ``"unpool"`` or ``"bilinear"``.
    """

    def __init__(self, base: int = 32, depth: int = 5, input_norm: str = "imagenet",
                 upsample: str = "unpool"):
        super().__init__()
        if not isinstance(base, int) or base < 1:
            raise ValueError(f"base must be a positive int, got {base!r}")
        if not isinstance(depth, int) or not 1 <= depth <= 6:
            raise ValueError(f"depth must be an int in 1..6, got {depth!r}")
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {UPSAMPLING}, got {upsample!r}")
        self.upsample = upsample
        self.norm = InputNorm(input_norm)
        chans = stage_channels(base, depth)
        ins = [3] + chans[:-1]
        self.encoder = nn.ModuleList(
            nn.Sequential(conv_bn_relu(i, c), conv_bn_relu(c, c)) for i, c in zip(ins, chans))
        outs = [base] + chans[:-1]
        self.decoder = nn.ModuleList(
            nn.Sequential(conv_bn_relu(c, c), conv_bn_relu(c, o)) for c, o in zip(chans, outs))
        self.pred = nn.Conv2d(base, 1, 3, padding=1, bias=True)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """image [B,3,H,W] RGB in [0,1] -> {"depth": [B,1,H,W] metres}."""
        check_image(image)
        x = self.norm(image)
        trail = []
        for stage in self.encoder:
            x = stage(x)
            size = x.shape[-2:]
            x, idx = F.max_pool2d(x, 2, stride=2, ceil_mode=True, return_indices=True)
            trail.append((size, idx))
        for stage, (size, idx) in zip(reversed(self.decoder), reversed(trail)):
            if self.upsample == "unpool":
                x = F.max_unpool2d(x, idx, 2, stride=2, output_size=size)
            else:
                x = resize_to(x, size)
            x = stage(x)
        return {"depth": self.pred(x)}


def encdec_options(profile) -> dict:
    """Base width 32 scaled by the profile's backbone width multiplier, a multiple of 8, at least 8."""
    return {"base": max(8, int(round(32 * profile.backbone_width / 8)) * 8)}


@MODELS.register("encdec", from_profile=encdec_options)
def build_encdec(base: int = 32, depth: int = 5, input_norm: str = "imagenet",
                 upsample: str = "unpool") -> EncDec:
    """Build :class:`EncDec` (decision J16)."""
    return EncDec(base=base, depth=depth, input_norm=input_norm, upsample=upsample)


__all__ = ["EncDec", "build_encdec", "stage_channels"]
