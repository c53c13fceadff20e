"""Attention maps of activation tensors (Jiao et al. suppl. section 1, after Zagoruyko & Komodakis).

For an activation T in R^{C x H x W}, A(T) = sum_{i=1..C} |T_i|: the channel sum of absolute
activations (:func:`attention_map`). The supplement takes T at the first up-conv of the depth
branch (depth attention) and at layers "near the network bottleneck" for the shared backbone and
the semantic branch. The synergy network returns those activations with ``features=True``
(``backbone`` = res5 output c5, ``bottleneck`` = conv2, ``depth_up1`` = upconv_dep1,
``semantic_up1`` = upconv_sem1): :func:`collect_features`. Other models: forward hooks on named
sub-modules (:func:`collect_activations`).

For display each map is min-max normalised to [0, 1] per image (:func:`normalise_maps`) and
bilinearly resized to the image size; absolute levels are not comparable between layers.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respect MPLBACKEND (Agg under test)
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from ..viz import MAP_CMAP, image_hwc, to_numpy

#: Synergy-network feature -> figure column title.
SYNERGY_LAYERS = {"backbone": "backbone (res5)", "bottleneck": "shared bottleneck (conv2)",
                  "depth_up1": "depth (upconv_dep1)", "semantic_up1": "semantic (upconv_sem1)"}


def attention_map(activation: torch.Tensor) -> torch.Tensor:
    """A(T) = sum over channels of |T_i|: [B,C,H,W] -> [B,H,W] or [C,H,W] -> [H,W] (float32)."""
    if not torch.is_tensor(activation) or activation.ndim not in (3, 4):
        raise ValueError(f"activation must be a tensor [C,H,W] or [B,C,H,W], got "
                         f"{getattr(activation, 'shape', type(activation).__name__)}")
    return activation.detach().float().abs().sum(dim=-3)


def normalise_maps(maps: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max normalise each map of [B,H,W] (or one [H,W]) to [0, 1]; a constant map becomes 0."""
    if maps.ndim not in (2, 3):
        raise ValueError(f"maps must be [H,W] or [B,H,W], got {tuple(maps.shape)}")
    flat = maps.reshape(-1, maps.shape[-2] * maps.shape[-1]) if maps.ndim == 3 else maps.reshape(1, -1)
    lo, hi = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(eps)).reshape(maps.shape)


def collect_features(model: nn.Module, images: torch.Tensor,
                     names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Activations from ``model(images, features=True)["features"]`` (eval mode, no grad, CPU).

    Args:
        images: [B,3,H,W] RGB in [0,1].
        names: features to keep (default: all the model returns).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(images, features=True)
    finally:
        model.train(was_training)
    feats = out.get("features") if isinstance(out, Mapping) else None
    if not isinstance(feats, Mapping):
        raise ValueError(f"{type(model).__name__}(images, features=True) returned no 'features' dict")
    names = list(feats) if names is None else list(names)
    missing = [n for n in names if n not in feats]
    if missing:
        raise KeyError(f"features {missing} not returned by the model; it has {list(feats)}")
    return {n: feats[n].detach().float().cpu() for n in names}


def collect_activations(model: nn.Module, images: torch.Tensor,
                        modules: Mapping[str, str]) -> dict[str, torch.Tensor]:
    """Outputs of named sub-modules (``{label: "depth_branch.up.0", ...}``) via forward hooks,
    for models without a ``features`` output. Eval mode, no grad; hooks are removed afterwards."""
    store: dict[str, torch.Tensor] = {}
    handles = []
    try:
        for label, path in modules.items():
            try:
                module = model.get_submodule(path)
            except AttributeError:
                raise KeyError(f"model {type(model).__name__} has no sub-module {path!r} (for {label!r})") from None

            def hook(_module, _inputs, output, label=label):
                store[label] = output.detach().float().cpu()
            handles.append(module.register_forward_hook(hook))
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                model(images)
        finally:
            model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    return store


def attention_maps(activations: Mapping[str, torch.Tensor], size: tuple[int, int] | None = None
                   ) -> dict[str, torch.Tensor]:
    """A(T) of each [B,C,h,w] activation, resized to ``size`` (bilinear) and normalised to [0,1]."""
    out = {}
    for name, act in activations.items():
        amap = attention_map(act)
        if size is not None and tuple(amap.shape[-2:]) != tuple(size):
            amap = F.interpolate(amap[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        out[name] = normalise_maps(amap)
    return out


def depth_correlation(maps: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between each attention map [B,H,W] and its GT depth [B,1,H,W] (or
    [B,H,W]) over the valid pixels (depth > 0 and finite); [B], NaN where a map or the depth is
    constant. Positive = the layer attends more to far pixels (what L_DA is meant to encourage)."""
    depth = depth.reshape(maps.shape).float()
    if maps.shape != depth.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and depth {tuple(depth.shape)} differ")
    out = []
    for a, d in zip(maps.float(), depth):
        valid = torch.isfinite(d) & (d > 0)
        x, y = a[valid] - a[valid].mean(), d[valid] - d[valid].mean()
        denom = x.norm() * y.norm()
        out.append(x.dot(y) / denom if denom > 0 else torch.tensor(float("nan")))
    return torch.stack(out)


def attention_grid(images: torch.Tensor, maps: Mapping[str, torch.Tensor], *,
                   titles: Mapping[str, str] | None = None, row_labels: Sequence[str] | None = None,
                   cmap: str = MAP_CMAP, title: str = ""):
    """Rows = images; columns = RGB, then each normalised map ([B,H,W]) beside it; ``title`` on top;
    one colour bar (attention in [0, 1], perceptual ``cmap``, Decision X23) for every map."""
    names = list(maps)
    n = images.shape[0]
    if any(m.shape[0] != n for m in maps.values()):
        raise ValueError("every map needs one entry per image")
    fig, axes = plt.subplots(n, 1 + len(names), figsize=(2.3 * (1 + len(names)), 1.8 * n), squeeze=False)
    for r in range(n):
        panels = [image_hwc(images[r])] + [to_numpy(maps[k][r]) for k in names]
        heads = ["RGB"] + [(titles or {}).get(k, k) for k in names]
        for c, (ax, panel) in enumerate(zip(axes[r], panels)):
            ax.imshow(panel, cmap=None if c == 0 else cmap, vmin=None if c == 0 else 0.0,
                      vmax=None if c == 0 else 1.0)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(heads[c], fontsize=8)
            if c == 0 and row_labels:
                ax.set_ylabel(row_labels[r], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.9, 0.96 if title else 1))
    bar = fig.add_axes((0.915, 0.15, 0.015, 0.7))
    fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(0.0, 1.0), cmap), cax=bar, label="attention A(T), normalised")
    return fig


__all__ = ["SYNERGY_LAYERS", "attention_grid", "attention_map", "attention_maps",
           "collect_activations", "collect_features", "depth_correlation", "normalise_maps"]
