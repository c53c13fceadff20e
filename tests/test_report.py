"""Report: gathering summaries, ours vs paper, Table 4 rows, HTML export (verdicts: test_evidence.py)."""

import nbformat
import pytest

from depthstudy import report, results


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
