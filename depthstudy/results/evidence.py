"""The evidence layer: the only place where a claim of a paper gets a verdict.

A claim (``claims.yaml``, :mod:`depthstudy.results.claims`) is split into single comparisons.
Each comparison is a contrast ``sum_i c_i * metric(cell_i)`` of variant cells of one study
(``a vs b`` is ``metric(a) - metric(b)``), evaluated **paired by seed** (Decision E1): a seed fixes
the initial weights of the shared parts and the data order of every variant, so per seed the
contrast is one number; over the seeds both sides have we report

- ``mean_diff`` and its 95% t-interval ``[ci_low, ci_high]`` (t with n-1 degrees of freedom),
- ``rel_effect_pct`` = 100 * mean_diff / mean(reference cell) over the same seeds, beside the
  paper's ``paper_rel_effect_pct`` computed the same way from its tables (Decision E9); relative
  effects are what may be compared across datasets, absolute cross-dataset differences are not,
- the verdict (:func:`verdict`, Decision E2) and, where inconclusive, :func:`seeds_needed`.

Premises (:mod:`depthstudy.results.premises`) are checked first: a comparison that involves a
model failing its premise is ``not tested`` and names the premise (Decision E5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from scipy import stats

from .schema import HIGHER_IS_BETTER

CONFIDENCE = 0.95
#: Verdicts, in the order the report lists them.
VERDICTS = ("supported", "contradicted", "no effect of the paper's size", "inconclusive", "not tested")
DIRECTIONS = ("lower", "higher", "equal")
#: Decision E3: an interval within +- this fraction of the paper's effect is "no effect of its size".
EQUIVALENCE_FRACTION = 0.5
#: Search limit of :func:`seeds_needed` (beyond it the estimate is reported as missing).
MAX_SEEDS = 10_000


@dataclass(frozen=True)
class Paired:
    """Paired-by-seed statistics of one contrast.

    ``diffs``: per-seed contrast values (seed -> value, metric units); ``reference``: per-seed
    metric of the reference cell (same seeds).
    """

    diffs: pd.Series
    reference: pd.Series

    @property
    def n(self) -> int:
        return int(self.diffs.size)

    @property
    def mean(self) -> float:
        return float(self.diffs.mean()) if self.n else math.nan

    @property
    def sd(self) -> float:
        """Sample standard deviation (ddof=1) of the per-seed differences; NaN below 2 seeds."""
        return float(self.diffs.std(ddof=1)) if self.n > 1 else math.nan

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        """t-interval of the mean difference; (NaN, NaN) below 2 seeds."""
        if self.n < 2:
            return math.nan, math.nan
        half = t_quantile(self.n, confidence) * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    @property
    def reference_mean(self) -> float:
        return float(self.reference.mean()) if self.n else math.nan

    @property
    def rel_effect_pct(self) -> float:
        ref = self.reference_mean
        return 100.0 * self.mean / ref if self.n and ref != 0 else math.nan


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided t quantile for ``n`` paired seeds (n-1 degrees of freedom)."""
    if n < 2:
        raise ValueError(f"a t-interval needs at least 2 seeds, got n={n}")
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def parse_cell(cell: str) -> tuple[str, str]:
    """``"variant"`` or ``"variant@range"`` -> (variant, depth range label; default ``all``)."""
    variant, _, depth_range = str(cell).partition("@")
    if not variant:
        raise ValueError(f"comparison cell {cell!r}: expected 'variant' or 'variant@<range>'")
    return variant, depth_range or "all"


def per_seed(rows: pd.DataFrame, study: str, variant: str, metric: str, depth_range: str = "all",
             protocol: str | None = None) -> pd.Series:
    """seed -> value of one cell of tidy metrics rows (empty Series when the cell has no run).

    ``protocol`` selects one protocol where a study holds several; otherwise they must not clash.
    """
    sel = rows[(rows["study"] == study) & (rows["variant"] == variant) & (rows["metric"] == metric)
               & (rows["depth_range"] == depth_range)]
    if protocol is not None and sel["protocol"].nunique() > 1:
        sel = sel[sel["protocol"] == protocol]
    if sel["seed"].duplicated().any():
        raise ValueError(f"study {study!r} variant {variant!r} metric {metric!r} ({depth_range}) holds "
                         f"several rows per seed (protocols {sorted(set(sel['protocol']))}); pass protocol=")
    return sel.set_index("seed")["value"].astype(float).sort_index()


def paired(rows: pd.DataFrame, study: str, metric: str, contrast: Mapping[str, float], reference: str,
           protocol: str | None = None) -> Paired:
    """Per-seed ``sum_i c_i * metric(cell_i)`` over the seeds every cell has (Decision E1).

    ``contrast``: cell (``"variant[@range]"``) -> coefficient; ``reference``: the cell whose metric
    the relative effect divides by. Seeds missing in any cell are left out (never filled).
    """
    cells = {}
    for cell in {**contrast, reference: 0.0}:
        variant, depth_range = parse_cell(cell)
        cells[cell] = per_seed(rows, study, variant, metric, depth_range, protocol)
    seeds = sorted(set.intersection(*(set(s.index) for s in cells.values())))
    diffs = sum(c * cells[cell].reindex(seeds) for cell, c in contrast.items())
    return Paired(pd.Series(diffs, index=seeds, dtype=float), cells[reference].reindex(seeds))


def orientation(direction: str) -> float:
    """+1 where a positive contrast means the claim's direction holds, -1 where negative does
    (``lower``: the first cell has the lower metric; ``higher``: the higher). ``equal`` -> +1."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return -1.0 if direction == "lower" else 1.0


def verdict(ci: tuple[float, float], direction: str, *, paper_effect: float = math.nan,
            margin: float = math.nan, premise_failed: str = "") -> str:
    """Decision E2, on the interval ``ci`` of the (unoriented) contrast in metric units.

    - ``not tested`` when ``premise_failed`` names a failed premise (or the interval is missing);
    - ``lower`` / ``higher`` claims: ``supported`` / ``contradicted`` when the interval excludes 0
      on / against the claim's side; else ``no effect of the paper's size`` when the interval
      lies within +- ``EQUIVALENCE_FRACTION`` x |``paper_effect``| (the paper's relative effect in
      our metric units); else ``inconclusive``;
    - ``equal`` claims (the paper says "about equal" / "close"): ``supported`` when the interval lies
      within +- ``margin``, ``contradicted`` when it lies entirely outside, else ``inconclusive``.
    """
    low, high = ci
    if premise_failed:
        return "not tested"
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not tested"
    if direction == "equal":
        if not math.isfinite(margin) or margin <= 0:
            raise ValueError(f"an 'equal' claim needs a positive margin, got {margin!r}")
        if -margin <= low and high <= margin:
            return "supported"
        if low > margin or high < -margin:
            return "contradicted"
        return "inconclusive"
    sign = orientation(direction)
    if low > 0 or high < 0:
        return "supported" if sign * (low + high) > 0 else "contradicted"
    band = EQUIVALENCE_FRACTION * abs(paper_effect)
    if math.isfinite(band) and band > 0 and -band <= low and high <= band:
        return "no effect of the paper's size"
    return "inconclusive"


def seeds_needed(sd: float, effect: float, confidence: float = CONFIDENCE,
                 max_seeds: int = MAX_SEEDS) -> float:
    """Smallest n with t_{n-1} * sd / sqrt(n) < |effect| (Decision E4); NaN if not computable.

    The paired interval of ``n`` seeds then excludes 0 when the true effect is ``effect`` and the
    paired spread stays ``sd`` (a 50%-power, planning-level estimate, not a power analysis).
    """
    if not (math.isfinite(sd) and math.isfinite(effect)) or effect == 0:
        return math.nan
    if sd == 0:
        return 2.0
    for n in range(2, max_seeds + 1):
        if t_quantile(n, confidence) * sd / math.sqrt(n) < abs(effect):
            return float(n)
    return math.nan


def comparison_label(contrast: Mapping[str, float]) -> str:
    """``"a vs b"`` for a two-cell difference, else the signed contrast ``"+2·a -1·b -1·c"``."""
    items = list(contrast.items())
    if len(items) == 2 and items[0][1] == 1.0 and items[1][1] == -1.0:
        return f"{items[0][0]} vs {items[1][0]}"
    return " ".join(f"{c:+g}·{cell}" for cell, c in items)


def paired_table(rows: pd.DataFrame, pairs: Sequence[tuple[str, str]], metrics: Sequence[str],
                 study: str | None = None) -> pd.DataFrame:
    """Descriptive paired comparisons for the study notebooks (no claim, so no verdict).

    One row per (variant, baseline) pair and metric: ``n_seeds``, ``mean_diff`` = metric(variant) -
    metric(baseline), its 95% t-interval, ``rel_effect_pct`` (of the baseline) and ``reading``:
    ``better`` / ``worse`` when the interval excludes 0 (the metric's direction from
    ``HIGHER_IS_BETTER``), ``unresolved`` otherwise (or with fewer than 2 seeds).
    """
    study = study or _only(rows["study"], "study")
    out = []
    for variant, baseline in pairs:
        for metric in metrics:
            p = paired(rows, study, metric, {variant: 1.0, baseline: -1.0}, baseline)
            low, high = p.interval()
            if p.n < 2 or not (low > 0 or high < 0):
                reading = "unresolved"
            else:
                reading = "better" if (p.mean > 0) == (metric in HIGHER_IS_BETTER) else "worse"
            out.append({"variant": variant, "baseline": baseline, "metric": metric, "n_seeds": p.n,
                        "mean_diff": p.mean, "ci_low": low, "ci_high": high,
                        "rel_effect_pct": p.rel_effect_pct, "reading": reading})
    return pd.DataFrame(out, columns=["variant", "baseline", "metric", "n_seeds", "mean_diff", "ci_low",
                                      "ci_high", "rel_effect_pct", "reading"])


def _only(values: pd.Series, name: str) -> str:
    found = sorted(set(values))
    if len(found) != 1:
        raise ValueError(f"rows hold {len(found)} {name}s {found}; pass {name}=")
    return str(found[0])


def claims_table(profile: str, root: Path | None = None, *, metrics: pd.DataFrame | None = None,
                 studies: Sequence[str] | None = None, compute_baselines: bool = True) -> pd.DataFrame:
    """Every claim of both papers evaluated on the results of ``profile`` (one row per comparison).

    Columns :data:`depthstudy.results.claims.TABLE_COLUMNS`. ``metrics`` defaults to every
    ``metrics.csv`` of the profile; ``studies`` keeps the comparisons of those studies only.
    Trivial baselines are read from the ``baselines`` study and computed first where missing
    (``compute_baselines``; cheap: it needs the dataset, no training).
    """
    from . import claims as claim_data

    return claim_data.evaluate(profile, root, metrics=metrics, studies=studies,
                               compute_baselines=compute_baselines)


def study_claims(profile: str, study: str, root: Path | None = None) -> pd.DataFrame:
    """The claims table rows of one study, in the compact columns of :data:`VIEW_COLUMNS` (for
    the study notebooks; the whole table is the report's)."""
    return claims_table(profile, root, studies=[study])[VIEW_COLUMNS]


#: Columns the notebooks show of the claims table.
VIEW_COLUMNS = ["comparison_id", "comparison", "metric", "direction", "n_seeds", "mean_diff", "ci_low", "ci_high",
                "rel_effect_pct", "paper_rel_effect_pct", "verdict", "premise", "seeds_needed"]


def premise_table(profile: str, root: Path | None = None) -> pd.DataFrame:
    """Every premise check of ``profile``: the HEGs' own tasks and each model a claim involves."""
    from . import claims as claim_data

    return claim_data.premise_table(profile, root)


def compound_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One line per claim of the claims table: how many of its comparisons got each verdict.

    Columns: claim_id, paper, claim, n_comparisons, supported, contradicted, no_effect, inconclusive,
    not_tested, summary (e.g. ``"2 of 3 supported, 1 inconclusive"``). Decision E8: a compound
    claim is never decided by one of its parts; the line counts them.
    """
    keys = {"supported": "supported", "contradicted": "contradicted",
            "no effect of the paper's size": "no_effect", "inconclusive": "inconclusive",
            "not tested": "not_tested"}
    out = []
    for claim_id, group in table.groupby("claim_id", sort=False):
        counts = group["verdict"].value_counts()
        row = {"claim_id": claim_id, "paper": group["paper"].iloc[0], "claim": group["claim"].iloc[0],
               "n_comparisons": len(group)}
        row.update({col: int(counts.get(v, 0)) for v, col in keys.items()})
        parts = [f"{row['supported']} of {len(group)} supported"]
        parts += [f"{row[col]} {v}" for v, col in keys.items() if v != "supported" and row[col]]
        row["summary"] = ", ".join(parts)
        out.append(row)
    return pd.DataFrame(out, columns=["claim_id", "paper", "claim", "n_comparisons", *keys.values(), "summary"])


def save_table(table: pd.DataFrame, profile: str, name: str, root: Path | None = None) -> Path:
    """Write ``table`` to ``results/<profile>/<name>.csv`` (atomic; NaN as empty cells)."""
    from .. import paths
    from .store import write_csv

    return write_csv(Path(root if root is not None else paths.results_dir()) / profile / f"{name}.csv", table)


def save_claims(table: pd.DataFrame, profile: str, root: Path | None = None) -> Path:
    """Write the claims table to ``results/<profile>/claims.csv``."""
    return save_table(table, profile, "claims", root)


__all__ = ["CONFIDENCE", "DIRECTIONS", "EQUIVALENCE_FRACTION", "Paired", "VERDICTS", "VIEW_COLUMNS",
           "claims_table", "comparison_label", "compound_summary", "orientation", "paired", "paired_table",
           "parse_cell", "per_seed", "premise_table", "save_claims", "save_table", "seeds_needed",
           "study_claims", "t_quantile", "verdict"]
