"""Study specs: one per results folder, the notebooks' dependencies derived from them, one run per
variant from the command line, and a parallel study that never trains a run twice."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from depthstudy import cli, runner
from depthstudy.results import PAPER_TABLES
from depthstudy.studies import cliffnet as cf
from depthstudy.studies import curves, jiao, specs

ROOT = Path(__file__).resolve().parents[1]


def test_every_notebook_but_the_report_has_one_study():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(s.notebook for s in specs.STUDIES.values()) == [n for n in notebooks if n != "13_report"]


def test_specs_agree_with_the_paper_tables_and_variant_tables():
    for table, info in PAPER_TABLES.items():
        if info["study"] in specs.STUDIES:
            assert table in specs.STUDIES[info["study"]].paper_tables, table
    for study in specs.STUDIES.values():
        assert set(study.upstream) <= set(specs.STUDIES), study.name
        for table in study.paper_tables:
            assert PAPER_TABLES[table]["study"] == study.name
    assert specs.get_study("loss_comparison").variants == cf.LOSS_NAMES
    assert specs.get_study("attention_loss").variants == tuple(jiao.attention_variants())


def test_runner_derives_dependencies_from_the_specs():
    deps = {s.name: s.depends_on for s in runner.discover()}
    assert set(deps["11_cliff_ablations"]) == {"08_heg_training", "09_loss_comparison"}  # reuses 09's heg_s run
    assert deps["09_loss_comparison"] == ("08_heg_training",)
    assert deps["05_depth_range"] == ("04_attention_loss",)
    assert deps["13_report"] == ()


def test_hand_kept_dependencies_in_metadata_are_refused(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"depthstudy": {"depends_on": ["08_heg_training"]}}
    nbformat.write(nb, tmp_path / "09_loss_comparison.ipynb")
    with pytest.raises(ValueError, match="derived|Study spec"):
        runner.discover(tmp_path)


def test_notebooks_hold_no_dependencies():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert "depends_on" not in json.loads(path.read_text())["metadata"].get("depthstudy", {}), path


def test_train_names_bad_studies_and_variants(capsys):
    assert cli.main(["train", "nope", "l1", "--profile", "smoke"]) == 2
    assert "unknown study 'nope'" in capsys.readouterr().err
    assert cli.main(["train", "loss_comparison", "l9", "--profile", "smoke"]) == 2
    assert "unknown variant 'l9'" in capsys.readouterr().err
    assert cli.main(["train", "depth_range", "x", "--profile", "smoke"]) == 2
    assert "no per-variant run" in capsys.readouterr().err


def test_studies_lists_every_study(capsys):
    assert cli.main(["studies"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in specs.STUDIES) and "heg_training, loss_comparison" in out


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DEPTHSTUDY_PROFILE": "smoke", "TQDM_DISABLE": "1",
            "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "DEPTHSTUDY_CACHE": str(tmp_path / "cache"),
            "DEPTHSTUDY_RESULTS": str(tmp_path / "results")}


@pytest.mark.slow
def test_parallel_study_trains_every_run_once_and_train_prints_the_notebook_row(tmp_path):
    """``depthstudy run --jobs 2`` on an empty cache: 08, 09, 11 share the HEG runs and 09's heg_s run;
    every run folder records exactly one training. Then ``depthstudy train`` reuses 09's l1 run and
    prints the row 09 wrote."""
    env = _env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "depthstudy.cli", "run", "--profile", "smoke", "--jobs", "2",
                           "--only", "08", "09", "11"], env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    logs = sorted((tmp_path / "cache" / "runs" / "smoke").rglob("trainings.jsonl"))
    assert any("cliff_ablation" in str(p) for p in logs) and any("heg_training" in str(p) for p in logs)
    for log in logs:
        lines = log.read_text().splitlines()
        assert len(lines) == 1, f"{log.parent} trained {len(lines)} times: {lines}"
    train = subprocess.run([sys.executable, "-m", "depthstudy.cli", "train", "loss_comparison", "l1", "--profile",
                            "smoke", "--seed", "0"], env=env, capture_output=True, text=True, timeout=600)
    assert train.returncode == 0, train.stderr[-3000:]
    l1_logs = [p for p in logs if "loss_comparison/l1/" in p.as_posix()]
    assert len(l1_logs) == 1 and len(l1_logs[0].read_text().splitlines()) == 1  # reused, not retrained
    header, *rows = [line.split() for line in train.stdout.strip().splitlines()]
    printed = dict(zip(header, rows[0]))
    written = pd.read_csv(tmp_path / "results" / "smoke" / "loss_comparison" / "metrics.csv")
    written = written[(written["variant"] == "l1") & (written["seed"] == 0) & (written["depth_range"] == "all")]
    assert len(written) > 5
    for _, row in written.iterrows():
        assert float(printed[row["metric"]]) == pytest.approx(row["value"], rel=1e-5), row["metric"]


def test_spec_claims_come_from_the_claims_data_and_the_report_lists_every_spec():
    from depthstudy import report
    from depthstudy.results import claims

    by_study = {c.study for c in claims.load()}
    for spec in specs.STUDIES.values():
        assert bool(spec.claims) == (spec.name in by_study), spec.name
    assert specs.STUDIES["loss_comparison"].claims
    assert report.EXPECTED_STUDIES == tuple((s.notebook, s.name) for s in specs.STUDIES.values())


def test_dataset_splits_of_a_spec_are_checked_and_learning_curves_reads_validation_only():
    curves_spec = specs.get_study("learning_curves")
    assert curves_spec.datasets == ("train", "val") and not curves_spec.paper and not curves_spec.claims
    assert curves_spec.variants == curves.FAMILIES and curves_spec.notebook == "14_learning_curves"
    assert all(set(s.datasets) <= set(specs.DATASETS) for s in specs.STUDIES.values())
    with pytest.raises(ValueError, match="unknown dataset split.*'valid'"):
        specs.Study("x", "99_x", "", variants=(), datasets=("train", "valid"))
