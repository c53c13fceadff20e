"""Report: gathering summaries, ours vs paper, Table 4 rows, claims and the verdict rule, HTML export."""

import math

import nbformat
import pandas as pd
import pytest

from depthstudy import report, results
from depthstudy.results import SUMMARY_COLUMNS


def _summary(cells, study="loss_comparison", metric="rmse"):
    """cells: variant -> (mean, std, n_seeds)."""
    return pd.DataFrame([{"study": study, "variant": v, "dataset": "synthrooms", "protocol": "synthetic",
                          "depth_range": "all", "metric": metric, "mean": m, "std": s, "n_seeds": n,
                          "paper": float("nan"), "delta": float("nan")} for v, (m, s, n) in cells.items()],
                        columns=SUMMARY_COLUMNS)


def test_verdict_rule():
    assert report.verdict(1.0, 0.1, 3) == "supported"
    assert report.verdict(-1.0, 0.1, 3) == "contradicted"
    assert report.verdict(1.0, 0.1, 2) == "inconclusive"       # too few seeds
    assert report.verdict(0.15, 0.1, 5) == "inconclusive"      # within 2 x pooled std


def test_pairwise_claim_evidence_and_deciding_pair():
    summary = _summary({"a": (1.0, 0.1, 3), "b": (1.5, 0.2, 3), "c": (0.6, 0.01, 3)})
    ev = report.contrast_evidence(summary, "loss_comparison", "rmse", {"a": 1.0, "b": -1.0})
    assert ev["diff"] == pytest.approx(0.5)  # rmse: lower is better, so a beating b is positive
    assert ev["pooled_std"] == pytest.approx(math.sqrt((0.01 + 0.04) / 2))
    claims = [report.Claim("a beats b and c", "test", "loss_comparison", "rmse", ("a",), ("b", "c")),
              report.Claim("a beats b", "test", "loss_comparison", "rmse", ("a",), ("b",)),
              report.Claim("a beats z", "test", "loss_comparison", "rmse", ("a",), ("z",))]
    table = report.evaluate_claims(summary, "cpu", claims)
    assert list(table["verdict"]) == ["contradicted", "supported", "missing"]
    assert table.loc[0, "comparison"] == "a vs c" and table.loc[0, "diff"] == pytest.approx(-0.4)
    assert table.loc[1, "n_seeds"] == 3 and table.loc[1, "profile"] == "cpu"


def test_contrast_claim_l_da_share():
    # rmse: no attention 1.0, +DA 0.8, full 0.75 -> DA gain 0.2 > rest 0.05
    summary = _summary({"synergy_no_attention": (1.0, 0.01, 3), "synergy_da": (0.8, 0.01, 3),
                        "synergy_da_semf_jg": (0.75, 0.01, 3)}, study="attention_loss")
    claim = [c for c in report.CLAIMS if c.claim.startswith("L_DA contributes")]
    table = report.evaluate_claims(summary, "cpu", claim)
    assert table.loc[0, "diff"] == pytest.approx(0.5 * 0.2 - 0.5 * 0.05)
    assert table.loc[0, "verdict"] == "supported"


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
    assert report.evaluate_claims(empty, "gpu")["verdict"].eq("missing").all()
    assert report.save_claims(report.evaluate_claims(summary, "cpu"), "cpu", root=tmp_path).is_file()


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
