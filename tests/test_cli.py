"""The `depthstudy` command: data synth / verify, and the nyu profile end to end on a fixture."""

import pandas as pd
import pytest

from depthstudy import cli
from depthstudy.data.nyu_fixture import write_fixture_root


def test_data_synth_pregenerates_into_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path))
    assert cli.main(["data", "synth", "--profile", "smoke"]) == 0
    written = [line for line in capsys.readouterr().out.splitlines() if line.endswith(".npz")]
    assert sorted(p.rsplit("/", 1)[1] for p in written) == ["test.npz", "train.npz", "val.npz"]
    assert all(str(tmp_path) in p for p in written)


def test_data_synth_refuses_nyu_profile(capsys):
    assert cli.main(["data", "synth", "--profile", "nyu"]) == 2
    assert "not synthrooms" in capsys.readouterr().err


def test_data_verify_reports_missing_and_passes_on_fixture(tmp_path, capsys):
    assert cli.main(["data", "verify", "nyuv2", "--root", str(tmp_path)]) == 1
    assert "nyu_depth_v2_labeled.mat: missing" in capsys.readouterr().out
    assert cli.main(["data", "verify", "nosuch", "--root", str(tmp_path)]) == 2


@pytest.mark.slow
def test_nyu_profile_runs_the_datasets_notebook_on_a_fixture(tmp_path, monkeypatch, capsys):
    write_fixture_root(tmp_path / "nyu", n_images=8, height=48, width=64)
    monkeypatch.setenv("DEPTHSTUDY_NYU_ROOT", str(tmp_path / "nyu"))
    monkeypatch.setenv("DEPTHSTUDY_RESULTS", str(tmp_path / "results"))
    assert cli.main(["run", "--profile", "nyu", "--only", "datasets"]) == 0, capsys.readouterr().out
    metrics = pd.read_csv(tmp_path / "results" / "nyu" / "datasets" / "metrics.csv")
    assert set(metrics["dataset"]) == {"nyuv2"}
    n = metrics.query("metric == 'n_images'").set_index("variant")["value"]
    assert n["train"] + n["test"] == 8
