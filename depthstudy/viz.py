"""Figures for notebooks and reports: depth and label colouring, sample grids, histograms.

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
