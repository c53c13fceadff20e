"""Portable regression checks: fixed computations near-exactly, trained smoke numbers by property.

Why the old check (every smoke number within 2 %) failed on another CPU. Measured on a 2-core AMD
EPYC (AVX2) with ``tests/regression/probes.py``, comparing ``ATEN_CPU_CAPABILITY=default`` and
``avx2`` at ``OMP_NUM_THREADS=1`` and ``2`` (largest relative difference to avx2 / 1 thread):

====================================  ===========  ==========  ===========
stage                                 default / 1  default / 2  avx2 / 2
====================================  ===========  ==========  ===========
SynthRooms pixels, labels (numpy)     0 (equal)    0 (equal)   0 (equal)
data order (torch.randperm)           0 (equal)    0 (equal)   0 (equal)
metrics of fixed predictions          1.8e-8       1.8e-8      9e-16
losses on fixed outputs               1.2e-7       1.2e-7      0 (equal)
model forward, fixed weights (eval)   3.6e-6       3.5e-6      3.4e-7
training loss, first 2 steps          2.1e-7       4.4e-8      3.5e-7
training loss, steps 11-12            5.2e-3       9.5e-3      3.4e-3
test AbsRel after 12 steps            8.1e-3       1.7e-2      8.4e-3
====================================  ===========  ==========  ===========

So the data and its order are identical; the first difference is float32 rounding inside the
kernels: the vectorised reductions and convolutions of PyTorch's CPU dispatch level (and of oneDNN)
sum in a different order, at the level of 1e-8 (metric reductions) to 1e-6 (a network forward).
The thread count enters the same way: the intra-op threads split each reduction into different
partial sums. Training amplifies these last-bit differences (Adam normalises the tiny gradient
differences, the smoke models are barely trained and not in a basin): 12 steps turn 1e-6 into 1e-2,
and threshold metrics of barely trained models jump (delta1 0.0127 vs 0.0498 at 1 vs 2 threads in
notebook 02; HEG-S validation accuracy 0.125 vs 0 on 8 images). No tolerance on a trained smoke
number can both pass everywhere and catch a real change.

What is checked instead (Decision X1; tolerances: Decision X2; baselines recorded by
``tests/regression/record.py``):

- ``probes_expected.csv``: the fixed computations of ``probes.py`` (dataset statistics, metrics of
  fixed predictions under every protocol, every loss and every study variant's loss on fixed
  outputs, every model's output with seed-0 weights, one smoke training run) with tolerances of
  about 30x the spread above (training: 0.1 relative, ~6x). A baseline name missing from the
  fresh computation fails; names not in the baseline are ignored.
- ``smoke_expected.csv``: every row of the baseline must be present in the smoke run's
  ``metrics.csv`` files (extra rows and studies are fine), finite and inside its metric's range;
  studies that are exact functions of the generator (``datasets``) must match to 1e-6.
"""

import fnmatch
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from regression import probes

from depthstudy import runner

HERE = Path(__file__).parent / "regression"
PROBES = HERE / "probes_expected.csv"
SMOKE = HERE / "smoke_expected.csv"
SMOKE_KEY = ["study", "variant", "seed", "protocol", "depth_range", "metric"]
UNIT = (0.0, 1.0)
NONNEGATIVE = (0.0, math.inf)
ANY = (-math.inf, math.inf)
# Range of each smoke metric: the first matching name pattern (fnmatch) wins; unlisted names need only be finite.
METRIC_RANGES = {
    "*_rel_gain": ANY, "delta*": UNIT, "frac_*": UNIT, "corr_*": (-1.0, 1.0), "*accuracy": UNIT,
    "miou": UNIT, "pixel_acc": UNIT, "mean_acc": UNIT, "top10_share": UNIT, "raw_hole_fraction": UNIT,
    "abs_rel": NONNEGATIVE, "sq_rel": NONNEGATIVE, "rmse": NONNEGATIVE, "rmse_log": NONNEGATIVE,
    "log10": NONNEGATIVE, "silog": NONNEGATIVE, "*_l1": NONNEGATIVE, "*_depth_m": NONNEGATIVE,
    "n_*": NONNEGATIVE,
}


def metric_range(metric: str) -> tuple[float, float]:
    """(low, high) allowed for the smoke metric ``metric`` (see :data:`METRIC_RANGES`)."""
    return next((r for pattern, r in METRIC_RANGES.items() if fnmatch.fnmatchcase(metric, pattern)), ANY)


@pytest.fixture(scope="module")
def computed() -> dict[str, dict[str, float]]:
    return {}


def probe_values(group: str, cache: dict[str, dict[str, float]]) -> dict[str, float]:
    if group not in cache:
        cache[group] = probes.PROBES[group]()
    return cache[group]


def test_baselines_are_well_formed():
    expected = pd.read_csv(PROBES)
    assert not expected.duplicated(["group", "name"]).any()
    assert set(expected["group"]) == set(probes.PROBES)
    assert np.isfinite(expected["value"]).all() and (expected[["rtol", "atol"]] >= 0).all().all()
    smoke = pd.read_csv(SMOKE)
    assert not smoke.duplicated(SMOKE_KEY).any()
    assert set(smoke["check"]) <= {"exact", "range"}
    exact = smoke[smoke["check"] == "exact"]
    assert not exact.empty and (exact[["rtol", "atol"]] >= 0).all().all()


@pytest.mark.parametrize("group", sorted(probes.PROBES))
def test_probes_match_baseline(group, computed):
    expected = pd.read_csv(PROBES).query("group == @group")
    actual = probe_values(group, computed)
    missing = sorted(set(expected["name"]) - set(actual))
    assert not missing, f"{group}: probe values missing from the computation: {missing[:10]}"
    value = expected["name"].map(actual)
    close = np.isclose(value, expected["value"], rtol=expected["rtol"], atol=expected["atol"])
    off = expected.assign(actual=value, rel=(value / expected["value"] - 1).abs())[~close]
    assert off.empty, f"{group}: values moved beyond tolerance:\n{off.to_string()}"


def test_training_probe_learns(computed):
    values = probe_values("training", computed)
    assert all(math.isfinite(v) for v in values.values()), values
    assert values["loss_last"] < 0.75 * values["loss_first"], values


def test_metric_range_rules():
    assert metric_range("delta1") == UNIT and metric_range("rmse_log") == NONNEGATIVE
    assert metric_range("rmse_rel_gain") == (-math.inf, math.inf)
    assert metric_range("corr_backbone") == (-1.0, 1.0) and metric_range("val_accuracy") == UNIT
    assert metric_range("an_unknown_metric") == ANY


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory) -> Path:
    env = os.environ.get("DEPTHSTUDY_RESULTS")
    root = Path(env) if env else tmp_path_factory.mktemp("results")
    studies = set(pd.read_csv(SMOKE)["study"])
    if not all((root / "smoke" / s / "metrics.csv").is_file() for s in studies):
        runs = runner.run("smoke", results_root=root, log=lambda s: None)
        assert all(r.status == "ok" for r in runs), runner.format_summary(runs)
    return root / "smoke"


@pytest.mark.slow
@pytest.mark.parametrize("study", sorted(set(pd.read_csv(SMOKE)["study"])))
def test_smoke_metrics_present_and_valid(study, smoke_root):
    expected = pd.read_csv(SMOKE).query("study == @study")
    actual = pd.read_csv(smoke_root / study / "metrics.csv")
    merged = expected.merge(actual, on=SMOKE_KEY, how="left", suffixes=("_expected", ""), indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    assert missing.empty, f"{study}: rows missing from results: {missing[SMOKE_KEY].to_dict('records')[:5]}"
    bounds = merged["metric"].map(metric_range)
    low, high = bounds.str[0], bounds.str[1]
    bad = merged[~(np.isfinite(merged["value"]) & (merged["value"] >= low) & (merged["value"] <= high))]
    assert bad.empty, f"{study}: values not finite or out of range:\n{bad[SMOKE_KEY + ['value']].to_string()}"
    exact = merged[merged["check"] == "exact"]
    close = np.isclose(exact["value"], exact["value_expected"], rtol=exact["rtol"], atol=exact["atol"])
    off = exact.loc[~close, SMOKE_KEY + ["value_expected", "value"]]
    assert off.empty, f"{study}: values moved beyond tolerance:\n{off.to_string()}"
