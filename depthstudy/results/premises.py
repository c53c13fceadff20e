"""Premise checks: did each model involved in a comparison learn enough for the comparison to test
the paper's claim? Thresholds are data (``premises.yaml``; Decisions E5, E6, E11).

Which premises a comparison needs depends on its metric (Decision E5): a depth metric needs every
depth model of it to beat the per-image constant predictor; a semantic metric needs every semantic
branch to beat the per-position majority map; any metric needs every HEG its variants' losses use
to pass its own task, and at least ``min_seeds`` paired seeds. Each check returns the names of
the premises that failed, with the numbers, e.g.
``"depth model beats constant predictor: heg_s RMSE 0.863 > 0.75 x 0.871"``.
"""

from __future__ import annotations

import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import yaml

from .schema import DEPTH_METRICS, SEMANTIC_METRICS

PREMISES_FILE = Path(__file__).with_name("premises.yaml")
_KEYS = {"min_seeds", "depth", "semantic", "heg_classification", "heg_reconstruction", "heg_of", "classes",
         "classes_of_variant"}
COLUMNS = ["study", "variant", "premise", "value", "threshold", "passed"]


@lru_cache(maxsize=None)
def config(path: Path = PREMISES_FILE) -> dict[str, Any]:
    """The premise thresholds; a missing or unknown key is an error naming the file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or set(data) != _KEYS:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected the keys {sorted(_KEYS)}, got {got}")
    return data


def _mean(rows: pd.DataFrame, study: str, variant: str, metric: str, protocol: str | None = None) -> float:
    sel = rows[(rows["study"] == study) & (rows["variant"] == variant) & (rows["metric"] == metric)
               & (rows["depth_range"] == "all")]
    if protocol is not None and sel["protocol"].nunique() > 1:
        sel = sel[sel["protocol"] == protocol]
    return float(sel["value"].mean()) if len(sel) else float("nan")


def heg_of(study: str, variant: str, cfg: dict | None = None) -> str | None:
    """The HEG kind the loss of ``variant`` uses in ``study`` (None: no trained HEG); the keys of a
    study's table are variant names or shell patterns (``"*"``, ``"heg_s_x*"``), an exact name first."""
    table = (cfg or config())["heg_of"].get(study, {})
    if variant in table:
        return table[variant]
    return next((kind for pattern, kind in table.items() if fnmatch.fnmatchcase(variant, pattern)), None)


def classes_of(study: str, variant: str, cfg: dict | None = None) -> int | None:
    """Semantic classes of ``variant``'s model in ``study`` (None: the study has no semantic branch)."""
    cfg = cfg or config()
    return cfg["classes_of_variant"].get(variant, cfg["classes"].get(study))


def heg_checks(heg: pd.DataFrame, baselines: pd.DataFrame, cfg: dict | None = None) -> pd.DataFrame:
    """One row per HEG kind with its task premise (:data:`COLUMNS`); ``heg`` = the heg_training
    metrics, ``baselines`` = the baselines study metrics. A kind without numbers fails."""
    cfg = cfg or config()
    out = []
    for kind, name in (("heg_s", "HEG-S"), ("heg_im", "HEG-Im")):
        cls = cfg["heg_classification"][kind]
        acc = _mean(heg, "heg_training", kind, "val_accuracy")
        majority = _mean(baselines, "baselines", f"{kind}_majority", "val_accuracy")
        chance = _mean(baselines, "baselines", f"{kind}_chance", "val_accuracy")
        need = max(cls["min_majority_factor"] * majority, cls["min_chance_factor"] * chance)
        out.append({"study": "heg_training", "variant": kind, "premise": f"{name} learned its task",
                    "value": acc, "threshold": need, "passed": bool(acc >= need),
                    "detail": f"val accuracy {acc:.4f} vs >= max({cls['min_majority_factor']:g} x majority "
                              f"{majority:.4f}, {cls['min_chance_factor']:g} x chance {chance:.4f})"})
    l1 = _mean(heg, "heg_training", "heg_r", "val_l1")
    block = _mean(baselines, "baselines", cfg["heg_reconstruction"]["baseline"], "val_l1")
    out.append({"study": "heg_training", "variant": "heg_r", "premise": "HEG-R learned its task",
                "value": l1, "threshold": block, "passed": bool(l1 < block),
                "detail": f"val L1 {l1:.4f} m vs < 2x2 block mean {block:.4f} m"})
    return pd.DataFrame(out, columns=COLUMNS + ["detail"])


def model_check(rows: pd.DataFrame, baselines: pd.DataFrame, study: str, variant: str, metric: str,
                protocol: str | None = None, cfg: dict | None = None) -> dict[str, Any] | None:
    """The depth or semantic premise of one model for a comparison on ``metric`` (None: the metric
    is neither a depth nor a semantic metric, or the variant has no semantic branch)."""
    cfg = cfg or config()
    if metric in DEPTH_METRICS:
        c = cfg["depth"]
        value = _mean(rows, study, variant, c["metric"], protocol)
        base = _mean(baselines, "baselines", c["baseline"], c["metric"], protocol)
        need = (1 - c["min_improvement"]) * base
        return {"study": study, "variant": variant, "premise": "depth model beats constant predictor",
                "value": value, "threshold": need, "passed": bool(value <= need),
                "detail": f"{variant} RMSE {value:.3f} m vs <= {1 - c['min_improvement']:g} x {base:.3f} m"}
    classes = classes_of(study, variant, cfg)
    if metric in SEMANTIC_METRICS and classes:
        c = cfg["semantic"]
        value = _mean(rows, study, variant, c["metric"], protocol)
        base = _mean(baselines, "baselines", f"{c['baseline']}_{classes}c", c["metric"], protocol)
        need = c["min_factor"] * base
        return {"study": study, "variant": variant, "premise": "semantic branch beats per-position majority",
                "value": value, "threshold": need, "passed": bool(value >= need),
                "detail": f"{variant} mIoU {value:.3f} vs >= {c['min_factor']:g} x {base:.3f} ({classes} classes)"}
    return None


def failures(rows: pd.DataFrame, baselines: pd.DataFrame, hegs: pd.DataFrame, study: str,
             variants: Sequence[str], metric: str, n_seeds: int, protocol: str | None = None,
             cfg: dict | None = None) -> list[str]:
    """Failed premises of a comparison of ``variants`` on ``metric`` with ``n_seeds`` paired seeds.

    ``hegs``: :func:`heg_checks`. Each entry is ``"<premise>: <numbers>"``; empty = all passed.
    """
    cfg = cfg or config()
    failed = []
    if n_seeds < cfg["min_seeds"]:
        failed.append(f"at least {cfg['min_seeds']} seeds: {n_seeds} paired")
    for variant in dict.fromkeys(variants):
        check = model_check(rows, baselines, study, variant, metric, protocol, cfg)
        if check is not None and not check["passed"]:
            failed.append(f"{check['premise']}: {check['detail']}")
        kind = heg_of(study, variant, cfg)
        if kind is not None:
            row = hegs[hegs["variant"] == kind]
            if row.empty or not bool(row["passed"].iloc[0]):
                detail = row["detail"].iloc[0] if len(row) else "no HEG results"
                failed.append(f"{kind} learned its task ({variant} uses it): {detail}")
    return failed


__all__ = ["COLUMNS", "PREMISES_FILE", "classes_of", "config", "failures", "heg_checks", "heg_of",
           "model_check"]
