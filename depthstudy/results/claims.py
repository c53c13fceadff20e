"""Every claim of both papers as data (``claims.yaml``), validated on load, and its evaluation.

:func:`load` returns :class:`Comparison` objects (one per single comparison; a claim with several
is a compound claim). :func:`evaluate` gives each the paired evidence, premises and verdict of
:mod:`depthstudy.results.evidence`; :data:`TABLE_COLUMNS` are the columns of ``claims.csv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import yaml

from ..studies import budget as budget_study
from . import evidence, premises
from .paper import PAPER_STUDIES, load_paper
from .schema import HIGHER_IS_BETTER

CLAIMS_FILE = Path(__file__).with_name("claims.yaml")
PAPERS = {"jiao": "Jiao et al. 2018", "cliffnet": "CLIFFNet (Wang et al. 2020)"}
TABLE_COLUMNS = ["claim_id", "comparison_id", "paper", "source", "claim", "comparison", "study", "metric",
                 "direction", "n_seeds", "mean_diff", "ci_low", "ci_high", "rel_effect_pct",
                 "paper_rel_effect_pct", "verdict", "premise", "seeds_needed", "protocol", "profile",
                 "dataset", "budget"]
_CLAIM_KEYS = {"id", "paper", "source", "claim", "comparisons", "not_tested"}
_COMPARISON_KEYS = {"id", "study", "metric", "a", "b", "contrast", "reference", "direction", "margin_pct",
                    "paper_names", "paper_rel_effect_pct", "paper_note", "budgets"}


@dataclass(frozen=True)
class Comparison:
    """One single comparison of a claim (``claims.yaml`` documents the fields)."""

    claim_id: str
    paper: str
    source: str
    claim: str
    id: str = ""
    study: str = ""
    metric: str = ""
    contrast: Mapping[str, float] = field(default_factory=dict)
    reference: str = ""
    direction: str = ""
    margin_pct: float = math.nan
    paper_names: Mapping[str, str] = field(default_factory=dict)
    paper_rel_effect_pct: float = math.nan
    paper_note: str = ""
    not_tested: str = ""
    paper_study: str = ""
    """The study whose published table gives the paper's effect ("" = ``study``)."""
    budget_factor: float = 1.0
    """Training budget of the compared runs, in multiples of the profile's ``steps``."""

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(evidence.parse_cell(c)[0] for c in self.contrast))


def _fail(path: Path, where: str, message: str) -> None:
    raise ValueError(f"{path}: {where}: {message}")


def _comparison(path: Path, claim: dict, spec: Any) -> Comparison:
    where = f"claim {claim['id']!r}"
    if not isinstance(spec, dict) or not {"id", "study", "metric", "direction"} <= set(spec):
        _fail(path, where, f"each comparison needs id, study, metric, direction; got {spec!r}")
    where += f" comparison {spec['id']!r}"
    unknown = set(spec) - _COMPARISON_KEYS
    if unknown:
        _fail(path, where, f"unknown keys {sorted(unknown)}; expected {sorted(_COMPARISON_KEYS)}")
    if ("contrast" in spec) == ("a" in spec or "b" in spec):
        _fail(path, where, "give either a and b, or contrast with reference")
    if "contrast" in spec:
        contrast = {str(k): float(v) for k, v in dict(spec["contrast"]).items()}
        reference = str(spec.get("reference", ""))
        if reference not in contrast:
            _fail(path, where, f"reference {reference!r} must be one of the contrast's cells {list(contrast)}")
    else:
        if not ("a" in spec and "b" in spec):
            _fail(path, where, "needs both a and b")
        contrast, reference = {str(spec["a"]): 1.0, str(spec["b"]): -1.0}, str(spec["b"])
    for cell in contrast:
        evidence.parse_cell(cell)
    if spec["direction"] not in evidence.DIRECTIONS:
        _fail(path, where, f"direction must be one of {evidence.DIRECTIONS}, got {spec['direction']!r}")
    if not isinstance(spec.get("budgets", False), bool):
        _fail(path, where, f"budgets must be true or false, got {spec['budgets']!r}")
    margin = float(spec.get("margin_pct", math.nan))
    if spec["direction"] == "equal" and not margin > 0:
        _fail(path, where, "an 'equal' comparison needs margin_pct > 0")
    return Comparison(claim["id"], claim["paper"], claim["source"], claim["claim"], id=str(spec["id"]),
                      study=str(spec["study"]), metric=str(spec["metric"]), contrast=contrast,
                      reference=reference, direction=spec["direction"], margin_pct=margin,
                      paper_names=dict(spec.get("paper_names", {})),
                      paper_rel_effect_pct=float(spec.get("paper_rel_effect_pct", math.nan)),
                      paper_note=str(spec.get("paper_note", "")))


def _at_budgets(path: Path, comp: Comparison) -> list[Comparison]:
    """The comparison repeated in the budget study at each factor (``budgets: true``, Decision S15):
    id ``<id>-x<factor>``, cells ``<variant>_x<factor>``, the paper's effect from the owning study."""
    wrong = [v for v in comp.variants if budget_study.FOLLOWED.get(v) != comp.study]
    if wrong:
        _fail(path, f"claim {comp.claim_id!r} comparison {comp.id!r}",
              f"budgets: true needs variants the budget study follows in study {comp.study!r}; "
              f"{wrong} are not (followed: {budget_study.FOLLOWED})")
    out = []
    for factor in budget_study.FACTORS:
        def cell(c: str) -> str:
            variant, depth_range = evidence.parse_cell(c)
            name = budget_study.variant_name(variant, factor)
            return name if depth_range == "all" else f"{name}@{depth_range}"

        names = {budget_study.variant_name(v, factor): comp.paper_names.get(v, v) for v in comp.variants}
        out.append(replace(comp, id=f"{comp.id}-x{factor:g}", study=budget_study.STUDY,
                           contrast={cell(c): w for c, w in comp.contrast.items()},
                           reference=cell(comp.reference), paper_names=names, paper_study=comp.study,
                           budget_factor=factor))
    return out


@lru_cache(maxsize=None)
def load(path: Path = CLAIMS_FILE) -> tuple[Comparison, ...]:
    """Every single comparison of ``claims.yaml`` (a claim without experiment gives one entry with
    ``not_tested``); a malformed entry is an error naming the file and the claim."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ValueError(f"{path}: expected a mapping with a list 'claims'")
    out: list[Comparison] = []
    ids: set[str] = set()
    for claim in data["claims"]:
        if not isinstance(claim, dict) or not {"id", "paper", "source", "claim"} <= set(claim):
            raise ValueError(f"{path}: each claim needs id, paper, source, claim; got {claim!r}")
        where = f"claim {claim['id']!r}"
        if set(claim) - _CLAIM_KEYS:
            _fail(path, where, f"unknown keys {sorted(set(claim) - _CLAIM_KEYS)}")
        if claim["paper"] not in PAPERS:
            _fail(path, where, f"paper must be one of {sorted(PAPERS)}, got {claim['paper']!r}")
        if bool(claim.get("comparisons")) == bool(claim.get("not_tested")):
            _fail(path, where, "give either comparisons or not_tested (the reason)")
        if claim.get("not_tested"):
            found = [Comparison(claim["id"], claim["paper"], claim["source"], claim["claim"], id=claim["id"],
                                not_tested=str(claim["not_tested"]))]
        else:
            found = []
            for spec in claim["comparisons"]:
                comp = _comparison(path, claim, spec)
                found += [comp] + (_at_budgets(path, comp) if spec.get("budgets") is True else [])
        for comp in found:
            if comp.id in ids:
                _fail(path, where, f"comparison id {comp.id!r} used twice")
            ids.add(comp.id)
        out += found
    return tuple(out)


def paper_value(table: pd.DataFrame, variant: str, metric: str, depth_range: str) -> float:
    """The paper's value of one cell; relative-gain tables (Jiao Tables 1-2) give it in units of
    the single-task network: RMSE = 1 - gain, mIoU = 1 + gain, single-task = 1 (Decision E9)."""
    sel = table[(table["variant"] == variant) & (table["metric"] == metric) & (table["depth_range"] == depth_range)]
    if len(sel):
        return float(sel["value"].iloc[0])
    gains = table[(table["metric"] == f"{metric}_rel_gain") & (table["depth_range"] == depth_range)]
    if gains.empty:
        return math.nan
    if variant.startswith("single_"):
        return 1.0
    gain = gains[gains["variant"] == variant]["value"]
    if gain.empty:
        return math.nan
    return 1.0 + float(gain.iloc[0]) if metric in HIGHER_IS_BETTER else 1.0 - float(gain.iloc[0])


def paper_effect_pct(comp: Comparison) -> float:
    """The paper's relative effect (%) of the comparison: its own tables, or the claim's number."""
    study = comp.paper_study or comp.study
    if math.isfinite(comp.paper_rel_effect_pct) or study not in PAPER_STUDIES:
        return comp.paper_rel_effect_pct
    try:
        table = load_paper(study=study)
    except FileNotFoundError:
        return math.nan

    def value(cell: str) -> float:
        variant, depth_range = evidence.parse_cell(cell)
        return paper_value(table, comp.paper_names.get(variant, variant), comp.metric, depth_range)

    ref = value(comp.reference)
    total = sum(c * value(cell) for cell, c in comp.contrast.items())
    return 100.0 * total / ref if math.isfinite(total) and ref else math.nan


def budget(profile: str, factor: float = 1.0) -> str:
    """Training budget of a profile's runs at ``factor`` x its steps, e.g. ``"100 steps x batch 8, HEGs 200 steps"``."""
    from ..profiles import get_profile

    p = budget_study.scaled(get_profile(profile), factor)
    return f"{p.steps} steps x batch {p.batch_size}" + (f", HEGs {p.heg_steps} steps" if p.heg_steps else "")


def _row(comp: Comparison, rows: pd.DataFrame, baselines: pd.DataFrame, hegs: pd.DataFrame,
         protocol: str) -> dict[str, Any]:
    base = {"claim_id": comp.claim_id, "comparison_id": comp.id, "paper": PAPERS[comp.paper],
            "source": comp.source, "claim": comp.claim, "study": comp.study, "metric": comp.metric,
            "direction": comp.direction, "paper_rel_effect_pct": paper_effect_pct(comp) if comp.study else math.nan}
    if comp.not_tested:
        return {**base, "comparison": "", "n_seeds": 0, "verdict": "not tested", "premise": comp.not_tested}
    base["comparison"] = evidence.comparison_label(comp.contrast)
    missing = [v for v in comp.variants
               if rows[(rows["study"] == comp.study) & (rows["variant"] == v)].empty]
    if missing:
        return {**base, "n_seeds": 0, "verdict": "not tested",
                "premise": f"no run of {', '.join(missing)} in study {comp.study!r} of this profile"}
    p = evidence.paired(rows, comp.study, comp.metric, comp.contrast, comp.reference, protocol)
    failed = premises.failures(rows, baselines, hegs, comp.study, comp.variants, comp.metric, p.n, protocol)
    low, high = p.interval()
    paper_pct = base["paper_rel_effect_pct"]
    paper_abs = paper_pct / 100.0 * p.reference_mean
    margin = comp.margin_pct / 100.0 * abs(p.reference_mean)
    call = evidence.verdict((low, high), comp.direction, paper_effect=paper_abs, margin=margin,
                            premise_failed="; ".join(failed))
    needed = math.nan
    if call == "inconclusive":
        needed = evidence.seeds_needed(p.sd, margin if comp.direction == "equal" else paper_abs)
    used = rows[(rows["study"] == comp.study) & rows["variant"].isin(comp.variants)]
    if used["protocol"].nunique() > 1:
        used = used[used["protocol"] == protocol]
    return {**base, "n_seeds": p.n, "mean_diff": p.mean, "ci_low": low, "ci_high": high,
            "rel_effect_pct": p.rel_effect_pct, "verdict": call,
            "premise": "; ".join(failed) if failed else "passed", "seeds_needed": needed,
            "protocol": ",".join(sorted(set(used["protocol"]))), "dataset": ",".join(sorted(set(used["dataset"])))}


def _metrics_or_empty(profile: str, root: Path | None) -> pd.DataFrame:
    from .schema import METRICS_COLUMNS
    from .store import load as load_results

    try:
        return load_results(profile, None, "metrics", root=root)
    except FileNotFoundError:
        return pd.DataFrame(columns=METRICS_COLUMNS)


def inputs(profile: str, root: Path | None = None, metrics: pd.DataFrame | None = None,
           compute_baselines: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(metrics of every study, baselines rows, HEG premise rows) of ``profile``."""
    from . import baselines as baseline_study
    from .store import read_metrics

    rows = _metrics_or_empty(profile, root) if metrics is None else metrics
    rows = rows[rows["study"] != baseline_study.STUDY]
    if compute_baselines:
        folder = baseline_study.ensure(profile, root)
    else:
        from .. import paths

        folder = Path(root if root is not None else paths.results_dir()) / profile / baseline_study.STUDY
    path = folder / "metrics.csv"
    base = read_metrics(path) if path.is_file() else rows.iloc[0:0]
    hegs = premises.heg_checks(rows[rows["study"] == "heg_training"], base)
    return rows, base, hegs


def evaluate(profile: str, root: Path | None = None, *, metrics: pd.DataFrame | None = None,
             studies: Sequence[str] | None = None, compute_baselines: bool = True,
             comparisons: Sequence[Comparison] | None = None) -> pd.DataFrame:
    """The claims table of ``profile`` (:data:`TABLE_COLUMNS`, one row per single comparison)."""
    from ..profiles import get_profile

    rows, base, hegs = inputs(profile, root, metrics, compute_baselines)
    protocol = get_profile(profile).protocol
    chosen = [c for c in (comparisons or load()) if studies is None or c.study in studies]
    out = [_row(c, rows, base, hegs, protocol) for c in chosen]
    table = pd.DataFrame(out).reindex(columns=TABLE_COLUMNS)
    table["profile"], table["budget"] = profile, [budget(profile, c.budget_factor) for c in chosen]
    return table


def by_budget(table: pd.DataFrame, profile_steps: int) -> pd.DataFrame:
    """The budget study's rows of a claims table, one per (comparison, factor), for effect-vs-budget views.

    Columns: ``comparison_id`` (the comparison at the study budget, e.g. ``C-T5-hegs-vs-l1``),
    ``factor``, ``steps`` (``round(factor x profile_steps)``), ``mean_diff``, ``ci_low``, ``ci_high``
    (metric units), ``rel_effect_pct``, ``rel_ci_low`` and ``rel_ci_high`` (the interval in % of the
    reference mean), ``paper_rel_effect_pct``, ``verdict``, ``premise``, ``n_seeds``.
    """
    origin = {c.id: c for c in load() if c.study == budget_study.STUDY}
    rows = table[table["comparison_id"].isin(list(origin))]
    out = []
    for _, r in rows.iterrows():
        comp = origin[r["comparison_id"]]
        ref = 100.0 * r["mean_diff"] / r["rel_effect_pct"] if r["rel_effect_pct"] else math.nan
        out.append({"comparison_id": comp.id.removesuffix(f"-x{comp.budget_factor:g}"),
                    "factor": comp.budget_factor, "steps": max(1, round(comp.budget_factor * profile_steps)),
                    **{k: r[k] for k in ("mean_diff", "ci_low", "ci_high", "rel_effect_pct")},
                    "rel_ci_low": 100.0 * r["ci_low"] / ref, "rel_ci_high": 100.0 * r["ci_high"] / ref,
                    **{k: r[k] for k in ("paper_rel_effect_pct", "verdict", "premise", "n_seeds")}})
    columns = ["comparison_id", "factor", "steps", "mean_diff", "ci_low", "ci_high", "rel_effect_pct", "rel_ci_low",
               "rel_ci_high", "paper_rel_effect_pct", "verdict", "premise", "n_seeds"]
    return pd.DataFrame(out, columns=columns).sort_values(["comparison_id", "factor"], ignore_index=True)


def premise_table(profile: str, root: Path | None = None, *, metrics: pd.DataFrame | None = None,
                  compute_baselines: bool = True) -> pd.DataFrame:
    """Every premise check of the models the claims involve, plus the HEG checks (one row each)."""
    rows, base, hegs = inputs(profile, root, metrics, compute_baselines)
    from ..profiles import get_profile

    protocol = get_profile(profile).protocol
    checks = [hegs]
    seen = set()
    for comp in load():
        for variant in comp.variants:
            key = (comp.study, variant, comp.metric in premises.DEPTH_METRICS)
            if key in seen or rows[(rows["study"] == comp.study) & (rows["variant"] == variant)].empty:
                continue
            seen.add(key)
            check = premises.model_check(rows, base, comp.study, variant, comp.metric, protocol)
            if check is not None:
                checks.append(pd.DataFrame([check]))
    return pd.concat(checks, ignore_index=True).drop_duplicates(["study", "variant", "premise"])


__all__ = ["CLAIMS_FILE", "Comparison", "PAPERS", "TABLE_COLUMNS", "budget", "by_budget", "evaluate", "inputs", "load",
           "paper_effect_pct", "paper_value", "premise_table"]
