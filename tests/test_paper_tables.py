"""The published tables in results/paper/ against the seed texts of the two papers.

Every cell of every CSV is checked against the numbers parsed from the table's region of the paper
text (not against a transcription), plus named spot checks and structural checks.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from depthstudy import results
from depthstudy.results.schema import FRACTION_METRICS, METRIC_KEYS, PAPER_COLUMNS


def _papers_dir() -> Path:
    env = os.environ.get("DEPTHSTUDY_SEED_PAPERS")
    for folder in ([Path(env)] if env else []) + [
            Path(__file__).resolve().parents[2] / "shared" / "papers",  # shared/ beside the checkout (CI)
            Path(__file__).resolve().parents[1] / "shared" / "papers"]:
        if (folder / "cliffnet_eccv2020.txt").is_file():
            return folder
    pytest.skip("seed paper texts not found (set DEPTHSTUDY_SEED_PAPERS)")


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    folder = _papers_dir()
    return {"cliffnet": (folder / "cliffnet_eccv2020.txt").read_text(encoding="utf-8"),
            "jiao": (folder / "jiao_eccv2018_supplement.txt").read_text(encoding="utf-8")}


@pytest.fixture(scope="module")
def paper() -> pd.DataFrame:
    return results.load_paper()


def region(text: str, start: str, end: str) -> str:
    """The text from the first ``start`` to the next ``end`` after it (both must exist)."""
    i = text.index(start)
    return text[i:text.index(end, i + len(start))]


class Rows(dict):
    """Table rows keyed by their label with HTML tags and all whitespace removed."""

    def __getitem__(self, label: str) -> list[str]:
        return super().__getitem__(squeeze(label))


def squeeze(label: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"</?[a-z]+>", "", label))


def rows_of(block: str) -> Rows:
    """Tab-separated rows of a table region: label -> remaining non-empty fields."""
    out = Rows()
    for line in block.splitlines():
        fields = [re.sub(r"</?[a-z]+>", "", f).strip() for f in line.split("\t")]
        if len(fields) > 1:
            dict.__setitem__(out, squeeze(fields[0]), [f for f in fields[1:] if f])
    return out


def cell(paper: pd.DataFrame, table: str, variant: str, metric: str, depth_range: str = "all") -> float:
    hit = paper[(paper.table == table) & (paper.variant == variant) & (paper.metric == metric)
                & (paper.depth_range == depth_range)]
    assert len(hit) == 1, (table, variant, metric, depth_range, len(hit))
    return float(hit["value"].iloc[0])


def assert_table_matches(paper: pd.DataFrame, table: str, expected: dict[tuple[str, str, str], float]):
    """The CSV of ``table`` holds exactly ``expected``: (variant, depth_range, metric) -> value."""
    sub = paper[paper.table == table]
    got = {(r.variant, r.depth_range, r.metric): float(r.value) for r in sub.itertuples()}
    assert set(got) == set(expected), (set(got) ^ set(expected))
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, wrong


def number(text: str) -> float | None:
    text = text.replace(" ", "")
    return None if text == "-" else float(text)


JIAO_METRICS = ["abs_rel", "log10", "rmse", "rmse_log", "delta1", "delta2", "delta3"]
JIAO_RANGE_ROWS = [("Liu et al. [5]", "liu"), ("Eigen & Fergus [6]", "eigen_fergus"),
                   ("Laina et al. [7]", "laina"), ("Wang et al. [8]", "wang"),
                   ("Proposed-4c", "synergy_4c"), ("Proposed-40c", "synergy_40c")]


# ---------------------------------------------------------------- spot checks named in the brief

@pytest.mark.parametrize("paper_key, start, end, printed, table, variant, metric, depth_range, value", [
    ("cliffnet", "Table 5. Comparison of different losses", "4.3 Ablation", "0.493",
     "cliffnet_table5", "heg_s", "rmse", "all", 0.493),
    ("jiao", "Table 8. Evaluation on attention-driven loss", "6 More Qualitative", "0.098",
     "jiao_suppl_table8", "synergy_da_semf_jg", "abs_rel", "all", 0.098),
    ("jiao", "Table 4. Performance comparison", "Table 5. Performance", "0.416",
     "jiao_suppl_table4", "laina", "rmse", "<4m", 0.416),
    ("jiao", "Table 2. Branch-out", "thermore", "+0.283",
     "jiao_suppl_table2", "S1-4", "rmse_rel_gain", "all", 0.283),
    ("jiao", "Table 1. Empirical comparison", "Table 2. Branch-out", "-0.54",
     "jiao_suppl_table1", "finetune", "rmse_rel_gain", "all", -0.54),
    ("cliffnet", "Table 4. Comparison with state-of-the-art", "4.2 Comparison", "0.874",
     "cliffnet_table4", "eigen2014", "rmse", "all", 0.874),
    ("jiao", "Table 7. Analysis", "5 Evaluation on", "0.416",
     "jiao_suppl_table7", "synergy_depth_only", "rmse", "all", 0.416),
    ("jiao", "Table 6. Performance", "Table 7. Analysis", "0.748",
     "jiao_suppl_table6", "wang", "rmse", "<8m", 0.748),
    ("jiao", "Table 1. Empirical comparison", "Table 2. Branch-out", "+ 0.003",
     "jiao_suppl_table1", "cascade_sd", "miou_rel_gain", "all", 0.003),
])
def test_named_cells(texts, paper, paper_key, start, end, printed, table, variant, metric,
                     depth_range, value):
    assert printed in region(texts[paper_key], start, end)
    assert cell(paper, table, variant, metric, depth_range) == value


# ---------------------------------------------------------------- every cell against the text

def test_cliffnet_table4_every_cell(texts, paper):
    block = rows_of(region(texts["cliffnet"], "Table 4. Comparison with state-of-the-art",
                           "4.2 Comparison"))
    names = [("Eigen et al. [6]", "eigen2014"), ("Liu et al. [21]", "liu"),
             ("Eigen and Fergus [5]", "eigen_fergus"), ("Laina et al. [14]", "laina"),
             ("Chakrabarti et al. [1]", "chakrabarti"), ("Xu et al. [34]", "xu_sacrf"),
             ("Qi et al. [24]", "qi"), ("Lee et al. [15]", "lee"), ("Fu et al. [7]", "fu_dorn"),
             ("Xu et al. [33]", "xu_padnet"), ("CLIFFNet-R", "cliffnet_r"), ("CLIFFNet-S", "cliffnet_s")]
    metrics = ["rmse", "rmse_log", "abs_rel", "sq_rel", "delta1", "delta2", "delta3"]
    assert block["Method"] == ["Error", "Accuracy"] and block[""] == ["RMSE", "RMSE (log)", "Abs Rel",
                                                                       "Sq Rel", "P1", "P2", "P3"]
    expected = {}
    for label, variant in names:
        values = [number(v) for v in block[label]]
        assert len(values) == 7, label
        expected.update({(variant, "all", m): v for m, v in zip(metrics, values) if v is not None})
    assert len(expected) == 12 * 7 - 6
    assert_table_matches(paper, "cliffnet_table4", expected)


def test_cliffnet_table5_every_cell(texts, paper):
    block = rows_of(region(texts["cliffnet"], "Table 5. Comparison of different losses", "4.3 Ablation"))
    labels = {"L1": "l1", "Grad": "grad", "SI": "si", "DA": "da", "MT": "mt", "HEG-Rn": "heg_rn",
              "HEG-Im": "heg_im", "HEG-R": "heg_r", "HEG-S": "heg_s"}
    variants = [labels[h] for h in block["Methods"]]
    expected = {}
    for printed, metric in [("RMS", "rmse"), ("Abs Rel", "abs_rel"), ("P1", "delta1"), ("P2", "delta2")]:
        values = [number(v) for v in block[printed]]
        assert len(values) == len(variants) == 9
        expected.update({(v, "all", metric): x for v, x in zip(variants, values)})
    assert_table_matches(paper, "cliffnet_table5", expected)


def test_jiao_table1_every_cell(texts, paper):
    block = rows_of(region(texts["jiao"], "Table 1. Empirical comparison", "Table 2. Branch-out"))
    assert block["Task"] == ["Finet.", "Casc.", "Merge", "Branch"]
    expected = {}
    for printed, metric in [("Depth (RMSE)", "rmse_rel_gain"), ("Semantic (mIoU)", "miou_rel_gain")]:
        finet, casc, merge, branch = block[printed]
        first_depth, first_semantic = casc.split("/")   # caption: X/Y = depth/semantic first
        expected.update({("finetune", "all", metric): number(finet),
                         ("cascade_ds", "all", metric): number(first_depth),
                         ("cascade_sd", "all", metric): number(first_semantic),
                         ("merge", "all", metric): number(merge),
                         ("branch", "all", metric): number(branch)})
    assert_table_matches(paper, "jiao_suppl_table1", expected)


def test_jiao_table2_every_cell(texts, paper):
    block = rows_of(region(texts["jiao"], "Table 2. Branch-out", "thermore"))
    heads = block["Task"]
    assert heads == ["S1", "S1-2", "S1-3", "S1-4", "S1-5"]
    expected = {}
    for printed, metric in [("Depth (RMSE)", "rmse_rel_gain"), ("Semantic (mIoU)", "miou_rel_gain")]:
        expected.update({(h, "all", metric): number(v) for h, v in zip(heads, block[printed])})
    assert_table_matches(paper, "jiao_suppl_table2", expected)


@pytest.mark.parametrize("table, start, end, depth_range", [
    ("jiao_suppl_table4", "Table 4. Performance comparison on depth range < 4m",
     "Table 5. Performance", "<4m"),
    ("jiao_suppl_table5", "Table 5. Performance comparison on depth range < 6m",
     "Table 6. Performance", "<6m"),
])
def test_jiao_tables_4_5_every_cell(texts, paper, table, start, end, depth_range):
    block = rows_of(region(texts["jiao"], start, end))
    expected = {}
    for label, variant in JIAO_RANGE_ROWS:
        values = [number(v) for v in block[label]]
        assert len(values) == 7, label
        expected.update({(variant, depth_range, m): v for m, v in zip(JIAO_METRICS, values)})
    assert_table_matches(paper, table, expected)


def test_jiao_table6_every_cell_restored(texts, paper):
    """Row labels lost (restored by the order of Tables 4-5) and rel's leading '0.' cut."""
    lines = region(texts["jiao"], "Table 6. Performance comparison on depth range < 8m",
                   "Table 7. Analysis").splitlines()
    data = [line.split("\t") for line in lines if re.match(r"^\.?\d+\t", line)]
    assert len(data) == 6
    expected = {}
    for (_, variant), fields in zip(JIAO_RANGE_ROWS, data):
        rel = float("0." + fields[0].lstrip("."))
        values = [rel] + [number(v) for v in fields[1:]]
        assert len(values) == 7
        expected.update({(variant, "<8m", m): v for m, v in zip(JIAO_METRICS, values)})
    assert_table_matches(paper, "jiao_suppl_table6", expected)
    notes = paper[paper.table == "jiao_suppl_table6"]
    assert notes["note"].str.contains("row label lost").all()
    assert notes.loc[notes.metric == "abs_rel", "note"].str.contains("leading '0.'").all()


def test_jiao_table7_every_cell(texts, paper):
    block = rows_of(region(texts["jiao"], "Table 7. Analysis", "5 Evaluation on"))
    expected = {}
    for printed, depth_range in [("≤ 4m", "<4m"), ("≤ 6 m", "<6m"), ("≤ 8 m", "<8m"), ("All", "all")]:
        values = [number(v) for v in block[printed]]
        assert len(values) == 7
        expected.update({("synergy_depth_only", depth_range, m): v for m, v in zip(JIAO_METRICS, values)})
    assert_table_matches(paper, "jiao_suppl_table7", expected)


def test_jiao_table8_every_cell(texts, paper):
    block = rows_of(region(texts["jiao"], "Table 8. Evaluation on attention-driven loss",
                           "6 More Qualitative"))
    names = [("EncdDecd [9] (L_2)", "encdec_l2"), ("EncdDecd [9] (L_{DA})", "encdec_da"),
             ("Laina [7]", "fcrn_berhu"), ("Laina [7] (L_{DA})", "fcrn_da"),
             ("w/o $L_{attention}$", "synergy_no_attention"), ("$+L_{DA}$", "synergy_da"),
             ("$+L_{DA}+L_{semF}$", "synergy_da_semf"), ("$+L_{DA}+L_{semF}+L_{JG}$", "synergy_da_semf_jg")]
    expected = {}
    for label, variant in names:
        values = [number(v) for v in block[label]]
        assert len(values) == 7, label
        expected.update({(variant, "all", m): v for m, v in zip(JIAO_METRICS, values)})
    assert_table_matches(paper, "jiao_suppl_table8", expected)


# ---------------------------------------------------------------- structure

def test_every_table_present_and_nothing_else(paper):
    folder = results.paper_dir()
    assert {p.stem for p in folder.glob("*.csv")} == set(results.PAPER_TABLES)
    counts = paper.groupby("table").size().to_dict()
    assert counts == {"cliffnet_table4": 78, "cliffnet_table5": 36, "jiao_suppl_table1": 10,
                      "jiao_suppl_table2": 10, "jiao_suppl_table4": 42, "jiao_suppl_table5": 42,
                      "jiao_suppl_table6": 42, "jiao_suppl_table7": 28, "jiao_suppl_table8": 56}


def test_columns_and_constant_fields(paper):
    assert list(paper.columns) == PAPER_COLUMNS
    assert paper["seed"].isna().all()
    assert (paper["n_images"] == 654).all()
    assert set(paper["dataset"]) == {"nyuv2"} and set(paper["protocol"]) == {"paper"}
    for table, info in results.PAPER_TABLES.items():
        sub = paper[paper.table == table]
        assert set(sub["source"]) == {info["source"]} and set(sub["study"]) == {info["study"]}
        assert info["source"].startswith(("Jiao et al. 2018 suppl. Table", "Wang et al. 2020 (CLIFFNet"))


def test_no_duplicated_cells(paper):
    assert not paper.duplicated(["table", "variant", "depth_range", "metric"]).any()
    # the summary join is on (study, variant, depth_range, metric): unique across tables too
    assert not paper.duplicated(["study", "variant", "depth_range", "metric"]).any()


def test_values_finite_and_in_range(paper):
    assert all(math.isfinite(v) for v in paper["value"])
    fractions = paper[paper.metric.isin(FRACTION_METRICS)]
    assert len(fractions) > 0 and fractions["value"].between(0, 1).all()
    errors = paper[paper.metric.isin(["abs_rel", "sq_rel", "rmse", "rmse_log", "log10"])]
    assert (errors["value"] > 0).all()
    gains = paper[paper.metric.str.endswith("_rel_gain")]
    assert gains["value"].abs().max() < 1


def test_names_are_canonical(paper):
    assert set(paper["metric"]) <= set(METRIC_KEYS)
    for study, spec in results.PAPER_STUDIES.items():
        sub = paper[paper.study == study]
        assert set(sub["variant"]) == set(spec["variants"]), study
        assert set(sub["metric"]) == set(spec["metrics"]), study
        assert set(sub["depth_range"]) == set(spec["depth_ranges"]), study
        assert set(sub["table"]) == set(spec["tables"]), study


def test_reconstruction_notes_recorded(paper):
    eigen = paper[paper.variant.isin(["eigen2014", "eigen_fergus"]) & (paper.table == "cliffnet_table4")]
    assert eigen["note"].str.contains("identical").all()
    by_metric = eigen.pivot(index="metric", columns="variant", values="value")
    assert (by_metric["eigen2014"] == by_metric["eigen_fergus"]).all()
    t7 = paper[(paper.table == "jiao_suppl_table7") & (paper.depth_range != "all")]
    assert t7["note"].str.contains("≤").all()
    t8 = paper[(paper.table == "jiao_suppl_table8") & (paper.metric == "delta3")]
    assert t8["note"].str.contains("1.25").all()


def test_load_paper_filters_and_errors():
    assert set(results.load_paper(table="cliffnet_table5")["table"]) == {"cliffnet_table5"}
    assert set(results.load_paper(study="depth_range")["table"]) == {
        "jiao_suppl_table4", "jiao_suppl_table5", "jiao_suppl_table6", "jiao_suppl_table7"}
    with pytest.raises(KeyError, match="valid"):
        results.load_paper(table="table9")
    with pytest.raises(KeyError, match="depth_range"):
        results.load_paper(study="depth_ranges")
