"""Column layouts, canonical metric names and depth-range labels of every results file.

One tidy row is one number: ``(study, variant, seed, dataset, protocol, depth_range, metric)``
identifies it, ``value`` holds it and ``n_images`` says over how many test images it was computed.

Depth-range labels are ``"all"`` or ``"<Xm"`` (e.g. ``"<4m"``): metrics over the test pixels whose
ground-truth depth is below X metres. Jiao et al.'s suppl. Table 7 prints ``≤ 4m`` where Tables 4-6
print ``< 4m``; the supplement's own prose describes Tables 4-6 as "depth range ≤ 4 m, 6m, 8m",
so the two notations are read as one protocol and share one label (the paper CSVs keep the printed
form in their ``label``/``note`` columns). See ``results/paper/README.md``.

Decision (suppl. Tables 1-2, formula not given [UNKNOWN]): ``rmse_rel_gain`` is
``(rmse_single - rmse_multi) / rmse_single`` and ``miou_rel_gain`` is
``(miou_multi - miou_single) / miou_single`` against the single-task network of the same run, so
that positive = better as in the paper (green entries positive, red negative).
"""

from __future__ import annotations

import math
import re
from typing import Any

METRICS_COLUMNS = ["study", "variant", "seed", "dataset", "protocol", "depth_range", "metric",
                   "value", "n_images"]
SUMMARY_COLUMNS = ["study", "variant", "dataset", "protocol", "depth_range", "metric", "mean", "std",
                   "n_seeds", "paper"]
PAPER_COLUMNS = ["table", "source", "study", "variant", "label", "seed", "dataset", "protocol",
                 "depth_range", "metric", "value", "n_images", "note"]
KEY_COLUMNS = ["study", "variant", "seed", "dataset", "protocol", "depth_range", "metric"]

#: Canonical metric keys, in display order. ``*_rel_gain`` are Jiao's relative changes against a
#: single-task baseline with the paper's sign (positive = better; suppl. Tables 1-2).
DEPTH_METRICS = ["abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2", "delta3",
                 "silog"]
SEMANTIC_METRICS = ["miou", "pixel_acc"]
GAIN_METRICS = ["rmse_rel_gain", "miou_rel_gain"]
METRIC_KEYS = DEPTH_METRICS + SEMANTIC_METRICS + GAIN_METRICS
#: Metrics whose value is a fraction in [0, 1].
FRACTION_METRICS = ["delta1", "delta2", "delta3", "miou", "pixel_acc"]
#: Metrics where a larger value is better (the rest: smaller is better).
HIGHER_IS_BETTER = FRACTION_METRICS + GAIN_METRICS

ALL_DEPTHS = "all"
_RANGE_RE = re.compile(r"^<(\d+(?:\.\d+)?)m$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_VARIANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def relative_gain(metric: str, single: float, multi: float) -> float:
    """Jiao's relative change of ``metric`` (``"rmse"`` or ``"miou"``) of a multi-task network
    against its single-task baseline, positive = better (see the module docstring's decision).

    Stored as ``f"{metric}_rel_gain"``. Example: RMSE 0.50 -> 0.36 gives +0.28.
    """
    if metric not in ("rmse", "miou"):
        raise ValueError(f"metric must be 'rmse' or 'miou', got {metric!r}")
    if not (math.isfinite(single) and math.isfinite(multi) and single > 0):
        raise ValueError(f"single must be finite and > 0 and multi finite, got {single!r}, {multi!r}")
    change = (single - multi) if metric == "rmse" else (multi - single)
    return change / single


def depth_range_label(upper_m: float | None) -> str:
    """Label of the range "GT depth < ``upper_m`` metres" (``None`` -> ``"all"``); 4.0 -> ``"<4m"``."""
    if upper_m is None:
        return ALL_DEPTHS
    if not (isinstance(upper_m, (int, float)) and math.isfinite(upper_m) and upper_m > 0):
        raise ValueError(f"upper_m must be a positive finite number of metres or None, got {upper_m!r}")
    return f"<{float(upper_m):g}m"


def parse_depth_range(label: str) -> tuple[float, float] | None:
    """``"<4m"`` -> ``(0.0, 4.0)`` (the ``depth_range`` argument of the metrics); ``"all"`` -> None."""
    check_depth_range(label)
    if label == ALL_DEPTHS:
        return None
    return (0.0, float(_RANGE_RE.match(label).group(1)))


def check_depth_range(label: Any) -> str:
    """Return ``label`` if it is ``"all"`` or ``"<Xm"``, else raise ``ValueError``."""
    if not isinstance(label, str) or not (label == ALL_DEPTHS or _RANGE_RE.match(label)):
        raise ValueError(f"depth_range must be 'all' or '<Xm' (e.g. '<4m'), got {label!r}")
    return label


def check_name(kind: str, value: Any) -> str:
    """Check a study/profile/dataset/protocol/metric name: lower-case snake case."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(f"{kind} must be lower-case snake_case ([a-z][a-z0-9_]*), got {value!r}")
    return value


def check_variant(value: Any) -> str:
    """Variant names may also hold capitals, dots, '+' and '-' (e.g. Jiao's ``S1-4``)."""
    if not isinstance(value, str) or not _VARIANT_RE.match(value):
        raise ValueError(f"variant must match [A-Za-z0-9][A-Za-z0-9_.+-]*, got {value!r}")
    return value


def finite_value(value: Any, *, variant: str, metric: str) -> float:
    """``value`` as a finite float; NaN, inf or a non-number raise ``ValueError`` naming the cell."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {metric!r} of variant {variant!r} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"metric {metric!r} of variant {variant!r} is {number}: results never hold "
                         "NaN or inf (check the run for a diverged loss or an empty depth range)")
    return number
