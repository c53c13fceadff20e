"""The published tables of both papers, as data: canonical study/variant names and ``load_paper``.

The numbers live in ``results/paper/<table>.csv`` (one file per table, the tidy schema of
:data:`depthstudy.results.schema.PAPER_COLUMNS`), transcribed from the seed texts in
``shared/papers/``; ``results/paper/README.md`` lists every reconstruction of a garbled cell.
This module holds the names a notebook uses to address them, so they are defined in one place.

Location: :func:`paper_dir` reads ``<repo>/results/paper`` of the source checkout; without a
checkout (an installed wheel) it falls back to ``<results_dir()>/paper``, i.e. a copy of that folder
under ``$DEPTHSTUDY_RESULTS`` or ``./results``. The CSVs are not duplicated as package data, so
there is one transcription to keep right.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from depthstudy import paths
from depthstudy.results.schema import PAPER_COLUMNS

CLIFFNET = "Wang et al. 2020 (CLIFFNet, ECCV 2020)"
JIAO = "Jiao et al. 2018 suppl."

#: table id (= CSV file stem) -> source and study. Tables that are not results (CLIFFNet Tables 1-3:
#: HEG architectures and metric definitions; Jiao suppl. Table 3: synergy architecture) are not here.
PAPER_TABLES: dict[str, dict[str, str]] = {
    "jiao_suppl_table1": {"source": f"{JIAO} Table 1, Sec. 2", "study": "structures"},
    "jiao_suppl_table2": {"source": f"{JIAO} Table 2, Sec. 2", "study": "branch_split"},
    "jiao_suppl_table4": {"source": f"{JIAO} Table 4, Sec. 4", "study": "depth_range"},
    "jiao_suppl_table5": {"source": f"{JIAO} Table 5, Sec. 4", "study": "depth_range"},
    "jiao_suppl_table6": {"source": f"{JIAO} Table 6, Sec. 4", "study": "depth_range"},
    "jiao_suppl_table7": {"source": f"{JIAO} Table 7, Sec. 4", "study": "depth_range"},
    "jiao_suppl_table8": {"source": f"{JIAO} Table 8, Sec. 5", "study": "attention_loss"},
    "cliffnet_table4": {"source": f"{CLIFFNET} Table 4, Sec. 4.2", "study": "cliffnet_sota"},
    "cliffnet_table5": {"source": f"{CLIFFNET} Table 5, Sec. 4.3", "study": "loss_comparison"},
}

_JIAO_DEPTH = ["abs_rel", "log10", "rmse", "rmse_log", "delta1", "delta2", "delta3"]

#: study -> its tables, variants (canonical name -> printed label) in the paper's row order,
#: metrics in the paper's column order, and depth ranges.
PAPER_STUDIES: dict[str, dict] = {
    "structures": {
        "tables": ["jiao_suppl_table1"],
        "variants": {"finetune": "Fine-tuned", "cascade_ds": "Cascaded, depth first",
                     "cascade_sd": "Cascaded, semantic first", "merge": "Merge-in",
                     "branch": "Branch-out"},
        "metrics": ["rmse_rel_gain", "miou_rel_gain"],
        "depth_ranges": ["all"],
    },
    "branch_split": {
        "tables": ["jiao_suppl_table2"],
        "variants": {s: f"layers {s[1:]} shared" for s in ["S1", "S1-2", "S1-3", "S1-4", "S1-5"]},
        "metrics": ["rmse_rel_gain", "miou_rel_gain"],
        "depth_ranges": ["all"],
    },
    "depth_range": {
        "tables": ["jiao_suppl_table4", "jiao_suppl_table5", "jiao_suppl_table6",
                   "jiao_suppl_table7"],
        "variants": {"liu": "Liu et al. [5]", "eigen_fergus": "Eigen & Fergus [6]",
                     "laina": "Laina et al. [7]", "wang": "Wang et al. [8]",
                     "synergy_4c": "Proposed-4c", "synergy_40c": "Proposed-40c",
                     "synergy_depth_only": "Proposed, depth only (Table 7)"},
        "metrics": _JIAO_DEPTH,
        "depth_ranges": ["<4m", "<6m", "<8m", "all"],
    },
    "attention_loss": {
        "tables": ["jiao_suppl_table8"],
        "variants": {"encdec_l2": "EncdDecd [9] (L2)", "encdec_da": "EncdDecd [9] (L_DA)",
                     "fcrn_berhu": "Laina [7]", "fcrn_da": "Laina [7] (L_DA)",
                     "synergy_no_attention": "w/o L_attention", "synergy_da": "+L_DA",
                     "synergy_da_semf": "+L_DA+L_semF", "synergy_da_semf_jg": "+L_DA+L_semF+L_JG"},
        "metrics": _JIAO_DEPTH,
        "depth_ranges": ["all"],
    },
    "cliffnet_sota": {
        "tables": ["cliffnet_table4"],
        "variants": {"eigen2014": "Eigen et al. [6]", "liu": "Liu et al. [21]",
                     "eigen_fergus": "Eigen and Fergus [5]", "laina": "Laina et al. [14]",
                     "chakrabarti": "Chakrabarti et al. [1]", "xu_sacrf": "Xu et al. [34]",
                     "qi": "Qi et al. [24]", "lee": "Lee et al. [15]", "fu_dorn": "Fu et al. [7]",
                     "xu_padnet": "Xu et al. [33]", "cliffnet_r": "CLIFFNet-R",
                     "cliffnet_s": "CLIFFNet-S"},
        "metrics": ["rmse", "rmse_log", "abs_rel", "sq_rel", "delta1", "delta2", "delta3"],
        "depth_ranges": ["all"],
    },
    "loss_comparison": {
        "tables": ["cliffnet_table5"],
        "variants": {"l1": "L1", "grad": "Grad", "si": "SI", "da": "DA", "mt": "MT",
                     "heg_rn": "HEG-Rn", "heg_im": "HEG-Im", "heg_r": "HEG-R", "heg_s": "HEG-S"},
        "metrics": ["rmse", "abs_rel", "delta1", "delta2"],
        "depth_ranges": ["all"],
    },
}


def paper_dir() -> Path:
    """Folder of the published-table CSVs (see the module docstring for the search order)."""
    root = paths.repo_root()
    candidates = ([root / "results" / "paper"] if root else []) + [paths.results_dir() / "paper"]
    candidates = list(dict.fromkeys(candidates))
    for folder in candidates:
        if (folder / "README.md").is_file():
            return folder
    raise FileNotFoundError(
        "published tables not found; looked in " + ", ".join(str(c) for c in candidates)
        + ". They ship with the source checkout (results/paper/); copy that folder to "
        "$DEPTHSTUDY_RESULTS/paper when using an installed package.")


def load_paper(table: str | None = None, study: str | None = None) -> pd.DataFrame:
    """Published numbers as one tidy frame (columns ``PAPER_COLUMNS``), optionally one table/study.

    ``seed`` is empty (NaN) and ``n_images`` an integer column; an unknown table or study name
    raises ``KeyError`` listing the valid names.
    """
    if table is not None and table not in PAPER_TABLES:
        raise KeyError(f"unknown paper table {table!r}; valid: {sorted(PAPER_TABLES)}")
    if study is not None and study not in PAPER_STUDIES:
        raise KeyError(f"unknown paper study {study!r}; valid: {sorted(PAPER_STUDIES)}")
    names = [table] if table else [t for t, info in PAPER_TABLES.items()
                                   if study is None or info["study"] == study]
    if table and study and PAPER_TABLES[table]["study"] != study:
        names = []
    folder = paper_dir()
    frames = [_read_table(folder / f"{name}.csv") for name in names]
    if not frames:
        return pd.DataFrame(columns=PAPER_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"published table {path} is missing from {path.parent}")
    df = pd.read_csv(path, dtype={"variant": str, "depth_range": str, "note": str, "label": str},
                     keep_default_na=False,
                     na_values={"seed": [""], "value": [""], "n_images": [""]})
    if list(df.columns) != PAPER_COLUMNS:
        raise ValueError(f"{path}: columns {list(df.columns)} differ from {PAPER_COLUMNS}")
    df["seed"] = df["seed"].astype("Int64")
    df["n_images"] = df["n_images"].astype("Int64")
    return df
