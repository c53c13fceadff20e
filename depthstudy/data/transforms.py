"""Transforms on sample dicts (:mod:`depthstudy.data.sample`), shared by SynthRooms and the NYU loaders.

Each transform maps a sample dict to a new sample dict. The maps it knows are ``image`` [3,H,W],
``depth`` [1,H,W], ``raw_depth`` [1,H,W] and ``semantic`` [H,W]; absent maps are skipped and the
other keys pass through unchanged.

Interpolation: ``image`` and ``depth`` bilinear with half-pixel centres and no antialiasing
(``align_corners=False``; the same sampling as cv2's INTER_LINEAR used by CLIFFNet's pipeline).
``raw_depth`` and ``semantic`` use nearest-exact (pixel-centre nearest), so holes stay exact zeros
and labels stay in the label set; bilinear resizing of raw depth would smear the zeros of holes
into their neighbours.

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


def _resize_map(key: str, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """One map resized to ``size``: bilinear for image/depth, nearest-exact for raw_depth/semantic."""
    mode = "bilinear" if key in _BILINEAR else "nearest-exact"
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    y = F.interpolate(_as_chw(x)[None].float(), size=size, mode=mode, **kwargs)[0]
    y = y.to(x.dtype) if key == "semantic" else y
    return y[0] if x.ndim == 2 else y


class Resize:
    """Resize the maps named in ``keys`` (default: all four) to (height, width).

    Bilinear for image/depth, nearest-exact for raw_depth/semantic; maps not in ``keys`` pass
    through at their own size (the NYU test sets keep the 480x640 ground truth this way, Decision D1).
    Depth values are not rescaled (metric depth does not change with image size).
    """

    def __init__(self, height: int, width: int, keys: Sequence[str] = _BILINEAR + _NEAREST):
        _check_size("Resize", height, width)
        unknown = sorted(set(keys) - set(_BILINEAR + _NEAREST))
        if unknown or not keys:
            raise ValueError(f"Resize: keys={tuple(keys)!r}: expected a non-empty subset of {_BILINEAR + _NEAREST}")
        self.size, self.keys = (height, width), tuple(keys)

    def __call__(self, sample: Sample) -> Sample:
        out = dict(sample)
        for key in self.keys:
            if key in sample:
                out[key] = _resize_map(key, sample[key], self.size)
        return out

    def __repr__(self) -> str:
        keys = "" if self.keys == _BILINEAR + _NEAREST else f", keys={self.keys}"
        return f"Resize({self.size[0]}, {self.size[1]}{keys})"


class ResizeShortSide:
    """Resize every map so its short side is ``size`` pixels, keeping the aspect ratio.

    The long side becomes ``round(long * size / short)`` (cv2.resize with fx = fy = scale rounds the
    same way); interpolation as :class:`Resize`. 456x608 with ``size=228`` gives 228x304.
    """

    def __init__(self, size: int):
        _check_size("ResizeShortSide", size, size)
        self.size = size

    def __call__(self, sample: Sample) -> Sample:
        out = dict(sample)
        for key in _BILINEAR + _NEAREST:
            if key not in sample:
                continue
            h, w = sample[key].shape[-2:]
            scale = self.size / min(h, w)
            out[key] = _resize_map(key, sample[key], (int(round(h * scale)), int(round(w * scale))))
        return out

    def __repr__(self) -> str:
        return f"ResizeShortSide({self.size})"


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
    follow torchvision's ColorJitter semantics (CLIFFNet: 0.4, 0.4, 0.4), hue excluded. The image
    stays float (torchvision jitters a uint8 PIL image, so it rounds to 1/255 after each step).
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


CLIFFNET_CROP = (456, 608)
"""CLIFFNet's training centre crop of the 480x640 NYU frame (12 rows off top and bottom, 16 columns off each side)."""
CLIFFNET_JITTER = 0.4
"""CLIFFNet's ColorJitter brightness, contrast and saturation strength."""


def cliffnet_augmentation(short_side: int = 228, generator: torch.Generator | int | None = None) -> Compose:
    """CLIFFNet's training transform of a 480x640 NYU frame (Decision D3), in the authors' order:

    colour jitter 0.4/0.4/0.4 on ``image`` only, centre crop 456x608 of every map, resize to short
    side ``short_side`` (228 -> 228x304, scale 0.5), random horizontal flip (p = 0.5) of every map
    together. No rotation, no random crop, no scale jitter. ``generator`` drives the jitter and
    the flip (see the module docstring on DataLoader workers).
    """
    gen = _generator(generator)
    return Compose([
        ColorJitter(CLIFFNET_JITTER, CLIFFNET_JITTER, CLIFFNET_JITTER, generator=gen),
        CenterCrop(*CLIFFNET_CROP),
        ResizeShortSide(short_side),
        RandomHorizontalFlip(0.5, generator=gen),
    ])


def jiao_augmentation(height: int, width: int, generator: torch.Generator | int | None = None) -> Compose:
    """The training transform of the Jiao et al. studies on NYU (Decision D4): the full frame
    resized to (height, width), as the test input, then a random horizontal flip (p = 0.5) of
    image, depth and labels together; no colour jitter, crop or rotation."""
    return Compose([Resize(height, width), RandomHorizontalFlip(0.5, generator=generator)])
