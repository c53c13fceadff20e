"""Depth metrics under a named evaluation protocol (see ``depthstudy/protocols.yaml``).

Formulas (the standard NYU depth metrics), on the valid pixel vectors ``gt`` and ``pred`` in metres,
computed in float64:

- abs_rel = mean(|gt - pred| / gt),  sq_rel = mean((gt - pred)^2 / gt)
- rmse = sqrt(mean((gt - pred)^2)),  rmse_log = sqrt(mean((ln gt - ln pred)^2))
- log10 = mean(|log10 gt - log10 pred|)
- delta_k = mean(max(gt/pred, pred/gt) < 1.25^k), k = 1, 2, 3 (strict <)
- silog = 100 * sqrt(mean(e^2) - mean(e)^2), e = ln pred - ln gt (the variance is clamped at 0
  against rounding)

Pipeline per call: clamp the prediction to ``clip_pred`` (NaN predictions are an error), resize
bilinearly when sizes differ (``resize``/``align_corners``), mask GT (non-finite, outside
``min_depth``/``max_depth``, outside the crop, outside ``depth_range``), then compute per image
and average over images (``aggregate="image"``) or pool every valid pixel of every image
(``aggregate="pixel"``). Images with no valid pixel are skipped and counted, so results are never
NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from depthstudy.metrics.protocols import Protocol, get_protocol

DEPTH_METRIC_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2",
                     "delta3", "silog")
AGGREGATES = ("image", "pixel")
_FULL_COVERAGE = 1.0 - 1e-6


def _as_batch(x: object, name: str) -> torch.Tensor:
    """Real-valued tensor or array [H,W], [N,H,W] or [N,1,H,W] -> float64 CPU tensor [N,H,W].

    Bool, complex, string and object data are refused rather than coerced (Decision X15).
    """
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name}: dtype {x.dtype} is not a depth; expected real numbers in metres")
        t = x.detach().to("cpu", torch.float64)
    elif isinstance(x, np.ndarray):
        if x.dtype.kind not in "iuf":
            raise TypeError(f"{name}: dtype {x.dtype} is not a depth; expected real numbers in metres "
                            "(an integer or float array)")
        t = torch.from_numpy(np.asarray(x, dtype=np.float64))
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if t.ndim == 2:
        t = t[None]
    elif t.ndim == 4:
        if t.shape[1] != 1:
            raise ValueError(f"{name}: 4-D input must be [N,1,H,W], got shape {tuple(t.shape)}")
        t = t[:, 0]
    elif t.ndim != 3:
        raise ValueError(f"{name}: expected shape [H,W], [N,H,W] or [N,1,H,W], got {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name}: empty input of shape {tuple(t.shape)}")
    return t


def _resize(x: torch.Tensor, size: tuple[int, int], align_corners: bool) -> torch.Tensor:
    """Bilinear resize of [N,H,W] to [N,*size] (no antialiasing)."""
    return F.interpolate(x[:, None], size=size, mode="bilinear", align_corners=align_corners)[:, 0]


def _resize_gt(gt: torch.Tensor, size: tuple[int, int], align_corners: bool
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize GT [N,H,W] to ``size`` without blending invalid pixels into valid ones.

    Decision (CLIFFNet resizes its hole-free test GT with cv2 bilinear in its released test code; holes are
    not addressed there): invalid source pixels (<= 0 or non-finite) are set to 0, the GT and its
    validity map are resized with the same bilinear weights, and an output pixel stays valid only
    if every source pixel with a non-zero weight was valid. On hole-free GT this equals a plain
    bilinear resize followed by the mask gt > 0 and finite.
    Returns (resized GT [N,*size], bool mask [N,*size] of fully covered pixels).
    """
    source_valid = torch.isfinite(gt) & (gt > 0)
    filled = torch.where(source_valid, gt, torch.zeros_like(gt))
    coverage = _resize(source_valid.to(gt.dtype), size, align_corners)
    return _resize(filled, size, align_corners), coverage > _FULL_COVERAGE


def _valid_mask(gt: torch.Tensor, protocol: Protocol, depth_range: tuple[float, float] | None
                ) -> torch.Tensor:
    """Bool [N,H,W]: finite GT inside the protocol's depth range, crop and the optional range."""
    valid = torch.isfinite(gt) & (gt > protocol.min_depth)
    if protocol.max_depth is not None:
        valid &= (gt <= protocol.max_depth) if protocol.max_inclusive else (gt < protocol.max_depth)
    if depth_range is not None:
        lo, hi = depth_range
        valid &= (gt >= lo) & (gt < hi)
    window = protocol.crop_window(gt.shape[-2], gt.shape[-1])
    if window is not None:
        top, bottom, left, right = window
        inside = torch.zeros(gt.shape[-2:], dtype=torch.bool)
        inside[top:bottom, left:right] = True
        valid &= inside
    return valid


def _check_depth_range(depth_range: object) -> tuple[float, float] | None:
    if depth_range is None:
        return None
    try:
        lo, hi = (float(v) for v in depth_range)  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise ValueError(f"depth_range: expected (lo, hi) in metres or None, got {depth_range!r}") from err
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(f"depth_range: expected lo < hi, got {depth_range!r}")
    return lo, hi


def _check_aspect(pred_hw: tuple[int, int], gt_hw: tuple[int, int], allow: bool) -> None:
    """Refuse a resize that changes the aspect ratio by more than 2% (a transposed prediction)."""
    ratio = (pred_hw[0] / pred_hw[1]) / (gt_hw[0] / gt_hw[1])
    if not allow and abs(ratio - 1.0) > 0.02:
        raise ValueError(f"pred is {pred_hw[0]}x{pred_hw[1]} and gt {gt_hw[0]}x{gt_hw[1]}: resizing one onto the "
                         "other changes the aspect ratio (is one of them transposed?); pass "
                         "allow_aspect_change=True to resize anyway")


def _prepare(pred: object, gt: object, protocol: Protocol, depth_range: tuple[float, float] | None,
             allow_aspect_change: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply the protocol's clip, resize and masks. Returns pred, gt, valid, each [N,H,W]."""
    p, g = _as_batch(pred, "pred"), _as_batch(gt, "gt")
    if p.shape[0] != g.shape[0]:
        raise ValueError(f"pred and gt: different numbers of images ({p.shape[0]} vs {g.shape[0]})")
    if p.shape[-2:] != g.shape[-2:]:
        _check_aspect(tuple(p.shape[-2:]), tuple(g.shape[-2:]), allow_aspect_change)
    if torch.isnan(p).any():
        raise ValueError("pred: contains NaN; a prediction must be a number at every pixel")
    p = p.clamp(*protocol.clip_pred)
    covered = torch.ones(g.shape, dtype=torch.bool)
    if p.shape[-2:] != g.shape[-2:]:
        if protocol.resize == "pred_to_gt":
            p = _resize(p, tuple(g.shape[-2:]), protocol.align_corners)
        else:
            g, covered = _resize_gt(g, tuple(p.shape[-2:]), protocol.align_corners)
    return p, g, _valid_mask(g, protocol, depth_range) & covered


def _metrics(gt: torch.Tensor, pred: torch.Tensor, zero_replacement: float | None) -> dict[str, float]:
    """The 9 metrics of 1-D float64 vectors gt and pred (both positive unless zeros are replaced).

    rmse uses the values as given; with ``zero_replacement`` the other 8 metrics use gt and pred
    with exact zeros replaced by it, except the numerators |gt - pred| of abs_rel and sq_rel, which
    keep the values as given (CLIFFNet's released order of operations, Decision D8).
    """
    diff = gt - pred
    out = {"rmse": torch.sqrt(torch.mean(diff ** 2))}
    if zero_replacement is not None:
        gt = torch.where(gt == 0, torch.full_like(gt, zero_replacement), gt)
        pred = torch.where(pred == 0, torch.full_like(pred, zero_replacement), pred)
    log_err = torch.log(pred) - torch.log(gt)
    ratio = torch.maximum(gt / pred, pred / gt)
    out["abs_rel"] = torch.mean(diff.abs() / gt)
    out["sq_rel"] = torch.mean(diff ** 2 / gt)
    out["rmse_log"] = torch.sqrt(torch.mean(log_err ** 2))
    out["log10"] = torch.mean((torch.log10(pred) - torch.log10(gt)).abs())
    for k in (1, 2, 3):
        out[f"delta{k}"] = torch.mean((ratio < 1.25 ** k).to(torch.float64))
    variance = torch.mean(log_err ** 2) - torch.mean(log_err) ** 2
    out["silog"] = 100.0 * torch.sqrt(variance.clamp(min=0.0))
    return {key: float(out[key]) for key in DEPTH_METRIC_KEYS}


def per_image_metrics(pred: object, gt: object, protocol: str = "synthetic",
                      depth_range: tuple[float, float] | None = None,
                      allow_aspect_change: bool = False) -> pd.DataFrame:
    """Metrics of each image under ``protocol``.

    Args:
        pred: predicted depth in metres, tensor or array [H,W], [N,H,W] or [N,1,H,W].
        gt: ground truth in metres, same N; H,W may differ (resized per the protocol).
        protocol: a name from ``protocols()``.
        depth_range: optional (lo, hi) in metres; keeps GT pixels with lo <= gt < hi as well.
        allow_aspect_change: resize even when pred and gt differ in aspect ratio (refused by
            default: it usually means a transposed array).

    Returns:
        One row per evaluated image, columns ``index`` (0-based position in the batch),
        ``n_valid`` and the 9 metric keys. Images without a valid pixel get no row; their
        indices are in ``df.attrs["skipped"]`` and their count in ``df.attrs["n_skipped"]``
        (``df.attrs["protocol"]`` holds the protocol name). No value is NaN.
    """
    proto = get_protocol(protocol)
    p, g, valid = _prepare(pred, gt, proto, _check_depth_range(depth_range), allow_aspect_change)
    rows, skipped = [], []
    for i in range(g.shape[0]):
        n_valid = int(valid[i].sum())
        if n_valid == 0:
            skipped.append(i)
            continue
        metrics = _metrics(g[i][valid[i]], p[i][valid[i]], proto.zero_replacement)
        rows.append({"index": i, "n_valid": n_valid, **metrics})
    frame = pd.DataFrame(rows, columns=["index", "n_valid", *DEPTH_METRIC_KEYS])
    frame.attrs.update(protocol=proto.name, skipped=skipped, n_skipped=len(skipped))
    return frame


def depth_metrics(pred: object, gt: object, protocol: str = "synthetic",
                  depth_range: tuple[float, float] | None = None,
                  aggregate: str = "image", allow_aspect_change: bool = False) -> dict[str, float]:
    """Depth metrics of a batch under ``protocol``.

    Args:
        pred, gt, protocol, depth_range, allow_aspect_change: as :func:`per_image_metrics`.
        aggregate: "image" computes each metric per image and averages over images (every named
            protocol's rule); "pixel" pools the valid pixels of all images, then computes each
            metric once (DenseDepth-style pooling).

    Returns:
        ``{key: float}`` for the 9 keys of ``DEPTH_METRIC_KEYS``, plus ``n_images`` (images
        evaluated) and ``n_skipped`` (images with no valid pixel, skipped). Never NaN.

    Raises:
        ValueError: no valid pixel in any image, a bad shape, parameter or protocol name.
    """
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate={aggregate!r}: expected one of {AGGREGATES}")
    if aggregate == "image":
        frame = per_image_metrics(pred, gt, protocol, depth_range, allow_aspect_change)
        n_images, n_skipped = len(frame), frame.attrs["n_skipped"]
        _require_valid(n_images, protocol, depth_range, gt)
        result = {key: float(frame[key].mean()) for key in DEPTH_METRIC_KEYS}
    else:
        proto = get_protocol(protocol)
        p, g, valid = _prepare(pred, gt, proto, _check_depth_range(depth_range), allow_aspect_change)
        per_image = valid.flatten(1).any(dim=1)
        n_images = int(per_image.sum())
        n_skipped = int(valid.shape[0] - n_images)
        _require_valid(n_images, protocol, depth_range, gt)
        result = _metrics(g[valid], p[valid], proto.zero_replacement)
    return {**result, "n_images": n_images, "n_skipped": n_skipped}


def _require_valid(n_images: int, protocol: str, depth_range: object, gt: object) -> None:
    if n_images == 0:
        raise ValueError(f"gt: no valid pixel in any image under protocol={protocol!r}, "
                         f"depth_range={depth_range!r}; the metrics are undefined{_units_hint(gt, protocol)}")


def _units_hint(gt: object, protocol: str) -> str:
    """A hint when GT looks like millimetres (values far beyond any indoor or the protocol's range)."""
    values = _as_batch(gt, "gt")
    finite = values[torch.isfinite(values)]
    top = float(finite.max()) if finite.numel() else 0.0
    max_depth = get_protocol(protocol).max_depth
    if top > 100.0 or (max_depth is not None and top > 10 * max_depth):
        return (f". gt reaches {top:g}: depths must be in metres; millimetre data (e.g. uint16 PNG depth) "
                "must be divided by 1000 first")
    return ""
