"""End to end: `depthstudy run` executes a notebook with papermill, injects parameters, writes results."""


import nbformat
import pytest

from depthstudy import cli, results


@pytest.mark.slow
def test_run_datasets_notebook_with_parameters(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEPTHSTUDY_RESULTS", str(tmp_path))
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    code = cli.main(["run", "--profile", "smoke", "--only", "01_datasets", "-p", "seed=1", "-p", "n_grid=2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "01_datasets" in out and "notebooks: 1 ok, 0 failed, 0 skipped" in out

    executed = nbformat.read(tmp_path / "smoke" / "notebooks" / "01_datasets.ipynb", as_version=4)
    assert executed.metadata.papermill.parameters == {"profile": "smoke", "seed": 1, "n_grid": 2}

    metrics = results.load("smoke", "datasets", root=tmp_path)
    assert set(metrics["seed"]) == {1} and set(metrics["variant"]) == {"train", "test"}
    assert (metrics["dataset"] == "synthrooms").all()
    run = results.load("smoke", "datasets", kind="run", root=tmp_path)
    assert run["profile"] == "smoke" and run["params"]["seed"] == 1
    figures = {p.name for p in (tmp_path / "smoke" / "datasets" / "figures").iterdir()}
    assert {"samples.png", "depth_histogram.png", "class_frequency_40.png", "class_frequency_4.png"} <= figures
