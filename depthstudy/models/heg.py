"""Hierarchical embedding generators of CLIFFNet (paper 3.1, Tables 1-2).

A HEG maps a depth map [B,1,H,W] in metres (raw, not normalised, as in the authors' code) to
conv feature maps; the hierarchical loss compares ``embed(gt)`` and ``embed(pred)`` at layers
2 and 4 (post-BN, post-LeakyReLU outputs, as in the authors' code).

- HEG-S (:class:`HEGS`, ``build("heg_s")``): depth-based scene classifier, Table 1.
- HEG-R (:class:`HEGR`, ``build("heg_r")``): depth auto-encoder, encoder per Table 2 (no BN),
  decoder per Decisions C1-C5 (see :class:`HEGR`).
- HEG-Rn: :func:`random_heg`, an untrained HEG with a fixed seed. Its BN running statistics are
  the defaults (mean 0, var 1), so in eval mode each BN is the affine identity up to
  1/sqrt(1 + eps).
- HEG-Im: ``build("heg_s", in_channels=3, num_scenes=K)`` trained on an RGB classification task,
  then :func:`to_depth_input`, which averages the first-layer kernels over the input channels
  (paper 4.x). ImageNet is not available offline: the notebooks train it on SynthRooms scene
  types from the RGB image instead (a documented deviation).
- :func:`freeze`: eval mode, no parameter gradients, and ``train()`` no longer leaves eval mode,
  so a frozen HEG inside a loss module keeps its BN running statistics.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import MODELS

CONV_CHANNELS = (16, 16, 32, 32, 64, 64)
CONV_STRIDES = (1, 1, 2, 1, 2, 1)
FC_WIDTH = 256
LEAKY_SLOPE = 0.01


def _act() -> nn.LeakyReLU:
    """The HEG conv activation: LeakyReLU with negative slope 0.01 (Tables 1-2)."""
    return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)


def _scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


def _conv_plan(in_channels: int, width: float) -> list[tuple[int, int, int]]:
    """(cin, cout, stride) of conv layers 1-6 (Tables 1-2) with channels scaled by ``width``."""
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    outs = [_scaled(c, width) for c in CONV_CHANNELS]
    return list(zip([in_channels] + outs[:-1], outs, CONV_STRIDES))


def _encoder_convs(plan: list[tuple[int, int, int]], bn: bool) -> nn.ModuleList:
    """Conv layers 1-6: conv3x3 (pad 1; bias only without BN) [+ BN2d] + LeakyReLU(0.01)."""
    layers = []
    for cin, cout, stride in plan:
        mods: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not bn)]
        if bn:
            mods.append(nn.BatchNorm2d(cout))
        mods.append(_act())
        layers.append(nn.Sequential(*mods))
    return nn.ModuleList(layers)


class _HEG(nn.Module):
    """Shared HEG behaviour: conv layers ``self.convs`` (1-based in the API), ``embed``, freezing."""

    convs: nn.ModuleList
    in_channels: int
    frozen: bool = False

    def _check(self, depth: torch.Tensor) -> None:
        if depth.dim() != 4 or depth.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects depth [B,{self.in_channels},H,W], "
                             f"got shape {tuple(depth.shape)}")

    def embed(self, depth: torch.Tensor, layers: tuple[int, ...] = (2, 4)) -> list[torch.Tensor]:
        """Outputs of conv layers ``layers`` (1-based, 1..6), after BN (HEG-S) and LeakyReLU.

        depth [B,in_channels,H,W] in metres -> one tensor per requested layer, in the order
        requested; layer k has stride 1 for k <= 2, 2 for k <= 4, 4 for k <= 6. Only the layers
        up to max(layers) are computed.
        """
        self._check(depth)
        if not layers or any(not 1 <= k <= len(self.convs) for k in layers):
            raise ValueError(f"layers must be a non-empty tuple of values in 1..{len(self.convs)}, "
                             f"got {layers!r}")
        outs: dict[int, torch.Tensor] = {}
        x = depth
        for k, conv in enumerate(self.convs[: max(layers)], start=1):
            x = conv(x)
            outs[k] = x
        return [outs[k] for k in layers]

    def _encode(self, depth: torch.Tensor) -> torch.Tensor:
        """Layers 1-7: conv layers, then adaptive max-pool to 2x2 and flatten -> [B, 4*C6]."""
        self._check(depth)
        x = depth
        for conv in self.convs:
            x = conv(x)
        return torch.flatten(F.adaptive_max_pool2d(x, 2), 1)

    def train(self, mode: bool = True) -> "_HEG":
        """As ``nn.Module.train``, except that a frozen HEG stays in eval mode."""
        return super().train(mode and not self.frozen)


class HEGS(_HEG):
    """HEG-S, paper Table 1: depth-based scene classifier.

    Layers 1-6: conv3x3 (pad 1, no bias) + BN + LeakyReLU(0.01), channels 16,16,32,32,64,64,
    strides 1,1,2,1,2,1. Layer 7: adaptive max-pool 2x2 + flatten (256). Layers 8-9: FC 256 +
    BN1d + ReLU. Layer 10: FC -> ``num_scenes`` logits (the softmax is in the cross-entropy loss).

    Decision (Table 1 is silent): FC layers 8-9 have no bias, like the convs, because a BN follows;
    layer 10 has a bias. ``width`` scales every conv channel count and the FC width (paper: 1).

    forward(depth [B,in_channels,H,W] metres) -> {"scene": logits [B,num_scenes]}.
    """

    def __init__(self, num_scenes: int = 249, in_channels: int = 1, width: float = 1.0):
        super().__init__()
        if num_scenes < 1:
            raise ValueError(f"num_scenes must be >= 1, got {num_scenes!r}")
        plan = _conv_plan(in_channels, width)
        self.in_channels = in_channels
        self.convs = _encoder_convs(plan, bn=True)
        hidden = _scaled(FC_WIDTH, width)
        flat = 4 * plan[-1][1]
        self.classifier = nn.Sequential(
            nn.Linear(flat, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_scenes))

    def forward(self, depth: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"scene": self.classifier(self._encode(depth))}


class HEGR(_HEG):
    """HEG-R: depth auto-encoder; encoder per paper Table 2, decoder per Decisions C1-C5.

    Encoder: conv layers 1-6 as HEG-S but NO BN, each conv3x3 + LeakyReLU(0.01) (the convs
    have a bias: a decision, Table 2 is silent and no BN follows);
    layer 7 adaptive max-pool 2x2 + flatten (256); layer 8 FC 256 + ReLU = the 256-d bottleneck.

    Decoder (all [INFER]/[UNKNOWN] in the paper):
        Decision C1: FC 256->256 (+ activation), reshape to 64x2x2, bilinear upsample to the
            encoder's layer-6 size (ceil(H/4), ceil(W/4)).
        Decision C2: mirror of conv layers 6..1: conv3x3 64->64; ConvTranspose2d(64->32, k=4,
            stride 2, pad 1) mirroring the stride-2 layer 5; conv3x3 32->32; ConvTranspose2d
            (32->16, k=4, s=2, p=1) mirroring layer 3; conv3x3 16->16; final conv3x3 16->1.
            If the input size is not a multiple of 4 the 4*ceil(H/4) x 4*ceil(W/4) result is
            bilinearly resized to H x W.
        Decision C3: every decoder layer except the last (FC included) is followed by
            LeakyReLU(0.01), the encoder's activation.
        Decision C4: no output activation; the reconstruction is linear in metres, like
            CLIFFNet's own depth output.
        Decision C5: the reconstruction loss is L1 (applied by the training code, not here).
        Decision C6: the input is raw depth in metres, as HEG-S in the authors' code.

    forward(depth [B,in_channels,H,W]) -> {"depth": reconstruction [B,1,H,W]}.
    """

    def __init__(self, in_channels: int = 1, width: float = 1.0):
        super().__init__()
        plan = _conv_plan(in_channels, width)
        self.in_channels = in_channels
        self.convs = _encoder_convs(plan, bn=False)
        c = [cout for _, cout, _ in plan]
        hidden = _scaled(FC_WIDTH, width)
        self.bottleneck = nn.Sequential(nn.Linear(4 * c[5], hidden), nn.ReLU(inplace=True))
        self.dec_fc = nn.Sequential(nn.Linear(hidden, 4 * c[5]), _act())
        self.decoder = nn.Sequential(
            nn.Conv2d(c[5], c[4], 3, padding=1), _act(),
            nn.ConvTranspose2d(c[4], c[3], 4, stride=2, padding=1), _act(),
            nn.Conv2d(c[3], c[2], 3, padding=1), _act(),
            nn.ConvTranspose2d(c[2], c[1], 4, stride=2, padding=1), _act(),
            nn.Conv2d(c[1], c[0], 3, padding=1), _act(),
            nn.Conv2d(c[0], 1, 3, padding=1))
        self._bottleneck_channels = c[5]

    def encode(self, depth: torch.Tensor) -> torch.Tensor:
        """depth [B,in_channels,H,W] -> 256-d bottleneck code [B,256]."""
        return self.bottleneck(self._encode(depth))

    def decode(self, code: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """code [B,256] -> depth [B,1,*size] (Decisions C1-C4)."""
        h4, w4 = -(-size[0] // 4), -(-size[1] // 4)
        x = self.dec_fc(code).view(code.shape[0], self._bottleneck_channels, 2, 2)
        x = self.decoder(F.interpolate(x, size=(h4, w4), mode="bilinear", align_corners=False))
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        return x

    def forward(self, depth: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"depth": self.decode(self.encode(depth), tuple(depth.shape[-2:]))}


def heg_options(profile) -> dict:
    """HEGs have the paper's fixed size at every profile (their task sets the scene count)."""
    return {}


@MODELS.register("heg_s", from_profile=heg_options)
def heg_s(num_scenes: int = 249, in_channels: int = 1, width: float = 1.0) -> HEGS:
    """HEG-S (paper Table 1); 249 scenes is the NYUv2 training-scene count."""
    return HEGS(num_scenes=num_scenes, in_channels=in_channels, width=width)


@MODELS.register("heg_r", from_profile=heg_options)
def heg_r(in_channels: int = 1, width: float = 1.0) -> HEGR:
    """HEG-R (paper Table 2 encoder, Decisions C1-C6 decoder)."""
    return HEGR(in_channels=in_channels, width=width)


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode with ``requires_grad=False`` on every parameter; returns it.

    Gradients still flow through the frozen model to its input. A HEG additionally stays in eval
    mode through later ``train()`` calls (BN keeps its running statistics).
    """
    for p in model.parameters():
        p.requires_grad_(False)
    if isinstance(model, _HEG):
        model.frozen = True
    return model.eval()


def random_heg(kind: str = "s", seed: int = 0, **kw) -> _HEG:
    """HEG-Rn: a randomly initialised, frozen, eval-mode HEG (``kind`` "s" or "r").

    The weights depend only on ``seed`` (PyTorch default init drawn from a forked RNG, so the
    global RNG is untouched). ``kw`` go to :func:`heg_s` or :func:`heg_r`. BN running statistics
    of a random HEG-S are the defaults (mean 0, var 1).
    """
    builders = {"s": heg_s, "r": heg_r}
    if kind not in builders:
        raise ValueError(f"kind must be 's' or 'r', got {kind!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = builders[kind](**kw)
    return freeze(model)


def to_depth_input(model: _HEG) -> _HEG:
    """HEG-Im: a copy of an RGB-trained HEG that takes 1-channel depth.

    The first conv's kernels [C,3,3,3] are averaged over the input channels -> [C,1,3,3]
    (paper 4.x: "first layer ... averaged"); everything else is copied unchanged.
    """
    if not isinstance(model, _HEG):
        raise TypeError(f"to_depth_input expects a HEG model, got {type(model).__name__}")
    out = copy.deepcopy(model)
    old = out.convs[0][0]
    new = nn.Conv2d(1, old.out_channels, 3, stride=old.stride, padding=1,
                    bias=old.bias is not None).to(old.weight)
    with torch.no_grad():
        new.weight.copy_(old.weight.mean(dim=1, keepdim=True))
        if old.bias is not None:
            new.bias.copy_(old.bias)
    for p in new.parameters():
        p.requires_grad_(old.weight.requires_grad)
    out.convs[0][0] = new
    out.in_channels = 1
    return out


__all__ = ["HEGS", "HEGR", "heg_s", "heg_r", "freeze", "random_heg", "to_depth_input",
           "CONV_CHANNELS", "CONV_STRIDES"]
