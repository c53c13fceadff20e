"""Gradients of depth losses with respect to the predicted depth (CLIFFNet Fig. 3).

The paper forward-propagates one image at an intermediate training iteration, computes each loss
between prediction and ground truth and back-propagates it to the predicted depth map; the figure
shows the gradient maps of L1, DA, Grad and the single-layer HEG terms HEG-Rn_k and HEG-S_k.
:func:`loss_gradients` does exactly that for any set of losses; :func:`fig3_losses` builds the
paper's set; :func:`gradient_grid` draws the maps with one shared colour scale.

The single-layer HEG term k is the hierarchical loss with only layer k and weight 1 on it
(w0 = 0, no warm-up): mean |G_k(gt) - G_k(pred)| over its elements.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .. import losses
from ..viz import to_numpy

GRADIENT_CMAP = "inferno"
NORMALISATIONS = ("mean_abs", "none")


def _as_b1hw(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(to_numpy(x) if not isinstance(x, torch.Tensor) else x).detach().float()
    if t.dim() == 2:
        t = t[None, None]
    elif t.dim() == 3 and t.shape[0] == 1:
        t = t[None]
    if t.dim() != 4 or t.shape[:2] != (1, 1):
        raise ValueError(f"{name} must be a depth map [H,W], [1,H,W] or [1,1,H,W]; got shape {tuple(t.shape)}")
    return t


def loss_gradients(pred: Any, gt: Any, loss_fns: Mapping[str, nn.Module]) -> dict[str, np.ndarray]:
    """d loss / d pred for each named loss, at the prediction ``pred``.

    Args:
        pred, gt: depth maps in metres, [H,W], [1,H,W] or [1,1,H,W] (same size); GT <= 0 is
            invalid and masked by every loss.
        loss_fns: name -> loss module called as ``loss({"depth": pred}, {"depth": gt})`` returning
            ``{"total": scalar, ...}``; evaluated in eval mode (no warm-up counting).
    Returns:
        name -> gradient map [H,W] (float32 numpy, units of the loss per metre).
    """
    p0, g = _as_b1hw(pred, "pred"), _as_b1hw(gt, "gt")
    if p0.shape != g.shape:
        raise ValueError(f"pred {tuple(p0.shape)} and gt {tuple(g.shape)} differ in size")
    out: dict[str, np.ndarray] = {}
    for name, fn in loss_fns.items():
        p = p0.clone().requires_grad_(True)
        was_training = fn.training
        fn.eval()
        try:
            total = fn({"depth": p}, {"depth": g})["total"]
        finally:
            fn.train(was_training)
        (grad,) = torch.autograd.grad(total, p)
        out[name] = grad[0, 0].numpy().astype(np.float32)
    return out


def heg_term(heg: nn.Module, layer: int) -> nn.Module:
    """The single-layer hierarchical term of ``heg`` at conv layer ``layer`` (w0 = 0, no warm-up)."""
    return losses.build("hierarchical", heg=heg, layers=(layer,), weights=(0.0, 1.0), warmup_steps=0)


def fig3_losses(heg_s: nn.Module, heg_rn: nn.Module, layers: Sequence[int] = (2, 4)) -> dict[str, nn.Module]:
    """Fig. 3's losses: L1, DA, Grad (Sobel L1, weight 1), then HEG-Rn_k and HEG-S_k for ``layers``."""
    table: dict[str, nn.Module] = {"L1": losses.build("l1"), "DA": losses.build("da"),
                                   "Grad": losses.build("grad")}
    for name, heg in (("HEG-Rn", heg_rn), ("HEG-S", heg_s)):
        for k in layers:
            table[f"{name}{k}"] = heg_term(heg, k)
    return table


def normalise(maps: Mapping[str, np.ndarray], mode: str = "mean_abs") -> dict[str, np.ndarray]:
    """|gradient| maps, each divided by its own mean magnitude (``"mean_abs"``) or raw (``"none"``).

    The losses differ in scale by orders of magnitude (an HEG feature mean vs a per-pixel mean),
    so the figure compares *where* each loss pushes: every map has mean 1 after ``"mean_abs"``.
    An all-zero map stays zero.
    """
    if mode not in NORMALISATIONS:
        raise ValueError(f"mode must be one of {NORMALISATIONS}, got {mode!r}")
    out = {}
    for name, m in maps.items():
        a = np.abs(np.asarray(m, dtype=np.float64))
        scale = a.mean() if mode == "mean_abs" else 1.0
        out[name] = (a / scale if scale > 0 else a).astype(np.float32)
    return out


def gradient_grid(maps: Mapping[str, np.ndarray], *, columns: int = 4, mode: str = "mean_abs",
                  percentile: float = 99.0, title: str = "", extra: Mapping[str, np.ndarray] | None = None):
    """Grid of |gradient| maps with ONE colour scale, 0 .. ``percentile`` of all shown values.

    ``maps`` are normalised with :func:`normalise` (``mode``); ``extra`` panels (e.g. the
    prediction and GT depth, [H,W] metres with holes <= 0 left blank, or an RGB [H,W,3]) are drawn
    first with their own colour scale each.
    Returns the matplotlib figure.
    """
    shown = normalise(maps, mode)
    if not shown:
        raise ValueError("maps is empty")
    vmax = float(np.percentile(np.concatenate([m.ravel() for m in shown.values()]), percentile)) or 1.0
    panels = list((extra or {}).items()) + list(shown.items())
    rows = -(-len(panels) // columns)
    h, w = next(iter(shown.values())).shape
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 2.6, rows * 2.6 * h / w + 0.4), squeeze=False)
    n_extra = len(extra or {})
    image = None
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([]), ax.set_yticks([])
        if i >= len(panels):
            ax.axis("off")
            continue
        name, m = panels[i]
        if i < n_extra:
            m = np.asarray(m, dtype=np.float32)
            ax.imshow(np.where(m > 0, m, np.nan) if m.ndim == 2 else m, cmap="magma_r")
        else:
            image = ax.imshow(m, cmap=GRADIENT_CMAP, vmin=0.0, vmax=vmax)
        ax.set_title(name, fontsize=9)
    label = "|dL/d pred| / mean" if mode == "mean_abs" else "|dL/d pred|"
    fig.colorbar(image, ax=axes, shrink=0.7, label=label)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def concentration(maps: Mapping[str, np.ndarray], fraction: float = 0.1) -> dict[str, float]:
    """Share of the total |gradient| carried by the top ``fraction`` of pixels, per map.

    ``fraction`` for a perfectly uniform map; near 1 when a few pixels (e.g. edges) take it all.
    A number to read beside the figure: how spatially concentrated each loss's push is.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    out = {}
    for name, m in maps.items():
        a = np.sort(np.abs(np.asarray(m, dtype=np.float64)).ravel())[::-1]
        k = max(1, int(round(fraction * a.size)))
        total = a.sum()
        out[name] = float(a[:k].sum() / total) if total > 0 else float("nan")
    return out


__all__ = ["concentration", "fig3_losses", "gradient_grid", "heg_term", "loss_gradients", "normalise"]
