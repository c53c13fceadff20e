"""A real depth map offline: Middlebury 2014 "Motorcycle" as shipped by scikit-image.

``skimage.data.stereo_motorcycle()`` returns the left and right images (500x741 RGB) and the
ground-truth disparity of the left view (float32 pixels, NaN where unknown), Middlebury's full
resolution downsampled by 4. Its docstring gives the calibration at that size (from its ``calib.txt``):
f = 994.978 px, doffs = 31.086 px, baseline = 193.001 mm, so

    depth [m] = f * B / (d + doffs),   B = 0.193001 m

(about 2.1-5.0 m). Holes (NaN disparity) become 0, the invalid value of every loss and metric
here. scikit-image is in the package's ``notebooks`` extra; nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import torch

FOCAL_PX = 994.978
BASELINE_M = 0.193001
DOFFS_PX = 31.086


def disparity_to_depth(disparity: np.ndarray, focal_px: float = FOCAL_PX, baseline_m: float = BASELINE_M,
                       doffs_px: float = DOFFS_PX) -> np.ndarray:
    """Depth in metres from disparity in pixels; non-finite or d + doffs <= 0 -> 0 (invalid)."""
    d = np.asarray(disparity, dtype=np.float64)
    denom = d + doffs_px
    valid = np.isfinite(d) & (denom > 0)
    depth = np.zeros_like(d)
    depth[valid] = focal_px * baseline_m / denom[valid]
    return depth.astype(np.float32)


def motorcycle_depth() -> dict[str, torch.Tensor]:
    """The Motorcycle left view: ``image`` float32 [3,H,W] in [0,1] and ``depth`` [1,H,W] metres
    (0 = hole), H x W = 500 x 741. Raises ImportError naming the extra when scikit-image is absent."""
    try:
        from skimage import data
    except ImportError as err:
        raise ImportError("motorcycle_depth needs scikit-image: pip install 'depthstudy[notebooks]'") from err
    left, _, disparity = data.stereo_motorcycle()
    image = torch.from_numpy(np.ascontiguousarray(left)).permute(2, 0, 1).float() / 255.0
    depth = torch.from_numpy(disparity_to_depth(disparity))[None]
    return {"image": image, "depth": depth}


def perturbed_prediction(depth: torch.Tensor, sigma_px: float = 2.0, noise_m: float = 0.05,
                         seed: int = 0) -> torch.Tensor:
    """A stand-in "prediction" for a real depth map [1,H,W] (metres, 0 = hole): holes filled with the
    median valid depth, a Gaussian blur of ``sigma_px`` pixels (soft edges, as an under-trained
    network) and Gaussian noise of ``noise_m`` metres (seeded). Returns [1,H,W] metres.
    """
    if depth.dim() != 3 or depth.shape[0] != 1:
        raise ValueError(f"depth must be [1,H,W], got shape {tuple(depth.shape)}")
    if not sigma_px > 0:
        raise ValueError(f"sigma_px must be > 0, got {sigma_px!r}")
    valid = depth > 0
    if not valid.any():
        raise ValueError("depth has no valid (> 0) pixel")
    filled = torch.where(valid, depth, depth[valid].median())
    radius = max(1, int(round(3 * sigma_px)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma_px) ** 2)
    kernel = kernel / kernel.sum()
    blurred = torch.nn.functional.pad(filled[None], (radius, radius, radius, radius), mode="replicate")
    blurred = torch.nn.functional.conv2d(blurred, kernel.view(1, 1, 1, -1))
    blurred = torch.nn.functional.conv2d(blurred, kernel.view(1, 1, -1, 1))[0]
    noise = torch.randn(blurred.shape, generator=torch.Generator().manual_seed(seed)) * noise_m
    return blurred + noise


__all__ = ["BASELINE_M", "DOFFS_PX", "FOCAL_PX", "disparity_to_depth", "motorcycle_depth", "perturbed_prediction"]
