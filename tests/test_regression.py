"""Smoke-profile numbers regression-checked from the results files, with tolerances.

``make test`` runs every notebook under nbval first (smoke profile, results under
``$DEPTHSTUDY_RESULTS``); this test then reads the ``metrics.csv`` files they wrote and compares
them with the recorded baseline ``tests/regression/smoke_expected.csv`` (see ``record.py``).
Run alone, it first executes the smoke study with the papermill runner.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from depthstudy import runner

BASELINE = Path(__file__).parent / "regression" / "smoke_expected.csv"
KEY = ["study", "variant", "seed", "protocol", "depth_range", "metric"]


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory) -> Path:
    env = os.environ.get("DEPTHSTUDY_RESULTS")
    root = Path(env) if env else tmp_path_factory.mktemp("results")
    studies = set(pd.read_csv(BASELINE)["study"])
    if not all((root / "smoke" / s / "metrics.csv").is_file() for s in studies):
        runs = runner.run("smoke", results_root=root, log=lambda s: None)
        assert all(r.status == "ok" for r in runs), runner.format_summary(runs)
    return root / "smoke"


def test_baseline_is_well_formed():
    expected = pd.read_csv(BASELINE)
    assert not expected.duplicated(KEY).any()
    assert np.isfinite(expected["value"]).all() and (expected[["rtol", "atol"]] >= 0).all().all()


@pytest.mark.parametrize("study", sorted(set(pd.read_csv(BASELINE)["study"])))
def test_smoke_metrics_match_baseline(study, smoke_root):
    expected = pd.read_csv(BASELINE).query("study == @study")
    actual = pd.read_csv(smoke_root / study / "metrics.csv")
    merged = expected.merge(actual, on=KEY, how="left", suffixes=("_expected", ""))
    missing = merged[merged["value"].isna()]
    assert missing.empty, f"{study}: rows missing from results: {missing[KEY].to_dict('records')[:5]}"
    close = np.isclose(merged["value"], merged["value_expected"], rtol=merged["rtol"], atol=merged["atol"])
    off = merged.loc[~close, KEY + ["value_expected", "value"]]
    assert off.empty, f"{study}: values moved beyond tolerance:\n{off.to_string()}"
