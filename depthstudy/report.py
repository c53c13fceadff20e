"""The final report: every study's summary beside the papers, the key figures, the claims table.

- :func:`gather` reads every ``results/<profile>/<study>/summary.csv`` that exists and lists the
  expected studies that are missing (the report runs with whatever is there).
- :func:`ours_vs_paper` keeps the cells the papers publish; :func:`table4_rows` sets our HEG-S /
  HEG-R runs of the loss comparison beside CLIFFNet's Table 4 rows CLIFFNet-S / CLIFFNet-R.
- The claims table comes from :func:`depthstudy.results.evidence.claims_table` (the evidence layer
  decides every verdict; nothing here does).
- Layout (Decision X22): :func:`wide_ours` / :func:`wide_paper` give a study's table the paper's
  way (variants as rows, metrics as columns; ours as "mean ± std (n=seeds)", the published table in
  its own block), :func:`full_html` renders any frame in full (no truncation, no index),
  :func:`figure_html` embeds a figure at the page width with the caption of
  :data:`FIGURE_CAPTIONS` (what to look for), :func:`study_status` gives each study's notebook,
  commit and date.
- :func:`export_html` renders an executed notebook to standalone HTML with a title, a table of
  contents of its headings and a wide-table style sheet.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from . import io, paths
from .results import HIGHER_IS_BETTER, METRIC_KEYS, PAPER_STUDIES, load_paper
from .studies import specs

#: Notebook -> study, in study order (Jiao studies 02-07, CLIFFNet 08-12).
#: (notebook, study) of every study spec (:data:`depthstudy.studies.specs.STUDIES`), in notebook order.
EXPECTED_STUDIES: tuple[tuple[str, str], ...] = tuple((s.notebook, s.name) for s in specs.STUDIES.values())

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


def study_status(found: Sequence[str], profile: str | None = None, root: Path | None = None) -> pd.DataFrame:
    """One row per expected study: notebook, study, ``present`` or ``missing``; with ``profile``
    also the commit (12 hex digits, "+dirty" for uncommitted changes) and the finish date (UTC) of
    the run recorded in the study's ``run.json``."""
    rows = []
    for nb, study in EXPECTED_STUDIES:
        row = {"notebook": nb, "study": study, "status": "present" if study in found else "missing"}
        if profile is not None:
            row.update(_run_record(profile_dir(profile, root) / study / "run.json"))
        rows.append(row)
    return pd.DataFrame(rows)


def _run_record(path: Path) -> dict[str, str]:
    """commit and finished (date, time) of a ``run.json``; empty strings where it is absent."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"commit": "", "finished (UTC)": ""}
    git = record.get("git") or {}
    commit = str(git.get("commit") or "")[:12] + ("+dirty" if git.get("dirty") else "")
    finished = str(record.get("finished_utc") or "").replace("T", " ")[:16]
    return {"commit": commit, "finished (UTC)": finished}


def _row_keys(frame: pd.DataFrame) -> list[str]:
    """variant, plus depth_range / protocol / dataset where the frame holds several of them."""
    return ["variant"] + [c for c in ("depth_range", "protocol", "dataset")
                          if c in frame and frame[c].nunique() > 1]


def _wide(frame: pd.DataFrame, values: str, study: str) -> pd.DataFrame:
    """Pivot long rows (variant, ..., metric, ``values``) to one row per variant, one column per
    metric (study order of variants and depth ranges, :data:`METRIC_KEYS` order of metrics)."""
    keys = _row_keys(frame)
    wide = frame.drop_duplicates(keys + ["metric"]).pivot(index=keys, columns="metric", values=values)
    metrics = [m for m in METRIC_KEYS if m in wide.columns] + [m for m in wide.columns if m not in METRIC_KEYS]
    preferred = list(PAPER_STUDIES.get(study, {}).get("variants", {}))
    wide = wide[metrics].reset_index()
    order = [preferred.index(v) if v in preferred else len(preferred) for v in wide["variant"]]
    sort = wide.assign(_order=order)
    if "depth_range" in wide:
        sort["_range"] = [float("inf") if r == "all" else float(str(r)[1:-1] or 0) for r in wide["depth_range"]]
    by = ["_order", "variant"] + (["_range"] if "depth_range" in wide else [])
    wide = sort.sort_values(by, kind="stable").drop(columns=[c for c in ("_order", "_range") if c in sort])
    wide.columns.name = None
    return wide.fillna("").reset_index(drop=True)


def wide_ours(summary: pd.DataFrame, study: str, digits: int = 3, baselines: bool = True) -> pd.DataFrame:
    """Our rows of ``study``: one per variant (and depth range / protocol where several), one
    column per metric, each cell "mean ± std (n=seeds)" with non-breaking spaces (a table cell
    never wraps inside a value). With ``baselines``, the trivial baselines of study ``baselines``
    that share the study's protocol, depth range and metrics follow as rows ``baseline: <name>``
    (one deterministic value each, Decision E7)."""
    rows = summary[summary["study"] == study]
    cells = rows.assign(cell=[_fmt(m, s, int(n), digits).replace(" ", "\u00a0") for m, s, n in
                              zip(rows["mean"], rows["std"], rows["n_seeds"])])
    ours = _wide(cells, "cell", study)
    extra = baseline_rows(summary, study) if baselines else summary.iloc[:0]
    if extra.empty:
        return ours
    base = _wide(extra.assign(cell=[f"{m:.{digits}f}" for m in extra["mean"]]), "cell", study)
    for key in ("depth_range", "protocol", "dataset"):
        if key in ours.columns and key not in base.columns:
            base.insert(1, key, extra[key].iloc[0])
    return pd.concat([ours, base.reindex(columns=ours.columns)], ignore_index=True).fillna("")


def baseline_rows(summary: pd.DataFrame, study: str) -> pd.DataFrame:
    """Summary rows of the trivial baselines comparable with ``study`` (same protocol, depth range
    and metric as one of its rows), their variants renamed ``baseline: <name>``."""
    from .results.baselines import STUDY as BASELINES

    rows = summary[summary["study"] == study]
    if study == BASELINES or rows.empty or _reads_validation(study):
        return summary.iloc[:0]
    keys = ["protocol", "depth_range", "metric"]
    base = summary[summary["study"] == BASELINES].merge(rows[keys].drop_duplicates(), on=keys)
    return base.assign(variant=["baseline: " + v for v in base["variant"]])


def wide_paper(study: str, digits: int = 3) -> pd.DataFrame:
    """The published table(s) of ``study`` the same way (NYU-Depth V2 values as printed); empty
    for a study without published numbers."""
    if study not in PAPER_STUDIES:
        return pd.DataFrame()
    paper = load_paper(study=study)
    if paper.empty:
        return pd.DataFrame()
    cells = paper.assign(cell=[f"{v:.{digits}f}".rstrip("0").rstrip(".") for v in paper["value"]])
    return _wide(cells, "cell", study)


def paper_sources(study: str) -> str:
    """The published tables of ``study``, e.g. "CLIFFNet (Wang et al. 2020) Table 5"."""
    if study not in PAPER_STUDIES:
        return ""
    paper = load_paper(study=study)
    return "; ".join(dict.fromkeys(str(s) for s in paper["source"])) if not paper.empty else ""


def _reads_validation(study: str) -> bool:
    """Whether ``study`` is scored on the validation scenes: the trivial baselines are scored on the
    test split (and the HEG views), so none is comparable with it (its notebook draws its own)."""
    return study in specs.STUDIES and "val" in specs.STUDIES[study].datasets


def full_html(frame: pd.DataFrame, digits: int = 4) -> str:
    """``frame`` as an HTML table in full: every row and column, whole cell texts, no index
    (pandas' display limits and its "..." truncation do not apply); floats to ``digits``."""
    if frame.empty:
        return "<p><em>(no rows)</em></p>"
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = [("" if pd.isna(v) else f"{v:.{digits}g}") for v in shown[column]]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.max_colwidth", None):
        return shown.to_html(index=False, na_rep="", escape=True, classes="depthstudy-table", border=0)


def heading_html(text: str, level: int = 3) -> str:
    """An HTML heading with an id, so :func:`export_html` lists it in the table of contents."""
    anchor = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>'


#: Figure (file stem, or stem prefix ending in "_") -> caption: what it shows and what to look for.
FIGURE_CAPTIONS: dict[str, str] = {
    "samples": "Test samples: RGB, ground-truth depth (one colour scale for the grid) and NYU-40 labels. "
               "Look for plausible room layouts and sensor-like holes (no colour) in the depth.",
    "depth_histogram": "Distribution of valid depth pixels, train vs test (log density). The two splits "
                       "should overlap, with NYU's long tail towards 10 m.",
    "class_frequency_40": "Pixel fraction per NYU-40 class (log scale), train vs test: the imbalance the "
                          "semantic focal loss addresses.",
    "class_frequency_4": "Pixel fraction of the 4 coarse classes, train vs test.",
    "qualitative_": "Predicted vs ground-truth depth on the same test views, one colour scale per grid "
                    "(data-driven, see the colour bar). Look at object boundaries and far walls.",
    "point_clouds": "Back-projected point clouds of prediction and ground truth. Look for flattened or "
                    "bent walls and for objects detached from the floor.",
    "metrics_vs_range": "Errors by ground-truth depth range (GT < 4, 6, 8 m, all). Lines that rise with "
                        "range mean the model does worse on far pixels.",
    "attention_": "Attention maps A(T) at three layers (colour bar: attention in [0, 1]). Look for high "
                  "attention on far regions and object boundaries.",
    "learning_curves": "Validation metrics against training steps, one run per family (validation scenes "
                       "for the depth networks, held-out views for the HEGs). The dotted vertical line is the "
                       "profile's budget; the horizontal lines the constant-depth baseline and the premise "
                       "line (0.75 x it), or chance / majority. A curve still falling at the budget "
                       "is under-trained there.",
    "heg_training_curves": "HEG training loss per step; the dashed line is chance, ln(number of classes), "
                           "for HEG-S. A curve that stays on it has not learned its task.",
    "loss_comparison_bars": "Our loss comparison (bars: mean over seeds, error bars: seed std) with the "
                            "paper's NYU values as black ticks. Compare bar heights with the error bars.",
    "loss_comparison_curves": "Depth L1 term during training for each loss (log scale). Losses that end "
                              "lower fit the depth better on the training set.",
    "fig2_prediction_maps": "Predicted depth under each loss (Fig. 2, first seed) on test views chosen by scene "
                            "order, not by prediction; one depth scale for all panels, and |pred - gt| below "
                            "each on one error scale, titled with the image's RMSE. Look for losses that "
                            "sharpen edges or lower the error on far walls.",
    "gradients_": "Magnitude of each loss's gradient w.r.t. the predicted depth. The HEG losses should "
                  "put more gradient on edges and structure than L1 does.",
    "cliff_ablation_": "CLIFF ablation (Fig. 4): each variant's mean over seeds with the seed std. A design "
                       "choice helps when its removal raises the error by more than the error bars.",
    "budget_effects": "Paired effect of each central comparison (% of the reference) against training steps, "
                      "with its 95% interval; open markers: a premise failed (not tested); dashed: the paper's "
                      "effect on NYU. An effect that keeps its sign and tightens with steps is a property of the "
                      "losses, one that appears at one budget only a property of the schedule.",
    "budget_rmse": "Test RMSE of each followed variant against training steps (mean ± seed std) with the "
                   "constant predictor and the premise line: where the models cross the premise line.",
    "protocol_sensitivity": "The same predictions scored under each evaluation protocol. The spread "
                            "between protocols is what a protocol mismatch alone would change.",
}


def figure_caption(name: str) -> str:
    """The caption of the figure with file stem ``name`` (exact key, else the longest prefix key)."""
    if name in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[name]
    prefixes = [k for k in FIGURE_CAPTIONS if k.endswith("_") and name.startswith(k)]
    return FIGURE_CAPTIONS[max(prefixes, key=len)] if prefixes else ""


def figure_html(png: Path, caption: str | None = None) -> str:
    """A PNG embedded as a data URI at the page width, captioned with its name and ``caption``
    (default :func:`figure_caption`)."""
    png = Path(png)
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    text = figure_caption(png.stem) if caption is None else caption
    return (f'<figure class="depthstudy-figure"><img src="data:image/png;base64,{data}" alt="{png.stem}">'
            f"<figcaption><code>{html.escape(png.name)}</code> {html.escape(text)}</figcaption></figure>")


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

    from . import viz

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
        ax.set_ylabel(viz.metric_label(metric), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    viz.legend_outside(fig, axes[0][0])
    return fig


REPORT_CSS = """
.jp-Cell, .jp-OutputArea-output { max-width: none; }
body { max-width: 1500px; margin: 0 auto; }
table.depthstudy-table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.2em; }
table.depthstudy-table th, table.depthstudy-table td { border: 1px solid #ccc; padding: 2px 6px;
  text-align: left; vertical-align: top; }
table.depthstudy-table thead th { background: #f0f0f0; }
figure.depthstudy-figure { margin: 0.5em 0 2em; }
figure.depthstudy-figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure.depthstudy-figure figcaption { font-size: 13px; color: #333; max-width: 1100px; }
nav.depthstudy-toc { border: 1px solid #ddd; background: #fafafa; padding: 0.5em 1.5em; margin: 1em 0; }
nav.depthstudy-toc li.toc-h3 { margin-left: 1.5em; font-size: 90%; }
"""


def table_of_contents(body: str) -> str:
    """A ``<nav>`` listing the ``<h2>``/``<h3>`` headings with ids of an HTML page."""
    items = []
    for level, anchor, inner in re.findall(r'<h([23])[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', body, flags=re.S):
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).replace("¶", "").strip()
        items.append(f'<li class="toc-h{level}"><a href="#{anchor}">{html.escape(text)}</a></li>')
    return f'<nav class="depthstudy-toc"><strong>Contents</strong><ul>{"".join(items)}</ul></nav>' if items else ""


def export_html(executed_notebook: str | Path, out_path: str | Path, exclude_input: bool = True,
                title: str | None = None) -> Path:
    """Render an executed notebook to one standalone HTML file (atomic write); returns ``out_path``.

    Uses nbconvert's ``HTMLExporter`` (``notebooks`` extra); figures are embedded as data URIs, so
    the file stands alone. ``exclude_input`` hides the code cells (prompts are always hidden).
    The page's ``<title>`` is ``title`` (default: the notebook's first heading), a table of contents
    of its headings follows the first heading, and :data:`REPORT_CSS` lets tables and figures use
    the page width.
    """
    import nbformat
    from nbconvert import HTMLExporter

    path = Path(executed_notebook)
    if not path.is_file():
        raise FileNotFoundError(f"executed_notebook {path} does not exist")
    nb = nbformat.read(path, as_version=4)
    if title is None:
        first = next((c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("#")), "")
        title = first.splitlines()[0].lstrip("#").strip() if first else path.stem
    exporter = HTMLExporter(exclude_input=exclude_input, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = body.replace("</head>", f"<style>{REPORT_CSS}</style>\n</head>", 1)
    toc = table_of_contents(body)
    if toc:
        body = re.sub(r"(</h1>)", lambda m: m.group(1) + toc, body, count=1)
    return io.write_text(Path(out_path), body)


__all__ = ["EXPECTED_STUDIES", "TABLE4_ROWS", "export_html", "figures", "gather", "ours_vs_paper",
           "profile_dir", "study_status", "table4_rows", "variant_bars"]
# report layout (Decision X22)
__all__ += ["FIGURE_CAPTIONS", "REPORT_CSS", "baseline_rows", "figure_caption", "figure_html", "full_html",
            "heading_html", "paper_sources", "table_of_contents", "wide_ours", "wide_paper"]
