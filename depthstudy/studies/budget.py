"""Budget sensitivity: the central paired comparisons at several training budgets (Decision S15).

Neither paper says whether its effects hold at other training lengths. The study ``budget``
(notebook 15) retrains the variants of the central comparisons, with every seed of the profile, at
:data:`FACTORS` times the profile's ``steps``:

- CLIFFNet Table 5: L1 against HEG-S, HEG-R and DA (study ``loss_comparison``);
- Jiao Table 8: the synergy network with the full attention-driven loss against none
  (study ``attention_loss``).

A run at factor ``f`` is the owning study's run for the profile with ``steps = round(f x steps)``
(:func:`scaled`): same variant, data, HEG and seeds, the lr decay at the same fractions of the run
and the hierarchical loss's warm-up scaled with it. So the factor-1 runs *are* the owning studies'
runs (same run keys: reused when their notebooks have run), and the only thing that changes along
a curve is the number of steps. Result rows are named ``<variant>_x<factor>`` (:func:`variant_name`,
e.g. ``heg_s_x4``); the comparisons of ``claims.yaml`` marked ``budgets: true`` are evaluated at
every factor from these rows (:mod:`depthstudy.results.claims`).
"""

from __future__ import annotations

import math
from typing import Any

from ..profiles import Profile

STUDY = "budget"
FACTORS = (0.25, 1.0, 4.0)
"""Multiples of the profile's ``steps`` (a quarter, the study budget, four times it)."""
FOLLOWED = {"l1": "loss_comparison", "heg_s": "loss_comparison", "heg_r": "loss_comparison",
            "da": "loss_comparison", "synergy_da_semf_jg": "attention_loss",
            "synergy_no_attention": "attention_loss"}
"""Variant -> the study that owns its runs (and whose ``train_one`` trains it)."""
_SEP = "_x"


def scaled(profile: Profile, factor: float) -> Profile:
    """``profile`` with ``steps`` = ``round(factor x steps)`` (at least 1); factor 1 returns it unchanged."""
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
        raise ValueError(f"budget factor must be a positive number, got {factor!r}")
    steps = max(1, round(factor * profile.steps))
    return profile if steps == profile.steps else profile.replace(steps=steps)


def variant_name(base: str, factor: float) -> str:
    """Result name of ``base`` trained at ``factor`` x the budget: ``("l1", 0.25)`` -> ``"l1_x0.25"``."""
    if base not in FOLLOWED:
        raise ValueError(f"variant {base!r} is not followed across budgets; followed: {', '.join(FOLLOWED)}")
    return f"{base}{_SEP}{factor:g}"


def split_variant(name: str) -> tuple[str, float]:
    """Inverse of :func:`variant_name`; a name it did not make is an error listing the valid ones."""
    base, sep, factor = name.rpartition(_SEP)
    valid = variants()
    if not sep or name not in valid:
        raise ValueError(f"unknown budget variant {name!r}; valid: {', '.join(valid)}")
    return base, float(factor)


def variants() -> tuple[str, ...]:
    """Every result name of the study, by factor, then in :data:`FOLLOWED` order."""
    return tuple(variant_name(base, f) for f in FACTORS for base in FOLLOWED)


class RenamedRows:
    """The ``add`` interface of a results writer, recording each row under another variant name."""

    def __init__(self, writer: Any, variant: str):
        self.writer, self.variant = writer, variant

    def add(self, variant: str, seed: int, metrics: dict[str, float], depth_range: str = "all",
            n_images: int = 0) -> None:
        """Forward one row to the writer, named :attr:`variant` instead of ``variant``."""
        self.writer.add(self.variant, seed, metrics, depth_range=depth_range, n_images=n_images)


__all__ = ["FACTORS", "FOLLOWED", "RenamedRows", "STUDY", "scaled", "split_variant", "variant_name", "variants"]
