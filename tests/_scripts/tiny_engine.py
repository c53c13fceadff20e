"""Tiny datasets, models and losses for the engine tests (and the scripts they launch).

Images are 3x6x8; depth is a smooth function of the image so a model can learn something;
semantic has 2 classes (red channel above 0.5).
"""

from __future__ import annotations

import torch
from torch import nn


class TinyDataset(torch.utils.data.Dataset):
    """``n`` sample dicts in the depthstudy format, deterministic from ``seed``.

    ``drop``: "semantic" -> all semantic labels 255 (depth-only samples); "depth" -> depth all 0.
    """

    def __init__(self, n: int = 16, seed: int = 0, drop: str | None = None, height: int = 6, width: int = 8):
        gen = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, height, width, generator=gen)
        self.depth = 0.5 + 3.0 * self.images.mean(dim=1, keepdim=True)
        self.semantic = (self.images[:, 0] > 0.5).long()
        if drop == "semantic":
            self.semantic = torch.full_like(self.semantic, 255)
        elif drop == "depth":
            self.depth = torch.zeros_like(self.depth)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "depth": self.depth[i], "raw_depth": self.depth[i].clone(),
                "semantic": self.semantic[i], "scene": i // 4, "scene_name": f"room_{i // 4:04d}",
                "scene_type": "office", "index": i}


class TinyNet(nn.Module):
    """Trunk conv (+ optional BN, dropout) -> depth head (1 ch, softplus) and semantic head (2 ch)."""

    def __init__(self, width: int = 4, bn: bool = False, dropout: float = 0.0):
        super().__init__()
        layers = [nn.Conv2d(3, width, 3, padding=1)]
        layers += [nn.BatchNorm2d(width)] if bn else []
        layers += [nn.ReLU()] + ([nn.Dropout2d(dropout)] if dropout else [])
        self.trunk = nn.Sequential(*layers)
        self.depth_head = nn.Conv2d(width, 1, 1)
        self.semantic_head = nn.Conv2d(width, 2, 1)

    def forward(self, image: torch.Tensor) -> dict:
        f = self.trunk(image)
        return {"depth": nn.functional.softplus(self.depth_head(f)), "semantic": self.semantic_head(f)}

    def branch_parameters(self, task: str) -> list[nn.Parameter]:
        heads = {"depth": self.depth_head, "semantic": self.semantic_head}
        return list(heads[task].parameters())


class TinyLoss(nn.Module):
    """Masked L2 on depth + masked cross-entropy; each term is 0 when its labels are all invalid."""

    def forward(self, outputs: dict, batch: dict) -> dict:
        gt = batch["depth"]
        valid = torch.isfinite(gt) & (gt > 0)
        sq = (outputs["depth"] - gt.nan_to_num()).pow(2) * valid
        depth = sq.sum() / valid.sum().clamp(min=1)
        ce = nn.functional.cross_entropy(outputs["semantic"], batch["semantic"], ignore_index=255,
                                         reduction="sum")
        semantic = ce / (batch["semantic"] != 255).sum().clamp(min=1)
        return {"total": depth + semantic, "depth": depth, "semantic": semantic}


def build_tiny(seed: int, **options) -> TinyNet:
    """A TinyNet initialised from ``seed``."""
    torch.manual_seed(seed)
    return TinyNet(**options)
