"""The results store: writer round trip, summaries, paper join, refusals, atomicity, provenance."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from depthstudy import io, provenance, results
from depthstudy.results import store


@pytest.fixture
def writer(tmp_path):
    return results.StudyWriter("loss_comparison", "smoke", root=tmp_path, dataset="synthrooms",
                               protocol="synthetic", params={"steps": 3, "lr": 1e-3},
                               dataset_info={"version": "v1", "hash": "abc"})


def study_files(tmp_path, folder="loss_comparison"):
    return sorted(p.name for p in (tmp_path / "smoke" / folder).iterdir())


STAGED = ".loss_comparison.partial"  # where a run writes until finish()


def staged_metrics(tmp_path):
    return store.read_metrics(tmp_path / "smoke" / STAGED / "metrics.csv")


def test_round_trip_through_load(writer, tmp_path):
    writer.add("heg_s", 0, {"rmse": 0.5, "abs_rel": 0.125}, n_images=7)
    writer.add("heg_s", 0, {"rmse": 0.25}, depth_range="<4m", n_images=7)
    writer.add("l1", 1, {"rmse": 0.75}, n_images=7, protocol="eigen")
    paths = writer.finish({"note": "unit test"})
    assert set(paths) == {"metrics", "summary", "run"} and all(p.is_file() for p in paths.values())
    got = results.load("smoke", "loss_comparison", root=tmp_path)
    assert list(got.columns) == results.METRICS_COLUMNS
    assert got["value"].tolist() == [0.5, 0.125, 0.25, 0.75]
    assert got["seed"].tolist() == [0, 0, 0, 1] and got["n_images"].tolist() == [7] * 4
    assert got["depth_range"].tolist() == ["all", "all", "<4m", "all"]
    assert got["protocol"].tolist() == ["synthetic"] * 3 + ["eigen"]
    assert set(got["study"]) == {"loss_comparison"} and set(got["dataset"]) == {"synthrooms"}
    both = results.load("smoke", root=tmp_path)          # all studies of the profile
    assert len(both) == 4
    run = results.load("smoke", "loss_comparison", "run", root=tmp_path)
    assert run["note"] == "unit test" and run["variants"] == ["heg_s", "l1"] and run["seeds"] == [0, 1]
    assert results.load("smoke", kind="run", root=tmp_path).keys() == {"loss_comparison"}


def test_summary_mean_std_by_hand(writer, tmp_path):
    for seed, value in enumerate([1.0, 2.0, 4.0]):
        writer.add("heg_s", seed, {"rmse": value, "delta1": 0.5}, n_images=3)
    writer.add("l1", 0, {"rmse": 0.9}, n_images=3)
    writer.finish()
    summary = results.load("smoke", "loss_comparison", "summary", root=tmp_path)
    assert list(summary.columns) == results.SUMMARY_COLUMNS
    row = summary[(summary.variant == "heg_s") & (summary.metric == "rmse")].iloc[0]
    # mean 7/3; deviations -4/3, -1/3, 5/3 -> sum of squares 42/9, / (3 - 1) = 7/3
    assert row["mean"] == pytest.approx(7 / 3) and row["std"] == pytest.approx(math.sqrt(7 / 3))
    assert row["n_seeds"] == 3
    flat = summary[(summary.variant == "heg_s") & (summary.metric == "delta1")].iloc[0]
    assert flat["std"] == 0.0 and flat["mean"] == 0.5
    single = summary[summary.variant == "l1"].iloc[0]
    assert single["n_seeds"] == 1 and single["std"] == 0.0       # one seed: 0.0, never NaN


def test_paper_join_without_difference(writer, tmp_path):
    writer.add("heg_s", 0, {"rmse": 0.5, "silog": 0.2}, n_images=3)
    writer.add("heg_s", 1, {"rmse": 0.6, "silog": 0.3}, n_images=3)
    writer.add("brand_new", 0, {"rmse": 0.7}, n_images=3)
    writer.finish()
    summary = results.load("smoke", "loss_comparison", "summary", root=tmp_path)
    hit = summary[(summary.variant == "heg_s") & (summary.metric == "rmse")].iloc[0]
    assert hit["paper"] == 0.493                                   # CLIFFNet Table 5, HEG-S RMS
    assert "delta" not in summary.columns                         # no cross-dataset difference
    for variant, metric in [("heg_s", "silog"), ("brand_new", "rmse")]:
        miss = summary[(summary.variant == variant) & (summary.metric == metric)].iloc[0]
        assert math.isnan(miss["paper"])
    text = (tmp_path / "smoke" / "loss_comparison" / "summary.csv").read_text()
    assert "nan" not in text.lower() and ",," not in text.split("\n", 1)[0]
    brand_new_line = next(line for line in text.splitlines() if ",brand_new," in line)
    assert brand_new_line.endswith(",1,")                        # n_seeds, empty paper


def test_summarize_without_paper_and_refusals():
    rows = pd.DataFrame({"study": "s", "variant": "v", "seed": [0, 1], "dataset": "d",
                         "protocol": "p", "depth_range": "all", "metric": "rmse",
                         "value": [1.0, 3.0], "n_images": 5})
    out = results.summarize(rows)
    assert out[["mean", "std", "n_seeds"]].values.tolist() == [[2.0, math.sqrt(2.0), 2]]
    assert out["paper"].isna().all()
    with pytest.raises(ValueError, match="twice"):
        results.summarize(pd.concat([rows, rows]))
    paper = pd.DataFrame({"study": "s", "variant": "v", "depth_range": "all", "metric": "rmse",
                          "value": [1.0, 2.0]})
    with pytest.raises(ValueError, match="paper frame holds a cell twice"):
        results.summarize(rows, paper)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "0.5x", None])
def test_nan_and_non_numbers_refused(writer, tmp_path, bad):
    writer.add("heg_s", 0, {"rmse": 0.5}, n_images=3)
    with pytest.raises(ValueError, match=r"'abs_rel' of variant 'heg_r'"):
        writer.add("heg_r", 0, {"rmse": 0.4, "abs_rel": bad}, n_images=3)
    on_disk = staged_metrics(tmp_path)
    assert on_disk["variant"].tolist() == ["heg_s"]               # nothing of the bad call written
    assert not writer.done("heg_r", 0)


def test_bad_arguments_refused(writer, tmp_path):
    with pytest.raises(ValueError, match="depth_range"):
        writer.add("v", 0, {"rmse": 1.0}, depth_range="4m", n_images=3)
    with pytest.raises(ValueError, match="metric"):
        writer.add("v", 0, {"RMSE": 1.0}, n_images=3)
    with pytest.raises(ValueError, match="n_images"):
        writer.add("v", 0, {"rmse": 1.0}, n_images=0)
    with pytest.raises(ValueError, match="seed"):
        writer.add("v", True, {"rmse": 1.0}, n_images=3)
    writer.add("v", 0, {"rmse": 1.0}, n_images=3)
    with pytest.raises(ValueError, match="twice"):
        writer.add("v", 0, {"rmse": 2.0}, n_images=3)
    with pytest.raises(ValueError, match="reserved"):
        results.StudyWriter("x", "paper", root=tmp_path, dataset="d", protocol="p", params={})
    with pytest.raises(ValueError, match="study"):
        results.StudyWriter("Bad/Study", "smoke", root=tmp_path, dataset="d", protocol="p", params={})


def test_incremental_flush_and_resume(writer, tmp_path):
    metrics_csv = tmp_path / "smoke" / STAGED / "metrics.csv"
    writer.add("heg_s", 0, {"rmse": 0.5}, n_images=3)
    assert metrics_csv.is_file()                                   # before finish()
    assert pd.read_csv(metrics_csv)["value"].tolist() == [0.5]
    writer.add("heg_s", 1, {"rmse": 0.6}, n_images=3)
    assert pd.read_csv(metrics_csv)["value"].tolist() == [0.5, 0.6]
    assert study_files(tmp_path, STAGED) == ["metrics.csv"]
    again = results.StudyWriter("loss_comparison", "smoke", root=tmp_path, dataset="synthrooms",
                                protocol="synthetic", params={}, resume=True)
    assert again.done("heg_s", 1) and not again.done("heg_s", 2)
    again.add("heg_s", 2, {"rmse": 0.7}, n_images=3)
    assert pd.read_csv(metrics_csv)["seed"].tolist() == [0, 1, 2]
    fresh = results.StudyWriter("loss_comparison", "smoke", root=tmp_path, dataset="synthrooms",
                                protocol="synthetic", params={})
    assert not fresh.done("heg_s", 0)


def test_add_frame(writer, tmp_path):
    frame = pd.DataFrame({"variant": ["a", "a"], "seed": [0, 1], "metric": "rmse",
                          "value": [1.0, 2.0], "n_images": 4, "depth_range": "<6m"})
    writer.add_frame(frame)
    got = staged_metrics(tmp_path)
    assert got["depth_range"].tolist() == ["<6m", "<6m"] and got["protocol"].tolist() == ["synthetic"] * 2
    with pytest.raises(ValueError, match="study"):
        writer.add_frame(frame.assign(study="other", seed=[5, 6]))
    with pytest.raises(ValueError, match="variant 'a'"):
        writer.add_frame(frame.assign(seed=[7, 8], value=[1.0, float("nan")]))
    assert len(staged_metrics(tmp_path)) == 2


def test_atomic_csv_write_leaves_no_partial_file(writer, tmp_path, monkeypatch):
    writer.add("heg_s", 0, {"rmse": 0.5}, n_images=3)
    before = (tmp_path / "smoke" / STAGED / "metrics.csv").read_bytes()

    def half_written(self, path, *args, **kwargs):
        with open(path, "w") as f:
            f.write("study,variant\npartial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_written)
    with pytest.raises(OSError, match="disk full"):
        writer.add("heg_s", 1, {"rmse": 0.6}, n_images=3)
    assert (tmp_path / "smoke" / STAGED / "metrics.csv").read_bytes() == before
    assert study_files(tmp_path, STAGED) == ["metrics.csv"]        # no temporary file left behind
    assert not writer.done("heg_s", 1)                           # a failed write records nothing
    monkeypatch.undo()
    writer.add("heg_s", 1, {"rmse": 0.6}, n_images=3)              # so the retry is not "twice"
    assert staged_metrics(tmp_path)["seed"].tolist() == [0, 1]


def test_atomic_json_write_on_finish(writer, tmp_path, monkeypatch):
    writer.add("heg_s", 0, {"rmse": 0.5}, n_images=3)

    def broken_dumps(*args, **kwargs):
        raise TypeError("cannot serialise")

    monkeypatch.setattr(io.json, "dumps", broken_dumps)
    with pytest.raises(TypeError, match="serialise"):
        writer.finish()
    assert "run.json" not in study_files(tmp_path, STAGED)
    assert not (tmp_path / "smoke" / "loss_comparison").exists()   # nothing swapped in
    assert not [n for n in study_files(tmp_path, STAGED) if n.endswith(".tmp") or n.startswith(".")]


def test_run_json_provenance(writer, tmp_path):
    writer.add("heg_s", 0, {"rmse": 0.5}, n_images=3)
    run = json.loads(writer.finish()["run"].read_text())
    assert set(run["git"]) == {"commit", "dirty", "dirty_paths"}
    assert run["git"]["dirty"] in (True, False, None)
    assert run["git"]["commit"] is None or len(run["git"]["commit"]) == 40
    assert {"torch", "numpy", "python", "depthstudy", "pandas"} <= set(run["versions"])
    assert run["versions"]["depthstudy"] == __import__("depthstudy").__version__
    assert run["profile"] == "smoke" and run["params"] == {"steps": 3, "lr": 1e-3}
    assert run["dataset"] == {"name": "synthrooms", "version": "v1", "hash": "abc"}
    assert isinstance(run["device"], str) and run["device"]
    assert run["wall_time_s"] >= 0 and run["started_utc"] <= run["finished_utc"]


def test_provenance_function_checks_input():
    rec = provenance.provenance("cpu", {"a": 1}, {"name": "nyuv2", "sha256": "00"}, device="cpu: test")
    assert rec["device"] == "cpu: test" and rec["dataset"]["sha256"] == "00" and "wall_time_s" not in rec
    with pytest.raises(ValueError, match="name"):
        provenance.provenance("cpu", {}, {"version": 1})


def test_load_errors_name_path_and_command(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        results.load("cpu", "structures", "summary", root=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "cpu" / "structures" / "summary.csv") in message
    assert "depthstudy run --profile cpu" in message
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "cpu")):
        results.load("cpu", root=tmp_path)
    with pytest.raises(ValueError, match="kind"):
        results.load("cpu", "structures", "table", root=tmp_path)


def test_non_main_process_writes_nothing(writer, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "is_main_process", lambda: False)
    writer.add("heg_s", 0, {"rmse": 0.5}, n_images=3)
    assert writer.finish() == {}
    assert not (tmp_path / "smoke").exists()


def test_save_figure_png_and_svg(writer):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    written = writer.save_figure(fig, "loss_curve")
    plt.close(fig)
    assert [p.name for p in written] == ["loss_curve.png", "loss_curve.svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert round(Image.open(written[0]).info["dpi"][0]) == 150  # Decision X23
    assert "<svg" in written[1].read_text()
    assert sorted(p.name for p in writer.figures_dir.iterdir()) == ["loss_curve.png", "loss_curve.svg"]


def test_save_table_lands_in_the_study_folder_with_the_metrics(writer, tmp_path):
    curve = pd.DataFrame({"family": ["fcrn", "fcrn"], "step": [0, 4], "rmse": [1.2, float("nan")]})
    staged = writer.save_table(curve, "curves")
    assert staged.parent.name == "tables" and staged.parent.parent == writer.write_dir != writer.dir
    writer.add("heg_s", 0, {"rmse": 0.5}, n_images=3)
    writer.finish()
    final = tmp_path / "smoke" / "loss_comparison" / "tables" / "curves.csv"
    assert final.read_text().splitlines() == ["family,step,rmse", "fcrn,0,1.2", "fcrn,4,"]
    with pytest.raises(ValueError, match="table name"):
        writer.save_table(curve, "Bad Name")
    with pytest.raises(ValueError, match="non-empty"):
        writer.save_table(curve.iloc[:0], "empty")


def test_compare_wide_table(writer, tmp_path):
    for seed, value in enumerate([0.5, 0.7]):
        writer.add("heg_s", seed, {"rmse": value}, n_images=3)
    writer.finish()
    wide = results.compare("smoke", "loss_comparison", root=tmp_path)
    assert wide.loc[("heg_s", "all"), ("rmse", "ours")] == "0.600 ± 0.141 (n=2)"
    assert wide.loc[("heg_s", "all"), ("rmse", "paper")] == 0.493
    assert wide.loc[("l1", "all"), ("rmse", "ours")] == ""          # published row we did not run
    assert wide.loc[("l1", "all"), ("rmse", "paper")] == 0.529
    assert list(wide.index.get_level_values(0))[:2] == ["l1", "grad"]   # the paper's row order
    assert list(wide.columns.get_level_values(0).unique()) == ["abs_rel", "rmse", "delta1", "delta2"]


def test_depth_range_labels():
    assert results.depth_range_label(4) == "<4m" and results.depth_range_label(None) == "all"
    assert results.depth_range_label(2.5) == "<2.5m"
    assert results.parse_depth_range("<8m") == (0.0, 8.0) and results.parse_depth_range("all") is None
    with pytest.raises(ValueError, match="depth_range"):
        results.parse_depth_range("<=4m")
    with pytest.raises(ValueError, match="upper_m"):
        results.depth_range_label(-1)


def test_relative_gain_sign_convention():
    assert results.relative_gain("rmse", 0.50, 0.36) == pytest.approx(0.28)   # lower RMSE: better
    assert results.relative_gain("miou", 0.40, 0.36) == pytest.approx(-0.10)  # lower mIoU: worse
    with pytest.raises(ValueError, match="metric"):
        results.relative_gain("abs_rel", 1.0, 1.0)
    with pytest.raises(ValueError, match="single"):
        results.relative_gain("rmse", 0.0, 1.0)


def test_git_state_ignores_results_but_sees_code_changes(tmp_path):
    import subprocess

    from depthstudy.provenance import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (tmp_path / "results" / "cpu").mkdir(parents=True)
    (tmp_path / "results" / "cpu" / "metrics.csv").write_text("a\n")
    assert git_state(tmp_path)["dirty"] is False  # a study's own outputs do not count
    (tmp_path / "code.py").write_text("x = 2\n")
    state = git_state(tmp_path)
    assert state["dirty"] is True and state["dirty_paths"] == ["code.py"]
