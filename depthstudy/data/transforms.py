"""Transforms on sample dicts (:mod:`depthstudy.data.sample`), shared by SynthRooms and the NYU loaders.

Each transform maps a sample dict to a new sample dict. The maps it knows are ``image`` [3,H,W],
``depth`` [1,H,W], ``raw_depth`` [1,H,W] and ``semantic`` [H,W]; absent maps are skipped and the
other keys pass through unchanged.

Interpolation: ``image`` and ``depth`` bilinear with half-pixel centres and no antialiasing
(``align_corners=False``; the same sampling as cv2's INTER_LINEAR used by CLIFFNet's pipeline,
``core/data_transform.py``). ``raw_depth`` and ``semantic`` use nearest-exact (pixel-centre nearest), so
holes stay exact zeros and labels stay in the label set; bilinear resizing of raw depth would
smear the zeros of holes into their neighbours.

Randomness: a transform takes ``generator``: a ``torch.Generator``, an int seed (a private
generator seeded with it), or None (torch's global RNG, which DataLoader reseeds per worker).
A private generator is copied into every DataLoader worker, so with ``num_workers > 0`` the
workers repeat one random sequence; pass None there and seed torch globally instead.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

Sample = dict[str, Any]
_BILINEAR = ("image", "depth")
_NEAREST = ("raw_depth", "semantic")


def _generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    raise ValueError(f"generator={generator!r}: expected a torch.Generator, an int seed or None")


def _check_size(name: str, height: int, width: int) -> None:
    for key, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: {key}={v!r}: expected a positive integer")


def _as_chw(x: torch.Tensor) -> torch.Tensor:
    """[H,W] -> [1,H,W]; [C,H,W] unchanged."""
    return x[None] if x.ndim == 2 else x


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]):
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class Resize:
    """Resize every map to (height, width): bilinear for image/depth, nearest-exact for raw_depth/semantic.

    Depth values are not rescaled (metric depth does not change with image size).
    """

    def __init__(self, height: int, width: int):
        _check_size("Resize", height, width)
        self.size = (height, width)

    def __call__(self, sample: Sample) -> Sample:
        out = dict(sample)
        for key in _BILINEAR + _NEAREST:
            if key not in sample:
                continue
            x = sample[key]
            chw = _as_chw(x)
            mode = "bilinear" if key in _BILINEAR else "nearest-exact"
            kwargs = {"align_corners": False} if mode == "bilinear" else {}
            y = F.interpolate(chw[None].float(), size=self.size, mode=mode, **kwargs)[0]
            y = y.to(x.dtype) if key == "semantic" else y
            out[key] = y[0] if x.ndim == 2 else y
        return out

    def __repr__(self) -> str:
        return f"Resize{self.size}"


class CenterCrop:
    """Crop the central (height, width) window of every map; top = (H - h) // 2, left = (W - w) // 2."""

    def __init__(self, height: int, width: int):
        _check_size("CenterCrop", height, width)
        self.size = (height, width)

    def __call__(self, sample: Sample) -> Sample:
        out = dict(sample)
        h, w = self.size
        for key in _BILINEAR + _NEAREST:
            if key not in sample:
                continue
            x = sample[key]
            full_h, full_w = x.shape[-2:]
            if h > full_h or w > full_w:
                raise ValueError(f"CenterCrop({h}, {w}) is larger than sample['{key}'] of size {full_h}x{full_w}")
            top, left = (full_h - h) // 2, (full_w - w) // 2
            out[key] = x[..., top:top + h, left:left + w]
        return out

    def __repr__(self) -> str:
        return f"CenterCrop{self.size}"


class RandomHorizontalFlip:
    """Flip all maps left-right together with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | int | None = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p={p!r}: expected a probability in [0, 1]")
        self.p, self.generator = p, _generator(generator)

    def __call__(self, sample: Sample) -> Sample:
        if torch.rand((), generator=self.generator).item() >= self.p:
            return dict(sample)
        out = dict(sample)
        for key in _BILINEAR + _NEAREST:
            if key in sample:
                out[key] = sample[key].flip(-1)
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class ColorJitter:
    """Random brightness, contrast and saturation of ``image`` only, in a random order.

    Factors are drawn uniformly from [max(0, 1 - s), 1 + s] for strength s; brightness scales the
    image, contrast blends with the mean grey level of the image, saturation blends with the
    per-pixel grey image (grey = 0.299 R + 0.587 G + 0.114 B); each step clamps to [0, 1]. These
    follow torchvision's ColorJitter semantics (CLIFFNet: 0.4, 0.4, 0.4 in its released code), hue excluded.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 generator: torch.Generator | int | None = None):
        for name, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if not v >= 0:
                raise ValueError(f"ColorJitter: {name}={v!r}: expected a non-negative strength")
        self.strengths = (float(brightness), float(contrast), float(saturation))
        self.generator = _generator(generator)

    def __call__(self, sample: Sample) -> Sample:
        out = dict(sample)
        img = sample["image"]
        order = torch.randperm(3, generator=self.generator).tolist()
        u = torch.rand(3, generator=self.generator).tolist()
        for op in order:
            s = self.strengths[op]
            if s == 0:
                continue
            factor = max(0.0, 1 - s) + u[op] * (1 + s - max(0.0, 1 - s))
            grey = 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]
            if op == 0:
                img = img * factor
            elif op == 1:
                img = factor * img + (1 - factor) * grey.mean()
            else:
                img = factor * img + (1 - factor) * grey[None]
            img = img.clamp(0, 1)
        out["image"] = img
        return out

    def __repr__(self) -> str:
        b, c, s = self.strengths
        return f"ColorJitter(brightness={b}, contrast={c}, saturation={s})"
