"""Classification losses: ``ce`` and ``focal`` (per-pixel semantics) and ``scene_ce`` (scene id).

``ce`` and ``focal`` read ``outputs["semantic"]`` (logits [B,C,H,W]) and ``batch["semantic"]``
(int64 [B,H,W], ``IGNORE_INDEX`` = 255 for unlabeled); ``scene_ce`` reads ``outputs["scene"]``
(logits [B,S]) and ``batch["scene"]`` (int64 [B]). Each returns ``{"total": v, "<name>": v}``;
means are over labelled pixels, and a batch without any gives 0 (never NaN).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.classes import IGNORE_INDEX
from . import LOSSES
from .masking import describe, fetch, masked_mean

__all__ = ["SemanticLoss", "CrossEntropyLoss", "FocalLoss", "SceneCrossEntropyLoss", "target_log_prob"]


def _check_labels(target: Tensor, num_classes: int, name: str, ignore: bool) -> None:
    """Raise ``ValueError`` if ``target`` holds a label outside 0..num_classes-1 (or 255 if ``ignore``)."""
    bad = (target < 0) | (target >= num_classes)
    if ignore:
        bad &= target != IGNORE_INDEX
    if bool(bad.any()):
        found = sorted(set(target[bad].unique().tolist()))[:5]
        allowed = f"0..{num_classes - 1}" + (f" or {IGNORE_INDEX}" if ignore else "")
        raise ValueError(f"{name} holds labels {found}; expected {allowed} (logits have {num_classes} classes)")


def target_log_prob(logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """log softmax probability of the target class, [B,H,W] (or [B]); 0 where not ``valid``.

    Args:
        logits: [B,C,...] unnormalised scores.
        target: int64 [B,...] class indices (ignored entries may hold any value).
        valid: bool [B,...], True where ``target`` is a class index.
    """
    safe = torch.where(valid, target, torch.zeros_like(target))
    log_p = F.log_softmax(logits, dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
    return torch.where(valid, log_p, torch.zeros_like(log_p))


class SemanticLoss(nn.Module):
    """Base of ``ce`` and ``focal``: fetch and check logits and labels, then :meth:`compute`."""

    name = "semantic"

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, Tensor]:
        logits = fetch(outputs, "semantic", "outputs")
        target = fetch(batch, "semantic", "batch")
        if not (isinstance(logits, Tensor) and logits.ndim == 4 and logits.is_floating_point()):
            raise ValueError(f"outputs['semantic'] must be float logits [B,C,H,W]; got {describe(logits)}")
        if not (isinstance(target, Tensor) and target.dtype == torch.int64 and target.ndim == 3):
            raise ValueError(f"batch['semantic'] must be int64 [B,H,W]; got {describe(target)}")
        b, c, h, w = logits.shape
        if tuple(target.shape) != (b, h, w):
            raise ValueError(
                f"batch['semantic'] {list(target.shape)} does not match outputs['semantic'] "
                f"{list(logits.shape)}; expected [{b},{h},{w}]"
            )
        _check_labels(target, c, "batch['semantic']", ignore=True)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        value = self.compute(logits, target, target != IGNORE_INDEX)
        return {"total": value, self.name: value}

    def compute(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement compute()")


@LOSSES.register("ce")
class CrossEntropyLoss(SemanticLoss):
    """Per-pixel cross entropy, ignoring label 255.

    With ``class_weights`` (one non-negative float per class) it is the weighted mean
    sum_i w[y_i] * nll_i / sum_i w[y_i], the convention of ``torch.nn.CrossEntropyLoss``.
    """

    name = "ce"

    def __init__(self, class_weights: Sequence[float] | Tensor | None = None):
        super().__init__()
        if class_weights is not None:
            class_weights = torch.as_tensor(class_weights, dtype=torch.float32).flatten()
            if not (torch.isfinite(class_weights).all() and (class_weights >= 0).all()):
                raise ValueError("ce: class_weights must be finite and >= 0")
        self.register_buffer("class_weights", class_weights)

    def compute(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        nll = -target_log_prob(logits, target, valid)
        if self.class_weights is None:
            return masked_mean(nll, valid)
        weights = self.class_weights
        if weights.numel() != logits.shape[1]:
            raise ValueError(
                f"ce: class_weights has {weights.numel()} entries; logits have {logits.shape[1]} classes"
            )
        safe = torch.where(valid, target, torch.zeros_like(target))
        w = torch.where(valid, weights.to(logits.dtype)[safe], torch.zeros_like(nll))
        denom = w.sum()
        return (w * nll).sum() / torch.where(denom > 0, denom, torch.ones_like(denom))


@LOSSES.register("focal")
class FocalLoss(SemanticLoss):
    """Jiao et al.'s semantic focal loss L_semF, mean over labelled pixels.

    L = -mean_i alpha * (1 - p_i)^gamma * log p_i, p_i = softmax probability of the true class.
    Decision J11: alpha = 0.25, gamma = 2 (RetinaNet defaults, used by a third-party
    re-implementation [2ND]); the authors' values are unknown. gamma = 0, alpha = 1 is plain
    cross entropy.
    """

    name = "focal"

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0):
        super().__init__()
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"focal: alpha must be a finite number > 0; got {alpha}")
        if not (math.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"focal: gamma must be a finite number >= 0; got {gamma}")
        self.alpha = float(alpha)
        self.gamma = float(gamma)

    def compute(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        log_p = target_log_prob(logits, target, valid)
        modulation = (1 - log_p.exp()).clamp(min=0).pow(self.gamma)
        return masked_mean(-self.alpha * modulation * log_p, valid)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}"


@LOSSES.register("scene_ce")
class SceneCrossEntropyLoss(nn.Module):
    """Cross entropy of ``outputs["scene"]`` (logits [B,S]) against ``batch["scene"]`` (int64 [B]).

    Used by CLIFFNet's multi-task (MT) baseline and for training HEG-S (scene classification
    from depth). ``batch["scene"]`` may also be a sequence of ints (an uncollated batch).
    """

    name = "scene_ce"

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, Tensor]:
        logits = fetch(outputs, "scene", "outputs")
        if not (isinstance(logits, Tensor) and logits.ndim == 2 and logits.is_floating_point()):
            raise ValueError(f"outputs['scene'] must be float logits [B,S]; got {describe(logits)}")
        target = torch.as_tensor(fetch(batch, "scene", "batch"), device=logits.device)
        if target.dtype != torch.int64 or tuple(target.shape) != (logits.shape[0],):
            raise ValueError(f"batch['scene'] must be int64 [{logits.shape[0]}]; got {describe(target)}")
        _check_labels(target, logits.shape[1], "batch['scene']", ignore=False)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        value = F.cross_entropy(logits, target)
        return {"total": value, self.name: value}

