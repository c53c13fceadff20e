"""The final report: every study's summary beside the papers, the key figures, the claims table.

- :func:`gather` reads every ``results/<profile>/<study>/summary.csv`` that exists and lists the
  expected studies that are missing (the report runs with whatever is there).
- :func:`ours_vs_paper` keeps the cells the papers publish; :func:`table4_rows` sets our HEG-S /
  HEG-R runs of the loss comparison beside CLIFFNet's Table 4 rows CLIFFNet-S / CLIFFNet-R.
- The claims table comes from :func:`depthstudy.results.evidence.claims_table` (the evidence layer
  decides every verdict; nothing here does).
- :func:`export_html` renders an executed notebook to standalone HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from . import io, paths
from .results import HIGHER_IS_BETTER, load_paper

#: Notebook -> study, in study order (Jiao studies 02-07, CLIFFNet 08-12).
EXPECTED_STUDIES: tuple[tuple[str, str], ...] = (
    ("01_datasets", "datasets"),
    ("02-07 (Jiao)", "structures"),
    ("02-07 (Jiao)", "branch_split"),
    ("02-07 (Jiao)", "attention_loss"),
    ("02-07 (Jiao)", "depth_range"),
    ("02-07 (Jiao)", "attention_maps"),
    ("02-07 (Jiao)", "weak_supervision"),
    ("08_heg_training", "heg_training"),
    ("09_loss_comparison", "loss_comparison"),
    ("10_loss_gradients", "loss_gradients"),
    ("11_cliff_ablations", "cliff_ablation"),
    ("12_protocol_sensitivity", "protocol_sensitivity"),
)

def profile_dir(profile: str, root: Path | None = None) -> Path:
    """``results/<profile>/`` (``root`` defaults to :func:`depthstudy.paths.results_dir`)."""
    return Path(root if root is not None else paths.results_dir()) / profile


def gather(profile: str, root: Path | None = None) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(all summary rows, studies found, expected studies missing) of ``profile``.

    Every ``<study>/summary.csv`` under ``results/<profile>/`` is read, expected or not, except
    from a study folder whose files disagree (a rerun that did not finish: it counts as missing,
    with a warning naming it). The frame has :data:`depthstudy.results.SUMMARY_COLUMNS` and is
    empty when nothing was run yet.
    """
    from .results import SUMMARY_COLUMNS, load
    from .results.store import complete_studies

    base = profile_dir(profile, root)
    found = [p.parent.name for p in complete_studies(base)]
    frames = [load(profile, study, "summary", root=root) for study in found]
    summary = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SUMMARY_COLUMNS)
    missing = [study for _, study in EXPECTED_STUDIES if study not in found]
    return summary, found, missing


def study_status(found: Sequence[str]) -> pd.DataFrame:
    """One row per expected study: notebook, study, ``present`` or ``missing``."""
    return pd.DataFrame([{"notebook": nb, "study": s, "status": "present" if s in found else "missing"}
                         for nb, s in EXPECTED_STUDIES])


def _fmt(mean: float, std: float, n: int, digits: int = 3) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={n})"


def ours_vs_paper(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Rows of ``summary`` with a published value: study, variant, range, metric, ours, paper,
    dataset, protocol. ``ours`` is "mean ± std (n=seeds)"; no difference column: ours and the
    paper's are on different datasets (relative effects are compared in the claims table)."""
    rows = summary[summary["paper"].notna()]
    out = pd.DataFrame({
        "study": rows["study"], "variant": rows["variant"], "depth_range": rows["depth_range"],
        "metric": rows["metric"],
        "ours": [_fmt(m, s, n, digits) for m, s, n in zip(rows["mean"], rows["std"], rows["n_seeds"])],
        "paper": rows["paper"],
        "dataset": rows["dataset"], "protocol": rows["protocol"]})
    return out.reset_index(drop=True)


#: Our loss-comparison variant -> CLIFFNet Table 4 row (paper: Table 5's HEG-R/HEG-S = Table 4's rows).
TABLE4_ROWS = {"heg_s": "cliffnet_s", "heg_r": "cliffnet_r"}


def table4_rows(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Our HEG-S / HEG-R CLIFFNet runs (study ``loss_comparison``) beside Table 4's CLIFFNet-S/-R
    on all seven metrics, plus the best published competitor of each metric (DORN etc.)."""
    paper = load_paper(table="cliffnet_table4")
    ours = summary[(summary["study"] == "loss_comparison") & summary["variant"].isin(TABLE4_ROWS)
                   & (summary["depth_range"] == "all")]
    rows = []
    for _, r in ours.iterrows():
        row = paper[(paper["variant"] == TABLE4_ROWS[r["variant"]]) & (paper["metric"] == r["metric"])]
        if row.empty:
            continue
        others = paper[(paper["metric"] == r["metric"]) & ~paper["variant"].isin(TABLE4_ROWS.values())]
        best = (others["value"].max() if r["metric"] in HIGHER_IS_BETTER else others["value"].min())
        rows.append({"ours": r["variant"], "paper_row": TABLE4_ROWS[r["variant"]], "metric": r["metric"],
                     "ours_value": _fmt(r["mean"], r["std"], int(r["n_seeds"]), digits),
                     "paper": float(row["value"].iloc[0]), "best_other_published": float(best),
                     "dataset": r["dataset"], "protocol": r["protocol"]})
    return pd.DataFrame(rows, columns=["ours", "paper_row", "metric", "ours_value", "paper",
                                       "best_other_published", "dataset", "protocol"])


def figures(profile: str, root: Path | None = None) -> dict[str, list[Path]]:
    """study -> its PNG figures (sorted), for every study folder that has any."""
    base = profile_dir(profile, root)
    out: dict[str, list[Path]] = {}
    for folder in sorted(p for p in base.glob("*/figures") if p.is_dir()):
        pngs = sorted(folder.glob("*.png"))
        if pngs:
            out[folder.parent.name] = pngs
    return out


def variant_bars(summary: pd.DataFrame, study: str, metrics: Sequence[str], order: Sequence[str] = (),
                 title: str = "", depth_range: str = "all"):
    """Bar chart per metric (one panel each) of a study's variants: mean with the seed std as error
    bar, the paper's value as a marker where it exists. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    rows = summary[(summary["study"] == study) & (summary["depth_range"] == depth_range)]
    variants = [v for v in order if v in set(rows["variant"])] or sorted(set(rows["variant"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.0), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        cell = rows[rows["metric"] == metric].drop_duplicates("variant").set_index("variant").reindex(variants)
        x = range(len(variants))
        ax.bar(x, cell["mean"], yerr=cell["std"], capsize=3, color="tab:blue", alpha=0.8, label="ours")
        if cell["paper"].notna().any():
            ax.plot(x, cell["paper"], "k_", markersize=14, mew=2, label="paper (NYU)")
        ax.set_xticks(list(x), variants, rotation=45, ha="right", fontsize=8)
        ax.set_title(metric + (" (higher better)" if metric in HIGHER_IS_BETTER else " (lower better)"),
                     fontsize=9)
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def export_html(executed_notebook: str | Path, out_path: str | Path, exclude_input: bool = True) -> Path:
    """Render an executed notebook to one standalone HTML file (atomic write); returns ``out_path``.

    Uses nbconvert's ``HTMLExporter`` (``notebooks`` extra); figures are embedded as data URIs, so
    the file stands alone. ``exclude_input`` hides the code cells (prompts are always hidden).
    """
    import nbformat
    from nbconvert import HTMLExporter

    path = Path(executed_notebook)
    if not path.is_file():
        raise FileNotFoundError(f"executed_notebook {path} does not exist")
    exporter = HTMLExporter(exclude_input=exclude_input, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
    return io.write_text(Path(out_path), body)


__all__ = ["EXPECTED_STUDIES", "TABLE4_ROWS", "export_html", "figures", "gather", "ours_vs_paper",
           "profile_dir", "study_status", "table4_rows", "variant_bars"]
