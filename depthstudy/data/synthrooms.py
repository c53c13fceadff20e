"""SynthRooms: the embedded procedural indoor RGB-D dataset.

Each scene instance is a furnished room of one of :data:`SCENE_TYPES` (layout in
:mod:`depthstudy.data.synth.layout`), seen from ``views_per_scene`` cameras and rendered by
vectorised ray casting (:mod:`depthstudy.data.synth.render`). Everything is deterministic from
(seed, scene, view). Train scenes are ids ``0..train_scenes-1``, test scenes the next
``test_scenes`` ids, validation scenes the ``val_scenes`` ids after those and pre-training scenes
the ``pretrain_scenes`` ids after those, so the splits never share a scene (as NYU's 249/215
scene split). The validation split is drawn from the same distribution as the training scenes
and exists to choose schedules and budgets without reading the test scenes (Decision S11); the
pre-training split feeds the ImageNet stand-in (Decision S12).

Choices:

- **Depth beyond ``max_depth`` is clipped to ``max_depth``**, not marked invalid: ``depth`` stays
  dense like NYU's in-painted ``depths`` (whose toolbox conversion caps at 10 m), so losses that
  treat every pixel of the dense target as valid (CLIFFNet's code keeps gt >= 0) see no zeros.
  ``raw_depth`` is 0 there (and beyond the simulated sensor range of 8-9 m anyway).
- ``raw_depth`` equals ``depth`` wherever it is nonzero (holes only, no added depth noise), so the
  dense target is exactly the in-painted raw measurement, as NYU's ``depths`` relate to ``rawDepths``.
- Images are quantised to uint8 before use (like a camera), so cached and freshly rendered data
  are identical.
- Every pixel carries an NYU-40 label (walls, floor and ceiling included): there are no
  unlabeled pixels, unlike NYU.

The cache lives under ``depthstudy.paths.cache_dir() / "synthrooms" / <key>/`` where ``key`` hashes
:data:`GENERATOR_VERSION` and every generator parameter; ``classes`` and ``transform`` act at load
time and are not part of the key.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from depthstudy import io, paths

from .classes import VALID_CLASS_COUNTS, lut_from_nyu40
from .synth.layout import SCENE_TYPES, sample_camera, sample_scene
from .synth.render import intrinsics as _intrinsics
from .synth.render import render

__all__ = ["GENERATOR_VERSION", "SCENE_TYPES", "SPLITS", "SynthRooms", "render_views", "pregenerate", "benchmark",
           "split_scenes"]

GENERATOR_VERSION = "synthrooms-1.0"
"""Bump whenever generated pixels change: it is part of the cache key."""
SPLITS = ("train", "test", "val", "pretrain")
_GENERATOR_PARAMS = ("height", "width", "train_scenes", "test_scenes", "val_scenes", "pretrain_scenes",
                     "views_per_scene", "seed", "max_depth")


def render_views(seed: int, scene: int, views: Sequence[int], height: int, width: int) -> dict[str, np.ndarray]:
    """Render ``views`` of scene instance ``scene``; deterministic in (seed, scene, view, height, width).

    Returns ``rgb`` uint8 [V,H,W,3], ``depth`` float32 [V,H,W] (z-depth in metres, not clipped),
    ``raw_depth`` float32 [V,H,W] (0 = hole, else equal to depth), ``label40`` uint8 [V,H,W]
    (1-based NYU-40), ``origin`` float32 [V,3] and ``rotation`` float32 [V,3,3] (camera-to-world).
    """
    _check_int("seed", seed, 0)
    _check_int("scene", scene, 0)
    _check_int("height", height, 8)
    _check_int("width", width, 8)
    views = [int(v) for v in views]
    if not views or min(views) < 0:
        raise ValueError(f"views={views!r}: expected a non-empty sequence of view indices >= 0")
    room = sample_scene(seed, scene)
    poses = [sample_camera(room, seed, v) for v in views]
    seeds = [int(np.random.SeedSequence([seed, scene, 2, v]).generate_state(1)[0]) for v in views]
    origin, rotation = np.stack([p[0] for p in poses]), np.stack([p[1] for p in poses])
    out = render(room, origin, rotation, height, width, seeds)
    out.update(origin=origin, rotation=rotation)
    return out


class SynthRooms(torch.utils.data.Dataset):
    """The procedural dataset as a map-style dataset of sample dicts (:mod:`depthstudy.data.sample`).

    Args:
        split: one of :data:`SPLITS` (disjoint scene instances).
        height, width: image size in pixels.
        train_scenes, test_scenes, val_scenes, pretrain_scenes: scene instances per split;
        views_per_scene: cameras per scene.
        seed: generator seed. classes: 40, 13 or 4 (NYU-40 mapped with :func:`map_nyu40` tables).
        max_depth: metres; depth beyond is clipped to it (see the module docstring).
        cache: read/write the disk cache; cache_dir: its root (default ``cache_dir()/"synthrooms"``).
        transform: callable applied to each sample dict. progress: tqdm bar while generating.

    Attributes:
        intrinsics: (fx, fy, cx, cy) in pixels at (height, width).
        scene_ids: scene-instance id per item; num_scenes: scene instances in this split;
        scene_types: all scene-type names; item_scene_types: scene type per item.
    """

    def __init__(self, split: str = "train", *, height: int = 120, width: int = 160, train_scenes: int = 40,
                 test_scenes: int = 12, val_scenes: int = 0, pretrain_scenes: int = 0, views_per_scene: int = 6,
                 seed: int = 0, classes: int = 40,
                 max_depth: float = 10.0, cache: bool = True, cache_dir: str | Path | None = None,
                 transform: Callable[[dict], dict] | None = None, progress: bool = False):
        if split not in SPLITS:
            raise ValueError(f"split={split!r}: expected one of {SPLITS}")
        if classes not in VALID_CLASS_COUNTS:
            raise ValueError(f"classes={classes!r}: expected one of {VALID_CLASS_COUNTS}")
        params = _validate_params(height=height, width=width, train_scenes=train_scenes, test_scenes=test_scenes,
                                  val_scenes=val_scenes, pretrain_scenes=pretrain_scenes,
                                  views_per_scene=views_per_scene, seed=seed,
                                  max_depth=max_depth)
        if split_scenes(split, params)[1] < 1:
            raise ValueError(f"{split}_scenes must be >= 1 to build the {split!r} split")
        self.split, self.classes, self.transform = split, classes, transform
        self.height, self.width, self.max_depth = height, width, float(max_depth)
        self.intrinsics: tuple[float, float, float, float] = _intrinsics(height, width)
        self.scene_types: tuple[str, ...] = SCENE_TYPES
        self.cache_path = cache_file(split, cache_dir, **params)
        data = _load(self.cache_path) if cache else None
        if data is None:
            data = _generate(split, params, progress)
            if cache:
                _save(self.cache_path, data, params)
        self._rgb, self._depth, self._label40 = data["rgb"], data["depth"], data["label40"]
        self._raw_valid = np.unpackbits(data["raw_valid"], count=self._depth.size).reshape(self._depth.shape) > 0
        self.scene_ids: list[int] = [int(s) for s in data["scene"]]
        self.item_scene_types: list[str] = [str(t) for t in data["scene_type"]]
        self.num_scenes = len(set(self.scene_ids))
        self._lut = lut_from_nyu40(classes)

    def __len__(self) -> int:
        return len(self.scene_ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for SynthRooms({self.split!r}) of length {n}")
        i = i % n
        depth = torch.from_numpy(self._depth[i].copy())[None]
        sample = {
            "image": torch.from_numpy(self._rgb[i]).permute(2, 0, 1).float().div_(255.0),
            "depth": depth,
            "raw_depth": depth * torch.from_numpy(self._raw_valid[i])[None],
            "semantic": torch.from_numpy(self._lut[self._label40[i]]),
            "scene": self.scene_ids[i],
            "scene_name": f"{self.item_scene_types[i]}_{self.scene_ids[i]:04d}",
            "scene_type": self.item_scene_types[i],
            "index": i,
        }
        return self.transform(sample) if self.transform is not None else sample

    def depth_array(self) -> np.ndarray:
        """[N,H,W] float32 depth in metres (clipped to max_depth), untransformed."""
        return self._depth

    def semantic40_array(self) -> np.ndarray:
        """[N,H,W] uint8 1-based NYU-40 labels (0 = unlabeled, which SynthRooms never produces)."""
        return self._label40


def cache_file(split: str, cache_dir: str | Path | None = None, **params: Any) -> Path:
    """Path of the cached arrays of ``split`` for generator ``params`` (see :data:`_GENERATOR_PARAMS`)."""
    params = _validate_params(**params)
    key = hashlib.sha256(json.dumps({"version": GENERATOR_VERSION, **params}, sort_keys=True).encode()).hexdigest()
    root = Path(cache_dir) if cache_dir is not None else paths.cache_dir() / "synthrooms"
    return root / key[:20] / f"{split}.npz"


def pregenerate(progress: bool = True, **params: Any) -> list[Path]:
    """Generate (or find cached) the arrays of every split with scenes; returns their cache files.

    ``params`` are SynthRooms' generator parameters and ``cache_dir``.
    """
    allowed = set(_GENERATOR_PARAMS) | {"cache_dir"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown SynthRooms parameters {unknown}; expected some of {sorted(allowed)}")
    return [SynthRooms(split, cache=True, progress=progress, **params).cache_path for split in SPLITS
            if params.get(f"{split}_scenes", 1 if split in ("train", "test") else 0)]


def benchmark(n_images: int = 200, height: int = 120, width: int = 160) -> dict:
    """Render ``n_images`` (6 views per scene, no cache) and report images per second.

    One small warm-up render is excluded from the timing. torch's thread count is reported, not changed.
    """
    _check_int("n_images", n_images, 1)
    render_views(0, 0, [0], height, width)
    start, done, scene = time.perf_counter(), 0, 0
    while done < n_images:
        views = list(range(min(6, n_images - done)))
        render_views(0, scene, views, height, width)
        done, scene = done + len(views), scene + 1
    seconds = time.perf_counter() - start
    return {"images_per_s": n_images / seconds, "n_images": n_images, "height": height, "width": width,
            "threads": torch.get_num_threads(), "seconds": seconds}


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}: expected an integer >= {minimum}")


def _validate_params(**params: Any) -> dict[str, Any]:
    missing = [k for k in _GENERATOR_PARAMS if k not in params]
    unknown = [k for k in params if k not in _GENERATOR_PARAMS]
    if missing or unknown:
        raise ValueError(f"generator parameters: missing {missing}, unknown {unknown}; expected {_GENERATOR_PARAMS}")
    for name, minimum in (("height", 8), ("width", 8), ("train_scenes", 0), ("test_scenes", 0), ("val_scenes", 0),
                          ("pretrain_scenes", 0), ("views_per_scene", 1), ("seed", 0)):
        _check_int(name, params[name], minimum)
    if not isinstance(params["max_depth"], (int, float)) or not params["max_depth"] > 0:
        raise ValueError(f"max_depth={params['max_depth']!r}: expected a positive number of metres")
    return {k: (float(params[k]) if k == "max_depth" else int(params[k])) for k in _GENERATOR_PARAMS}


def split_scenes(split: str, params: dict[str, Any]) -> tuple[int, int]:
    """(first scene id, number of scenes) of ``split``: ids run through the splits in :data:`SPLITS` order."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    first = sum(params[f"{s}_scenes"] for s in SPLITS[:SPLITS.index(split)])
    return first, params[f"{split}_scenes"]


def _generate(split: str, params: dict[str, Any], progress: bool) -> dict[str, np.ndarray]:
    """Render every view of every scene of ``split``; depth clipped and raw holes extended at max_depth."""
    first, count = split_scenes(split, params)
    views = list(range(params["views_per_scene"]))
    scenes = range(first, first + count)
    if progress:
        from tqdm.auto import tqdm
        scenes = tqdm(scenes, desc=f"SynthRooms {split} {params['height']}x{params['width']}", unit="scene")
    keys = ("rgb", "depth", "raw_valid", "label40", "scene", "scene_type")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for scene in scenes:
        out = render_views(params["seed"], scene, views, params["height"], params["width"])
        parts["rgb"].append(out["rgb"])
        parts["depth"].append(np.minimum(out["depth"], np.float32(params["max_depth"])))
        parts["raw_valid"].append((out["raw_depth"] > 0) & (out["depth"] <= params["max_depth"]))
        parts["label40"].append(out["label40"])
        parts["scene"].append(np.full(len(views), scene, np.int64))
        parts["scene_type"].append(np.array([sample_scene(params["seed"], scene).scene_type] * len(views)))
    data = {k: np.concatenate(v) for k, v in parts.items()}
    data["raw_valid"] = np.packbits(data["raw_valid"].reshape(-1))
    return data


def _save(path: Path, data: dict[str, np.ndarray], params: dict[str, Any]) -> None:
    with io.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **data)
    io.write_json(path.parent / "params.json", {"version": GENERATOR_VERSION, **params})


def _load(path: Path) -> dict[str, np.ndarray] | None:
    """Cached arrays, or None when absent or unreadable (then they are regenerated)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
