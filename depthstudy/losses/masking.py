"""Shared helpers of the losses: fetching and checking tensors, validity masks, masked means.

Masking rule of every loss: a ground-truth depth is valid where it is finite and > 0, a semantic
label where it is not ``IGNORE_INDEX`` (255). Invalid entries are replaced by a finite fill value
*before* any arithmetic (so no NaN can reach the backward pass) and then dropped with
``torch.where``, which gives them an exactly zero gradient. Means divide by the number of valid
entries, clamped to 1, so a batch without a valid entry gives a zero loss that keeps its
``grad_fn``.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor


def fetch(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    """``mapping[key]``, or a ``KeyError`` naming ``where`` (``"outputs"`` or ``"batch"``)."""
    if key not in mapping:
        raise KeyError(f"{where}[{key!r}] is required by this loss; {where} has keys {sorted(mapping)}")
    return mapping[key]


def depth_pair(outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
    """Predicted and ground-truth depth, both [B,1,H,W] metres, in a common float dtype.

    A reduced-precision prediction (fp16/bf16 under AMP) is promoted to the ground truth's dtype
    so that the loss is computed in at least float32.
    """
    pred = fetch(outputs, "depth", "outputs")
    gt = fetch(batch, "depth", "batch")
    for name, t in (("outputs['depth']", pred), ("batch['depth']", gt)):
        if not (isinstance(t, Tensor) and t.ndim == 4 and t.shape[1] == 1 and t.is_floating_point()):
            raise ValueError(f"{name} must be a float tensor [B,1,H,W]; got {describe(t)}")
    if pred.shape != gt.shape:
        raise ValueError(
            f"outputs['depth'] {list(pred.shape)} and batch['depth'] {list(gt.shape)} must have the "
            "same shape (models return depth at the input resolution)"
        )
    dtype = torch.promote_types(pred.dtype, gt.dtype)
    return pred.to(dtype), gt.to(dtype)


def valid_depth(gt: Tensor) -> Tensor:
    """Boolean mask of valid ground-truth depths (finite and > 0), same shape as ``gt``."""
    return torch.isfinite(gt) & (gt > 0)


def fill_invalid(gt: Tensor, mask: Tensor, value: float | Tensor = 1.0) -> Tensor:
    """``gt`` with invalid entries replaced by ``value`` (a finite number or a same-shaped tensor)."""
    if not isinstance(value, Tensor):
        value = torch.full_like(gt, value)
    return torch.where(mask, gt, value)


def masked_sum(values: Tensor, mask: Tensor) -> Tensor:
    """Sum of ``values`` over ``mask`` (scalar); masked entries get an exactly zero gradient."""
    return torch.where(mask, values, torch.zeros_like(values)).sum()


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over ``mask`` (scalar); 0 with a ``grad_fn`` when ``mask`` is empty."""
    return masked_sum(values, mask) / mask.sum().clamp(min=1)


def describe(t: Any) -> str:
    """Short description of ``t`` for error messages: dtype and shape, or the type name."""
    if isinstance(t, Tensor):
        return f"{t.dtype} {list(t.shape)}"
    return type(t).__name__
