"""Report: gathering summaries, ours vs paper, Table 4 rows, HTML export (verdicts: test_evidence.py)."""

import nbformat
import pandas as pd
import pytest

from depthstudy import report, results
from depthstudy.results import claims


def test_gather_ours_vs_paper_table4(tmp_path):
    writer = results.StudyWriter("loss_comparison", "cpu", root=tmp_path, dataset="synthrooms",
                                 protocol="synthetic", params={})
    for seed, rmse in enumerate((0.50, 0.52, 0.54)):
        writer.add("heg_s", seed, {"rmse": rmse, "silog": 1.0}, n_images=4)
    writer.finish()
    summary, found, missing = report.gather("cpu", root=tmp_path)
    assert found == ["loss_comparison"] and "loss_comparison" not in missing and "structures" in missing
    table = report.ours_vs_paper(summary)
    assert list(table["metric"]) == ["rmse"]  # silog has no published value
    assert table.loc[0, "paper"] == pytest.approx(0.493) and table.loc[0, "ours"] == "0.520 ± 0.020 (n=3)"
    t4 = report.table4_rows(summary)
    assert t4.loc[0, "paper_row"] == "cliffnet_s" and t4.loc[0, "paper"] == pytest.approx(0.493)
    assert t4.loc[0, "best_other_published"] == pytest.approx(0.509)  # DORN's RMSE
    empty, found, missing = report.gather("gpu", root=tmp_path)
    assert empty.empty and not found and len(missing) == len(report.EXPECTED_STUDIES)
    assert "delta" not in table.columns  # no cross-dataset absolute difference


def test_export_html(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("secret_source_line = 1")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="visible output 42\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title here"), cell]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    html = report.export_html(path, tmp_path / "out" / "report.html").read_text()
    assert "visible output 42" in html and "Title here" in html and "secret_source_line" not in html
    shown = report.export_html(path, tmp_path / "with_code.html", exclude_input=False).read_text()
    assert "secret_source_line" in shown
    with pytest.raises(FileNotFoundError, match="executed_notebook"):
        report.export_html(tmp_path / "none.ipynb", tmp_path / "x.html")


def test_report_notebook_html_is_complete_and_has_no_absolute_paths(tmp_path):
    """The report notebook on a results root with a 70-row study: the exported page has a title,
    a table of contents, every row (no pandas "..." rows), figures with captions, the claims in
    full, and no path of this machine."""
    import html
    import re

    import matplotlib.pyplot as plt

    from depthstudy import runner

    root = tmp_path / "results"
    writer = results.StudyWriter("depth_range", "smoke", root=root, dataset="synthrooms", protocol="synthetic",
                                 params={})
    for v in range(70):
        writer.add(f"variant_{v:02d}", 0, {"rmse": 0.5 + v / 100, "abs_rel": 0.1}, n_images=4)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    writer.save_figure(fig, "metrics_vs_range")
    writer.finish()
    (run,) = runner.run("smoke", only=["13_report"], results_root=root, log=lambda line: None)
    assert run.status == "ok", run.error
    page = (root / "smoke" / "report.html").read_text()
    assert "<title>13 · Report" in page and 'class="depthstudy-toc"' in page
    assert "<td>...</td>" not in page and "<th>...</th>" not in page and "…" not in page
    assert all(f"variant_{v:02d}" in page for v in range(70))
    assert html.escape(report.figure_caption("metrics_vs_range")) in page
    assert all(html.escape(claim, quote=False) in page for claim in {c.claim for c in claims.load()})
    assert "PosixPath" not in page and str(tmp_path) not in page
    assert not re.search(r"(?<![\w.])/(home|work|tmp|root|Users|usr|opt|var)/", page)


def test_wide_tables_and_status(tmp_path):
    writer = results.StudyWriter("loss_comparison", "cpu", root=tmp_path, dataset="synthrooms",
                                 protocol="synthetic", params={})
    for seed, rmse in enumerate((0.50, 0.52, 0.54)):
        writer.add("heg_s", seed, {"rmse": rmse, "delta1": 0.8}, n_images=4)
        writer.add("l1", seed, {"rmse": rmse + 0.1, "delta1": 0.7}, n_images=4)
    writer.finish()
    summary, found, _ = report.gather("cpu", root=tmp_path)
    ours = report.wide_ours(summary, "loss_comparison")
    assert list(ours.columns) == ["variant", "rmse", "delta1"] and list(ours["variant"]) == ["l1", "heg_s"]
    assert ours.loc[1, "rmse"] == "0.520\u00a0±\u00a00.020\u00a0(n=3)"
    paper = report.wide_paper("loss_comparison")
    assert "heg_s" in set(paper["variant"]) and "rmse" in paper.columns
    status = report.study_status(found, "cpu", root=tmp_path).set_index("study")
    assert status.loc["loss_comparison", "notebook"] == "09_loss_comparison"
    assert status.loc["loss_comparison", "status"] == "present" and status.loc["loss_comparison", "commit"]
    assert status.loc["structures", "commit"] == ""
    big = pd.DataFrame({"text": ["x" * 300] * 80})
    table = report.full_html(big)
    assert table.count("x" * 300) == 80 and "..." not in table


def test_study_tables_carry_the_comparable_trivial_baselines():
    def row(study, variant, protocol, metric, mean, n=3):
        return {"study": study, "variant": variant, "dataset": "synthrooms", "protocol": protocol,
                "depth_range": "all", "metric": metric, "mean": mean, "std": 0.01, "n_seeds": n, "paper": None}

    summary = pd.DataFrame([row("loss_comparison", "l1", "synthetic", "rmse", 0.70),
                            row("baselines", "const_median", "synthetic", "rmse", 0.871, 1),
                            row("baselines", "const_median", "synthetic", "abs_rel", 0.30, 1),
                            row("baselines", "heg_r_block_mean", "heg_validation", "val_l1", 0.374, 1)])
    table = report.wide_ours(summary, "loss_comparison")
    assert list(table["variant"]) == ["l1", "baseline: const_median"]          # same protocol and metric only
    assert list(table.columns) == ["variant", "rmse"] and table.iloc[1]["rmse"] == "0.871"
    assert list(report.wide_ours(summary, "loss_comparison", baselines=False)["variant"]) == ["l1"]
    assert report.baseline_rows(summary, "baselines").empty


def test_a_study_on_validation_scenes_gets_no_test_baselines_and_no_paper():
    """learning_curves is scored on the validation scenes: the test-split baselines would not compare."""
    def row(study, variant, metric, mean):
        return {"study": study, "variant": variant, "dataset": "synthrooms", "protocol": "synthetic",
                "depth_range": "all", "metric": metric, "mean": mean, "std": 0.0, "n_seeds": 1, "paper": None}

    summary = pd.DataFrame([row("learning_curves", "fcrn", "rmse", 0.8),
                            row("baselines", "const_median", "rmse", 0.871)])
    assert report.baseline_rows(summary, "learning_curves").empty
    assert list(report.wide_ours(summary, "learning_curves")["variant"]) == ["fcrn"]
    assert report.wide_paper("learning_curves").empty and report.paper_sources("learning_curves") == ""
    assert "learning_curves" in dict((s, n) for n, s in report.EXPECTED_STUDIES)
    assert report.figure_caption("learning_curves").startswith("Validation metrics")
