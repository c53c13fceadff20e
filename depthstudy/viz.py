"""Figures for notebooks and reports: depth and label colouring, sample grids, prediction and error grids, histograms.

All functions return matplotlib figures and never call ``plt.show`` so that papermill, nbval and
scripts behave alike. Depth maps in one figure share one colour scale (``vmin``/``vmax`` in metres).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respect MPLBACKEND (Agg under test)
import matplotlib.pyplot as plt
import numpy as np
import torch

from .data.classes import IGNORE_INDEX

DEPTH_CMAP = "magma_r"
#: Perceptual colormap of attention maps and other [0, 1] maps (Decision X23).
MAP_CMAP = "viridis"

#: Unit of each metric for axis labels ("" = dimensionless).
METRIC_UNITS = {"rmse": "m", "sq_rel": "m", "abs_rel": "", "rmse_log": "log m", "log10": "log10 m",
                "delta1": "fraction", "delta2": "fraction", "delta3": "fraction", "silog": "100 x log m",
                "miou": "fraction", "pixel_acc": "fraction", "rmse_rel_gain": "fraction", "miou_rel_gain": "fraction"}


def metric_label(metric: str) -> str:
    """Axis label of a metric with its unit, e.g. ``"rmse [m]"``, ``"abs_rel [-]"``."""
    return f"{metric} [{METRIC_UNITS.get(metric) or '-'}]"


def legend_outside(fig, ax, **kwargs) -> None:
    """The legend of ``ax``'s artists below the figure, where it covers no data (Decision X23)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=7,
                   ncol=min(len(labels), 6), frameon=False, **kwargs)


def to_numpy(x) -> np.ndarray:
    """Tensor or array -> numpy (CPU, detached)."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def label_palette(num_classes: int, seed: int = 3) -> np.ndarray:
    """A fixed random RGB palette [num_classes+1, 3] in [0,1]; the last row (ignore) is black."""
    rng = np.random.default_rng(seed)
    pal = rng.uniform(0.15, 0.95, size=(num_classes + 1, 3))
    pal[-1] = 0.0
    return pal


def colorize_labels(labels, num_classes: int) -> np.ndarray:
    """Label map [H,W] (0..C-1, 255 ignore) -> RGB [H,W,3]."""
    lab = to_numpy(labels).astype(np.int64)
    lab = np.where(lab == IGNORE_INDEX, num_classes, lab)
    return label_palette(num_classes)[lab]


def image_hwc(image) -> np.ndarray:
    """Image [3,H,W] in [0,1] -> [H,W,3] clipped to [0,1]."""
    return np.clip(to_numpy(image).transpose(1, 2, 0), 0.0, 1.0)


def depth_hw(depth) -> np.ndarray:
    """Depth [1,H,W] or [H,W] -> [H,W] with invalid (<=0, non-finite) pixels as NaN."""
    d = to_numpy(depth).astype(np.float32).squeeze()
    return np.where(np.isfinite(d) & (d > 0), d, np.nan)


def sample_grid(samples: Sequence[dict], num_classes: int, *, vmax: float | None = None,
                predictions: Sequence[dict] | None = None, titles: Sequence[str] | None = None):
    """Rows = samples; columns = RGB, GT depth, (predicted depth), semantic (, predicted semantic).

    Depth panels share one colour scale from 0 to ``vmax`` metres. The rule for every
    qualitative grid (Decision X23): leave ``vmax`` unset, so it is the 99th percentile of the GT
    depths shown (a fixed 0-10 m scale paints 1-4 m rooms in one colour).
    """
    depths = [depth_hw(s["depth"]) for s in samples]
    vmax = vmax or float(np.nanpercentile(np.concatenate([d.ravel() for d in depths]), 99))
    cols = ["RGB", "depth (GT)"]
    if predictions:
        cols.append("depth (pred)")
    cols.append("semantic (GT)")
    if predictions and "semantic" in predictions[0]:
        cols.append("semantic (pred)")
    fig, axes = plt.subplots(len(samples), len(cols), figsize=(2.4 * len(cols), 1.9 * len(samples)),
                             squeeze=False)
    for r, s in enumerate(samples):
        panels = [image_hwc(s["image"]), depths[r]]
        if predictions:
            panels.append(depth_hw(predictions[r]["depth"]))
        panels.append(colorize_labels(s["semantic"], num_classes))
        if predictions and "semantic" in predictions[0]:
            panels.append(colorize_labels(predictions[r]["semantic"], num_classes))
        for c, (ax, panel) in enumerate(zip(axes[r], panels)):
            is_depth = cols[c].startswith("depth")
            ax.imshow(panel, cmap=DEPTH_CMAP if is_depth else None,
                           vmin=0 if is_depth else None, vmax=vmax if is_depth else None)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(cols[c], fontsize=9)
            if c == 0 and titles:
                ax.set_ylabel(titles[r], fontsize=8)
    scale = plt.cm.ScalarMappable(plt.Normalize(0, vmax), DEPTH_CMAP)
    fig.colorbar(scale, ax=axes, shrink=0.6, label="depth [m]")
    return fig


def depth_histogram(depth_arrays: dict[str, np.ndarray], *, max_depth: float = 10.0, bins: int = 50):
    """Histogram of valid depth pixels per named set (e.g. train/test), density-normalised."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    edges = np.linspace(0, max_depth, bins + 1)
    for name, arr in depth_arrays.items():
        d = np.asarray(arr, dtype=np.float32).ravel()
        d = d[np.isfinite(d) & (d > 0)]
        ax.hist(d, bins=edges, density=True, histtype="step", linewidth=1.5, label=name)
    ax.set_xlabel("depth [m]"), ax.set_ylabel("density"), ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return fig


def class_frequency_bar(freqs: dict[str, np.ndarray], names: Sequence[str], *, title: str = ""):
    """Bar chart of per-class pixel fractions for each named set."""
    fig, ax = plt.subplots(figsize=(max(5, 0.22 * len(names) + 2), 3.2))
    width = 0.8 / max(1, len(freqs))
    x = np.arange(len(names))
    for i, (label, f) in enumerate(freqs.items()):
        ax.bar(x + i * width, f, width=width, label=label)
    ax.set_xticks(x + 0.4 - width / 2, names, rotation=90, fontsize=7)
    ax.set_ylabel("pixel fraction"), ax.set_yscale("log"), ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def evenly_spaced_items(dataset, k: int) -> list[int]:
    """Item indices of ``k`` test views chosen without looking at any prediction (Decision X23).

    Rule: list the scenes in the order they first appear in ``dataset.scene_ids``; take the scenes
    at quantiles 0, 1/(k-1), ..., 1 of that list (position ``floor(q * (scenes - 1) + 0.5)``; the
    first scene when ``k == 1``) and return the index of each one's first view, in scene order.

    Args:
        dataset: a sized set with ``scene_ids`` (one scene id per item, length = ``len(dataset)``).
        k: number of items, 1 <= k <= number of scenes in ``dataset``.
    Returns:
        ``k`` distinct, increasing item indices into ``dataset``.
    """
    if len(dataset.scene_ids) != len(dataset):
        raise ValueError(f"dataset.scene_ids must hold one scene id per item ({len(dataset)}); "
                         f"got {len(dataset.scene_ids)}")
    first: dict[int, int] = {}
    for i, scene in enumerate(dataset.scene_ids):
        first.setdefault(int(scene), i)
    starts = list(first.values())
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(starts):
        raise ValueError(f"k must be an int in [1, {len(starts)}] (the number of scenes); got {k!r}")
    if k == 1:
        return [starts[0]]
    n = len(starts)
    return [starts[(2 * j * (n - 1) + k - 1) // (2 * (k - 1))] for j in range(k)]


def prediction_error_grid(rgb, gt, preds: dict, *, row_labels: Sequence[str] | None = None,
                          title: str = ""):
    """Depth predictions of several models beside the GT, with their absolute-error maps.

    Per image two rows: (RGB, GT depth, one predicted depth per model) and (blank, blank,
    |pred - gt| per model, titled with that image's RMSE in metres over valid GT pixels).
    All depth panels share one scale, 0 to the 99th percentile of the GT shown; all error panels
    share one scale, 0 to the 99th percentile of all errors shown (Decision X23). Pixels without
    valid GT (<= 0 or non-finite) are blank in the GT and error panels.

    Args:
        rgb: images [N, 3, H, W] in [0, 1].
        gt: ground-truth depth [N, 1, H, W] in metres.
        preds: ``{model name: predicted depth [N, 1, H, W] in metres}``, one column each, in order.
        row_labels: N labels shown left of each image's rows (e.g. the item index).
        title: figure title.
    Returns:
        The matplotlib Figure, with ``2 * N`` rows by ``2 + len(preds)`` columns of axes.
    """
    rgb_np, gt_np = to_numpy(rgb), to_numpy(gt)
    if rgb_np.ndim != 4 or rgb_np.shape[1] != 3:
        raise ValueError(f"rgb must be [N, 3, H, W]; got shape {rgb_np.shape}")
    if gt_np.shape != (rgb_np.shape[0], 1, *rgb_np.shape[2:]):
        raise ValueError(f"gt must be [N, 1, H, W] matching rgb {rgb_np.shape}; got {gt_np.shape}")
    if not preds:
        raise ValueError("preds must name at least one model")
    pred_np = {name: to_numpy(p).astype(np.float32) for name, p in preds.items()}
    for name, p in pred_np.items():
        if p.shape != gt_np.shape:
            raise ValueError(f"preds[{name!r}] must have the gt shape {gt_np.shape}; got {p.shape}")
    n = rgb_np.shape[0]
    if row_labels is not None and len(row_labels) != n:
        raise ValueError(f"row_labels must have {n} entries; got {len(row_labels)}")
    gts = [depth_hw(g) for g in gt_np]
    errors = {name: [np.abs(p[i, 0] - gts[i]) for i in range(n)] for name, p in pred_np.items()}
    vmax = float(np.nanpercentile(np.concatenate([g.ravel() for g in gts]), 99))
    emax = float(np.nanpercentile(np.concatenate([e.ravel() for es in errors.values() for e in es]), 99))
    cols = 2 + len(pred_np)
    fig, axes = plt.subplots(2 * n, cols, figsize=(1.9 * cols, 1.6 * 2 * n), squeeze=False)
    for i in range(n):
        top, bottom = axes[2 * i], axes[2 * i + 1]
        top[0].imshow(image_hwc(rgb_np[i]))
        top[1].imshow(gts[i], cmap=DEPTH_CMAP, vmin=0, vmax=vmax)
        for c, name in enumerate(pred_np, start=2):
            top[c].imshow(depth_hw(pred_np[name][i]), cmap=DEPTH_CMAP, vmin=0, vmax=vmax)
            err = errors[name][i]
            bottom[c].imshow(err, cmap=MAP_CMAP, vmin=0, vmax=emax)
            bottom[c].set_title(f"RMSE {float(np.sqrt(np.nanmean(err ** 2))):.3f} m", fontsize=7)
        for ax in (*top, *bottom):
            ax.set_xticks([]), ax.set_yticks([])
        bottom[0].axis("off"), bottom[1].axis("off")
        if row_labels is not None:
            top[0].set_ylabel(row_labels[i], fontsize=8)
    for c, label in enumerate(["RGB", "depth (GT)", *pred_np]):
        axes[0, c].set_title(label, fontsize=9)
    fig.subplots_adjust(right=0.88, top=1 - 0.3 / n, wspace=0.05, hspace=0.25)
    fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(0, vmax), DEPTH_CMAP), label="depth [m]",
                 cax=fig.add_axes((0.9, 0.55, 0.012, 0.3), label="colorbar depth"))
    fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(0, emax), MAP_CMAP), label="|pred - gt| [m]",
                 cax=fig.add_axes((0.9, 0.15, 0.012, 0.3), label="colorbar error"))
    if title:
        fig.suptitle(title, fontsize=8)
    return fig


def effect_vs_budget(frame, *, title: str = ""):
    """Relative paired effect (%) against training steps, one line per comparison, with its 95% interval.

    ``frame``: :func:`depthstudy.results.claims.by_budget` (columns ``comparison_id``, ``steps``,
    ``rel_effect_pct``, ``rel_ci_low``, ``rel_ci_high``, ``paper_rel_effect_pct``, ``verdict``).
    Filled markers: every premise passed; open markers: ``not tested``. Dashed: the paper's effect.
    """
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for k, (name, rows) in enumerate(frame.groupby("comparison_id", sort=False)):
        colour = f"C{k % 10}"
        rows = rows.sort_values("steps")
        low = rows["rel_effect_pct"] - rows["rel_ci_low"]
        high = rows["rel_ci_high"] - rows["rel_effect_pct"]
        ax.errorbar(rows["steps"], rows["rel_effect_pct"], yerr=[low, high], color=colour, capsize=3,
                    linewidth=1.2, label=name)
        tested = rows["verdict"] != "not tested"
        ax.scatter(rows["steps"], rows["rel_effect_pct"], s=28, zorder=3, edgecolors=colour,
                   facecolors=[colour if t else "white" for t in tested])
        paper = rows["paper_rel_effect_pct"].dropna()
        if len(paper):
            ax.axhline(float(paper.iloc[0]), color=colour, linestyle="--", linewidth=0.8)
    ax.axhline(0.0, color="k", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(frame["steps"].unique()), [str(s) for s in sorted(frame["steps"].unique())])
    ax.set_xlabel("training steps"), ax.set_ylabel("paired effect [% of reference]")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    legend_outside(fig, ax)
    return fig
