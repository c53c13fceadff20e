"""Jiao et al. (ECCV 2018) synergy network: shared ResNet-50, depth and semantic branches joined
by lateral sharing units, up-skip connections (suppl. Table 3).

Layout at width 1 (channel counts scale with the backbone's c5 for narrow backbones)::

    image -> InputNorm -> ResNet-50 -> c5 (2048 @ 1/32)
          -> conv2: 1x1 conv 2048->1024 + BN + ReLU                       (1/32)
          -> upconv_dep1 | upconv_sem1: UpProjection 1024->512            (1/16)
          -> LSU1 -> upconv_dep2 | upconv_sem2: 512->256                  (1/8)
          -> LSU2 -> upconv_dep3 | upconv_sem3: 256->128                  (1/4)
          -> LSU3 -> upconv_dep4 | upconv_sem4: 128->64                   (1/2)
          -> h(conv2) + h(up1) + h(up2) + h(up3) + up4, per branch        (64 @ 1/2)
          -> conv_dep 64->1 | conv_sem 64->C (3x3, bias, no BN/ReLU)      (1/2)
          -> bilinear resize to the input size: "depth" [B,1,H,W], "semantic" [B,C,H,W]

Decisions (``docs/decisions.md``, section J):

- J1: one learned scalar per feature map in each LSU (``lsu="scalar"``, 4 per LSU, 12 in all);
  ``lsu="channel"`` gives one weight per channel instead.
- J2: LSU weights start at ``lsu_init`` = 0, so each LSU starts as the identity
  (dep_in = dep, sem_in = sem) and the two branches are independent at initialisation.
- J3: "upconv" = Laina's up-projection block (:class:`fcrn.UpProjection`), which ends in ReLU.
- J4: the up-skip operator h is a bilinear resize to the size of upconv4 (the 1/2-scale map)
  followed by a ``upskip_kernel`` x ``upskip_kernel`` conv (3 by default, or 1) to 64 channels +
  BN + ReLU; each branch has its own four h's (separate weights, as the rest of each branch).
- J5: out_dep / out_sem are plain bilinear resizes of conv_dep / conv_sem to the input size (no
  extra 1->1 conv); no output activation on depth (none is given).
- Table 3 says every conv is followed by BN + ReLU; that excludes the two prediction convs
  (conv_dep, conv_sem), which are linear with a bias. Convs followed by BN have no bias. The
  kernel of conv_dep / conv_sem is not given: 3x3, as FCRN's prediction conv.
- ``depth_only=True`` (suppl. Table 7): semantic branch and LSUs removed; outputs only "depth".
- The encoder defaults to PyTorch stride placement and ImageNet normalisation (the torchvision
  weights a user can load from a file); Jiao's backbone weights are not released.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from . import MODELS
from .fcrn import UpProjection, build_encoder, check_image, conv_bn_relu, decoder_channels, feature_sizes, resize_to
from .resnet import InputNorm, backbone_options, pretrained_path

TASKS = ("depth", "semantic")
LSU_MODES = ("scalar", "channel")


class LateralSharingUnit(nn.Module):
    """dep_in = (1 + phi_D) * dep + phi_S * sem;  sem_in = (1 + gamma_S) * sem + gamma_D * dep.

    Args:
        channels: channels of both maps (used by ``mode="channel"``).
        mode: ``"scalar"`` (one weight per map, decision J1) or ``"channel"`` (one per channel).
        init: initial value of all four weights (decision J2: 0 = identity).
    """

    NAMES = ("phi_D", "phi_S", "gamma_S", "gamma_D")

    def __init__(self, channels: int, mode: str = "scalar", init: float = 0.0):
        super().__init__()
        if mode not in LSU_MODES:
            raise ValueError(f"lsu must be one of {LSU_MODES}, got {mode!r}")
        shape = (1,) if mode == "scalar" else (1, channels, 1, 1)
        for name in self.NAMES:
            self.register_parameter(name, nn.Parameter(torch.full(shape, float(init))))

    def forward(self, dep: torch.Tensor, sem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """dep, sem [B,C,h,w] -> (dep_in, sem_in), same shapes."""
        dep_in = (1 + self.phi_D) * dep + self.phi_S * sem
        sem_in = (1 + self.gamma_S) * sem + self.gamma_D * dep
        return dep_in, sem_in

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """phi_D, phi_S feed only the depth branch; gamma_S, gamma_D only the semantic branch."""
        return [self.phi_D, self.phi_S] if task == "depth" else [self.gamma_S, self.gamma_D]


class Branch(nn.Module):
    """One task branch: four up-projections, four up-skips h, and the prediction conv.

    Args:
        widths: [conv2, up1, up2, up3, up4] channels, e.g. [1024, 512, 256, 128, 64].
        out_channels: 1 (depth) or C (semantic).
        upskip_kernel: kernel of the up-skip convs (decision J4).
    """

    def __init__(self, widths: list[int], out_channels: int, upskip_kernel: int):
        super().__init__()
        self.up = nn.ModuleList(UpProjection(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.skip = nn.ModuleList(conv_bn_relu(c, widths[-1], upskip_kernel) for c in widths[:-1])
        self.pred = nn.Conv2d(widths[-1], out_channels, 3, padding=1, bias=True)

    def head(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """maps = [conv2, up1, up2, up3, up4] -> prediction [B,out,h4,w4] at up4's (1/2) scale."""
        size = maps[-1].shape[-2:]
        x = maps[-1]
        for h, m in zip(self.skip, maps[:-1]):
            x = x + h(resize_to(m, size))
        return self.pred(x)


class SynergyNet(nn.Module):
    """Jiao et al. synergy network (see the module docstring for the structure and decisions).

    Args:
        classes: semantic classes C (4 or 40 in the paper), >= 2.
        depth_only: drop the semantic branch and the LSUs (suppl. Table 7).
        backbone_depth, backbone_width, stride: the ResNet trunk.
        input_norm: ``InputNorm`` mode.
        lsu: ``"scalar"`` or ``"channel"`` (decision J1); lsu_init: initial weight (J2).
        pretrained: local torchvision-format ResNet weights, or None.
        upskip_kernel: 1 or 3 (decision J4).
    """

    def __init__(self, classes: int = 40, depth_only: bool = False, backbone_depth: int = 50,
                 backbone_width: float = 1.0, stride: str = "pytorch", input_norm: str = "imagenet",
                 lsu: str = "scalar", lsu_init: float = 0.0, pretrained: str | Path | None = None,
                 upskip_kernel: int = 3):
        super().__init__()
        if not isinstance(classes, int) or classes < 2:
            raise ValueError(f"classes must be an int >= 2, got {classes!r}")
        if upskip_kernel not in (1, 3):
            raise ValueError(f"upskip_kernel must be 1 or 3, got {upskip_kernel!r}")
        if lsu not in LSU_MODES:
            raise ValueError(f"lsu must be one of {LSU_MODES}, got {lsu!r}")
        self.classes, self.depth_only = classes, depth_only
        self.norm = InputNorm(input_norm)
        self.encoder = build_encoder(backbone_depth, backbone_width, stride, pretrained, "synergy")
        c5 = self.encoder.out_channels[-1]
        widths = decoder_channels(c5)
        self.conv2 = conv_bn_relu(c5, widths[0], 1)
        self.depth_branch = Branch(widths, 1, upskip_kernel)
        if not depth_only:
            self.semantic_branch = Branch(widths, classes, upskip_kernel)
            self.lsu = nn.ModuleList(LateralSharingUnit(c, lsu, lsu_init) for c in widths[1:4])

    def forward(self, image: torch.Tensor, features: bool = False) -> dict:
        """image [B,3,H,W] RGB in [0,1] -> dict:

        - ``depth`` [B,1,H,W] (metres), ``semantic`` [B,C,H,W] logits (not when ``depth_only``);
        - with ``features=True`` also ``features``: {"backbone": c5, "bottleneck": conv2 output,
          "depth_up1": upconv_dep1, "semantic_up1": upconv_sem1 (not when depth_only)}, the
          activations of suppl. section 1's attention maps.
        """
        check_image(image)
        feats = self.encoder(self.norm(image))
        bottleneck = self.conv2(feats[-1])
        sizes = feature_sizes(feats, image.shape[-2:])
        dep, sem = [bottleneck], [bottleneck]
        for i, size in enumerate(sizes):
            d_in, s_in = dep[-1], sem[-1]
            if i > 0 and not self.depth_only:
                d_in, s_in = self.lsu[i - 1](d_in, s_in)
            dep.append(self.depth_branch.up[i](d_in, size))
            if not self.depth_only:
                sem.append(self.semantic_branch.up[i](s_in, size))
        out = {"depth": resize_to(self.depth_branch.head(dep), image.shape[-2:])}
        if not self.depth_only:
            out["semantic"] = resize_to(self.semantic_branch.head(sem), image.shape[-2:])
        if features:
            out["features"] = {"backbone": feats[-1], "bottleneck": bottleneck,
                               "depth_up1": dep[1]}
            if not self.depth_only:
                out["features"]["semantic_up1"] = sem[1]
        return out

    def branch_parameters(self, task: str) -> list[nn.Parameter]:
        """Parameters used only by ``task``'s branch (its up-convs, up-skips, prediction conv and
        its LSU weights: phi_* for depth, gamma_* for semantic); encoder and conv2 excluded."""
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if task == "semantic" and self.depth_only:
            raise ValueError("this synergy network is depth_only: it has no semantic branch")
        if self.depth_only:
            return list(self.depth_branch.parameters())
        branch = self.depth_branch if task == "depth" else self.semantic_branch
        return list(branch.parameters()) + [p for u in self.lsu for p in u.task_parameters(task)]

    def lsu_weights(self) -> dict[str, float]:
        """{"lsu1.phi_D": w, ...} for the 3 LSUs (mean over channels for ``lsu="channel"``);
        empty for ``depth_only``."""
        if self.depth_only:
            return {}
        return {f"lsu{i + 1}.{name}": float(getattr(u, name).detach().mean())
                for i, u in enumerate(self.lsu) for name in LateralSharingUnit.NAMES}


def synergy_options(profile) -> dict:
    """Backbone and ImageNet weights of ``profile``."""
    return {**backbone_options(profile), "pretrained": pretrained_path(profile)}


@MODELS.register("synergy", from_profile=synergy_options)
def build_synergy(classes: int = 40, depth_only: bool = False, backbone_depth: int = 50,
                  backbone_width: float = 1.0, stride: str = "pytorch", input_norm: str = "imagenet",
                  lsu: str = "scalar", lsu_init: float = 0.0, pretrained: str | Path | None = None,
                  upskip_kernel: int = 3) -> SynergyNet:
    """Build :class:`SynergyNet` (Jiao et al. suppl. Table 3)."""
    return SynergyNet(classes=classes, depth_only=depth_only, backbone_depth=backbone_depth,
                      backbone_width=backbone_width, stride=stride, input_norm=input_norm, lsu=lsu,
                      lsu_init=lsu_init, pretrained=pretrained, upskip_kernel=upskip_kernel)


__all__ = ["SynergyNet", "LateralSharingUnit", "Branch", "build_synergy"]
