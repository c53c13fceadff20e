"""Every loss of both papers, built by name: ``depthstudy.losses.build(name, **options)``.

A loss is called ``loss(outputs, batch)`` with the model's output dict and the batch of samples
(see :mod:`depthstudy.data.sample`) and returns a dict with ``total`` (a scalar tensor) and one
entry per term. Invalid ground-truth pixels (depth <= 0 or non-finite; semantic 255) are masked.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

LOSSES = Registry(
    "loss",
    "depthstudy.losses",
    {
        "l1": "depth",
        "l2": "depth",
        "berhu": "depth",
        "si": "depth",
        "grad": "depth",
        "da": "depth",
        "jg": "depth",
        "ce": "semantic",
        "focal": "semantic",
        "scene_ce": "semantic",
        "hierarchical": "hierarchical",
        "combo": "combo",
    },
)


def build(name: str, **options: Any):
    """Build loss ``name`` (see :data:`LOSSES`) with keyword options."""
    return LOSSES.build(name, **options)


def available() -> list[str]:
    """Names accepted by :func:`build`."""
    return LOSSES.names()


__all__ = ["LOSSES", "build", "available"]
