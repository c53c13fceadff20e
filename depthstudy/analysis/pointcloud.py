"""Point clouds from depth maps: pinhole back-projection and a subsampled 3-D scatter figure.

Camera frame: x right, y down, z forward (metres). Pixel (row i, column j) has its centre at
(u, v) = (j + 0.5, i + 0.5) in the intrinsics' pixel coordinates (SynthRooms' convention:
``depthstudy.data.synth.render.intrinsics``); ``pixel_offset=0`` gives the (u, v) = (j, i)
convention instead. NYU's toolbox intrinsics are given for 1-based MATLAB pixels; the half-pixel
difference is immaterial for display.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respect MPLBACKEND (Agg under test)
import matplotlib.pyplot as plt
import numpy as np

from ..viz import to_numpy

Intrinsics = tuple[float, float, float, float]


def backproject(depth, intrinsics: Sequence[float], image=None, *, pixel_offset: float = 0.5,
                max_depth: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Back-project a depth map into camera-frame points.

    Args:
        depth: [H,W] or [1,H,W] metres; pixels <= 0, non-finite or beyond ``max_depth`` are dropped.
        intrinsics: (fx, fy, cx, cy) in pixels at the depth map's resolution.
        image: optional [3,H,W] RGB in [0,1] giving each point's colour.
    Returns:
        (points [N,3] float32 (x, y, z) metres, colours [N,3] float32 in [0,1] or None), in
        row-major pixel order.
    """
    d = to_numpy(depth).astype(np.float32)
    if d.ndim == 3 and d.shape[0] == 1:
        d = d[0]
    if d.ndim != 2:
        raise ValueError(f"depth must be [H,W] or [1,H,W], got shape {d.shape}")
    if len(intrinsics) != 4 or not all(np.isfinite(intrinsics)) or min(intrinsics[0], intrinsics[1]) <= 0:
        raise ValueError(f"intrinsics must be (fx, fy, cx, cy) with fx, fy > 0, got {intrinsics!r}")
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    h, w = d.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    valid = np.isfinite(d) & (d > 0)
    if max_depth is not None:
        valid &= d <= max_depth
    z = d[valid]
    x = (cols[valid] + pixel_offset - cx) * z / fx
    y = (rows[valid] + pixel_offset - cy) * z / fy
    points = np.stack([x, y, z], axis=1).astype(np.float32)
    colours = None
    if image is not None:
        rgb = to_numpy(image).astype(np.float32)
        if rgb.shape != (3, h, w):
            raise ValueError(f"image must be [3,{h},{w}] to match depth, got {rgb.shape}")
        colours = np.clip(rgb.transpose(1, 2, 0)[valid], 0.0, 1.0)
    return points, colours


def dataset_intrinsics(dataset, size: tuple[int, int]) -> Intrinsics:
    """(fx, fy, cx, cy) of ``dataset`` for maps of ``size`` = (H, W).

    Reads ``dataset.intrinsics`` (at ``dataset.height`` x ``dataset.width``, e.g. SynthRooms or
    NYUv2Labeled's file resolution) and scales them when the samples were resized to ``size``
    (a plain resize, no crop: fx, cx by the width ratio, fy, cy by the height ratio).
    """
    intr = getattr(dataset, "intrinsics", None)
    if intr is None:
        raise AttributeError(f"{type(dataset).__name__} has no 'intrinsics' attribute (fx, fy, cx, cy)")
    fx, fy, cx, cy = (float(v) for v in intr)
    src_h, src_w = getattr(dataset, "height", size[0]), getattr(dataset, "width", size[1])
    sy, sx = size[0] / src_h, size[1] / src_w
    return fx * sx, fy * sy, cx * sx, cy * sy


def subsample(points: np.ndarray, colours: np.ndarray | None, max_points: int, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """At most ``max_points`` points drawn without replacement (same rows of ``colours``)."""
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points!r}")
    if len(points) <= max_points:
        return points, colours
    keep = np.sort(np.random.default_rng(seed).choice(len(points), size=max_points, replace=False))
    return points[keep], None if colours is None else colours[keep]


def pointcloud_figure(clouds: Mapping[str, tuple[np.ndarray, np.ndarray | None]], *,
                      max_points: int = 4000, seed: int = 0, elev: float = 20.0, azim: float = -70.0,
                      point_size: float = 1.5, title: str = ""):
    """One 3-D scatter panel per named cloud (e.g. "GT", "predicted"), subsampled, sharing axis
    limits; plotted with x right, z (depth) into the scene and -y up; ``title`` on top."""
    if not clouds:
        raise ValueError("clouds is empty")
    shown = {k: subsample(p, c, max_points, seed) for k, (p, c) in clouds.items()}
    every = np.concatenate([p for p, _ in shown.values() if len(p)] or [np.zeros((1, 3))])
    lo, hi = every.min(axis=0), every.max(axis=0)
    fig = plt.figure(figsize=(3.6 * len(shown), 3.4))
    for k, (name, (pts, cols)) in enumerate(shown.items()):
        ax = fig.add_subplot(1, len(shown), k + 1, projection="3d")
        ax.scatter(pts[:, 0], pts[:, 2], -pts[:, 1], c=cols if cols is not None else pts[:, 2],
                   s=point_size, linewidths=0, depthshade=False, rasterized=True)  # SVG stays small
        ax.set_xlim(lo[0], hi[0]), ax.set_ylim(lo[2], hi[2]), ax.set_zlim(-hi[1], -lo[1])
        ax.set_xlabel("x [m]", fontsize=7), ax.set_ylabel("z [m]", fontsize=7), ax.set_zlabel("-y [m]", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.view_init(elev=elev, azim=azim)
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.92 if title else 1))
    return fig


__all__ = ["Intrinsics", "backproject", "dataset_intrinsics", "pointcloud_figure", "subsample"]
