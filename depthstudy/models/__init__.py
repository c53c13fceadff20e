"""Every architecture of both papers, built by name: ``depthstudy.models.build(name, **options)``.

A model takes ``image`` [B,3,H,W] RGB in [0,1] (it normalises internally) and returns a dict:
``depth`` [B,1,H,W] in metres at the input resolution, plus ``semantic`` logits [B,C,H,W],
``scene`` logits [B,S] or ``features`` where the architecture has them.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

MODELS = Registry(
    "model",
    "depthstudy.models",
    {
        "cliffnet": "cliffnet",
        "heg_s": "heg",
        "heg_r": "heg",
        "fcrn": "fcrn",
        "encdec": "encdec",
        "synergy": "synergy",
        "structure": "structures",
    },
)


def build(name: str, **options: Any):
    """Build model ``name`` (see :data:`MODELS` for names) with keyword options."""
    return MODELS.build(name, **options)


def from_profile(name: str, profile: Any, **options: Any):
    """Build model ``name`` sized for ``profile`` (its ``from_profile``), updated with ``options``."""
    return MODELS.build(name, **profile_options(name, profile, **options))


def profile_options(name: str, profile: Any, **options: Any) -> dict[str, Any]:
    """The options :func:`from_profile` builds ``name`` with: the model's sizing for ``profile``
    (a :class:`depthstudy.profiles.Profile`), updated with ``options``."""
    return {**MODELS.profile_options(name, profile), **options}


def available() -> list[str]:
    """Names accepted by :func:`build`."""
    return MODELS.names()


__all__ = ["MODELS", "build", "available", "from_profile", "profile_options"]
