"""NYU-Depth V2 frames in the BTS folder layout (``sync/`` training frames, ``official_splits/test``).

Layout (``data_manifests/nyuv2_bts.yaml``; BTS's released NYU file lists): a file list
whose lines are ``RGB DEPTH [FOCAL]`` with paths relative to an images root, e.g.

- training (``sync/``): ``/kitchen_0028b/rgb_00045.jpg /kitchen_0028b/sync_depth_00045.png 518.8579``
  (leading slash optional); the folder is the raw scene name;
- test (``official_splits/test/``): ``bathroom/rgb_00045.jpg bathroom/sync_depth_00045.png 518.8579``;
  the folder is the scene type and the number the 0-based labeled index.

RGB is JPEG or PNG; depth is a uint16 PNG in millimetres (``depth_scale`` 1000), 0 = hole. The
depth is projected sensor depth (not in-painted), so ``raw_depth`` = ``depth``.

Decisions:
- No labels exist in this layout: ``semantic`` is all ``IGNORE_INDEX`` (255).
- Depth above ``max_depth`` (10 m, the Kinect conversion's cap and the BTS evaluation bound) is
  set to 0, i.e. marked invalid, in ``depth`` and ``raw_depth``.
- ``scene_name`` is the folder with a trailing a/b letter removed; ``scene_type`` is the scene
  name without its ``_NNNN`` number. A test-list folder is a scene type, so there
  ``scene_name == scene_type`` (the labeled set's scene instances are not in this layout; use
  :class:`depthstudy.data.nyuv2.NYUv2Labeled` for them). ``scene`` ids index the sorted unique
  scene names of the list.
- ``index`` is the 0-based line position in the file list.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..io import atomic_path, write_text
from .classes import IGNORE_INDEX
from .nyu_fixture import FIXTURE_SCENE_TYPES
from .nyuv2 import NYU_INTRINSICS, nyu_scene_name

MANIFEST = "nyuv2_bts"
DEPTH_SCALE = 1000.0
"""Depth PNG units per metre (uint16 millimetres)."""
BTS_FOCAL = NYU_INTRINSICS[0]

Transform = Callable[[dict[str, Any]], dict[str, Any]]

__all__ = ["BTS_FOCAL", "DEPTH_SCALE", "NYUv2Sync", "SyncEntry", "read_filelist", "scene_from_folder",
           "write_sync_fixture"]


@dataclass(frozen=True)
class SyncEntry:
    """One list line: RGB and depth paths relative to the images root, focal length (pixels) or None."""

    rgb: str
    depth: str
    focal: float | None


def read_filelist(path: str | os.PathLike) -> list[SyncEntry]:
    """Parse a BTS file list (blank lines skipped; a leading ``/`` on paths is dropped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file list {path} not found; the BTS lists are described in "
                                f"data_manifests/{MANIFEST}.yaml (`depthstudy data fetch {MANIFEST} --root DIR`)")
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise ValueError(f"{path}:{number}: expected 'RGB DEPTH [FOCAL]'; got {line!r}")
        try:
            focal = float(fields[2]) if len(fields) == 3 else None
        except ValueError as err:
            raise ValueError(f"{path}:{number}: focal length {fields[2]!r} is not a number") from err
        entries.append(SyncEntry(fields[0].lstrip("/"), fields[1].lstrip("/"), focal))
    if not entries:
        raise ValueError(f"{path}: the file list is empty")
    return entries


def scene_from_folder(folder: str) -> tuple[str, str]:
    """(scene_name, scene_type) of a list folder: ``kitchen_0028b`` -> (``kitchen_0028``, ``kitchen``);
    ``living_room`` -> (``living_room``, ``living_room``)."""
    name = nyu_scene_name(folder)
    m = re.fullmatch(r"(.*)_\d+", name)
    return name, (m.group(1) if m else name)


def _open_image(path: Path) -> Image.Image:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (listed in the file list; see data_manifests/{MANIFEST}.yaml)")
    return Image.open(path)


class NYUv2Sync(Dataset):
    """RGB + depth frames from a BTS file list, as sample dicts (:mod:`depthstudy.data.sample`).

    Args:
        root: folder the list's paths are relative to (``.../sync`` or ``.../official_splits/test``).
        filelist: path of the list file.
        transform: called on each sample dict.
        max_depth: metres; larger depth readings become 0 (invalid).
        depth_scale: PNG units per metre (1000 = millimetres).

    A sample: ``image`` float32 [3,H,W] in [0,1]; ``depth`` and ``raw_depth`` float32 [1,H,W]
    metres, 0 = invalid; ``semantic`` int64 [H,W] all 255; ``scene``, ``scene_name``,
    ``scene_type``, ``index`` as in the module docstring.
    """

    def __init__(self, root: str | os.PathLike, filelist: str | os.PathLike,
                 transform: Transform | None = None, max_depth: float = 10.0,
                 depth_scale: float = DEPTH_SCALE) -> None:
        if not max_depth > 0 or not depth_scale > 0:
            raise ValueError(f"max_depth and depth_scale must be > 0; got {max_depth}, {depth_scale}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"images root {self.root} not found; see data_manifests/{MANIFEST}.yaml")
        self.entries = read_filelist(filelist)
        self.transform, self.max_depth, self.depth_scale = transform, max_depth, depth_scale
        folders = [e.rgb.split("/")[0] if "/" in e.rgb else "" for e in self.entries]
        self._scenes = [scene_from_folder(f) for f in folders]
        self.scene_names = sorted({name for name, _ in self._scenes})
        self.scene_ids = {name: i for i, name in enumerate(self.scene_names)}
        self.scene_types = sorted({kind for _, kind in self._scenes})

    @property
    def num_scenes(self) -> int:
        return len(self.scene_names)

    @property
    def focal(self) -> list[float | None]:
        """Per-entry focal length from the list (pixels; BTS writes 518.8579 for NYU)."""
        return [e.focal for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def read_depth(self, relpath: str) -> np.ndarray:
        """Depth PNG -> float32 (H,W) metres; holes and readings above ``max_depth`` are 0."""
        path = self.root / relpath
        with _open_image(path) as img:
            if img.mode not in ("I;16", "I;16B", "I;16L", "I"):
                raise ValueError(f"{path}: depth PNG has mode {img.mode!r}; expected a 16-bit single-channel PNG "
                                 f"in units of 1/{self.depth_scale:g} m")
            depth = np.asarray(img).astype(np.float32) / np.float32(self.depth_scale)
        depth[~(depth <= self.max_depth)] = 0.0
        return depth

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} entries")
        i = i % n
        entry = self.entries[i]
        with _open_image(self.root / entry.rgb) as img:
            rgb = np.asarray(img.convert("RGB"))
        depth = self.read_depth(entry.depth)
        if depth.shape != rgb.shape[:2]:
            raise ValueError(f"{entry.rgb} is {rgb.shape[:2]} but {entry.depth} is {depth.shape}; expected equal H x W")
        name, kind = self._scenes[i]
        depth_t = torch.from_numpy(depth)[None]
        sample = {
            "image": torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div_(255.0),
            "depth": depth_t,
            "raw_depth": depth_t.clone(),
            "semantic": torch.full(depth.shape, IGNORE_INDEX, dtype=torch.int64),
            "scene": self.scene_ids[name],
            "scene_name": name,
            "scene_type": kind,
            "index": i,
        }
        return self.transform(sample) if self.transform is not None else sample


def _save_image(path: Path, array: np.ndarray, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def _fixture_folders(n_scenes: int, layout: str) -> list[str]:
    if layout == "test":
        if n_scenes > len(FIXTURE_SCENE_TYPES):
            raise ValueError(f"n_scenes={n_scenes}: the test layout has at most {len(FIXTURE_SCENE_TYPES)} folders")
        return list(FIXTURE_SCENE_TYPES[:n_scenes])
    # kitchen_0001a, kitchen_0001b, bedroom_0002a, ...: a/b parts of one scene
    return [f"{FIXTURE_SCENE_TYPES[(s // 2) % len(FIXTURE_SCENE_TYPES)]}_{s // 2 + 1:04d}{'ab'[s % 2]}"
            for s in range(n_scenes)]


def write_sync_fixture(root: str | os.PathLike, n_scenes: int = 2, frames: int = 3, height: int = 48,
                       width: int = 64, seed: int = 0, layout: str = "sync",
                       list_name: str = "files_with_gt.txt") -> dict[str, Any]:
    """Write a small BTS-layout set under ``root`` and its file list ``root/list_name``.

    ``layout="sync"``: folders ``kitchen_0001a``, ``kitchen_0001b``, ``bedroom_0002a`` ... (a/b
    parts of one scene), files ``rgb_%05d.jpg`` / ``sync_depth_%05d.png`` numbered 0.. per folder,
    lines with a leading slash. ``layout="test"``: folders are scene types, numbers are distinct
    (like labeled indices), lines without the slash.

    Content: a smooth vertical gradient (JPEG keeps it within a few levels) with a white block in
    the top-left quarter of the RGB, depth a left-to-right ramp from
    1000 to 4000 mm, hole (0) at pixel (1, 1) and 12000 mm (beyond 10 m) at pixel (2, 2).
    Returns ``list`` (path), ``lines``, ``folders``, ``images`` (N,H,W,3) uint8 as written (JPEG is
    lossy), ``depth_mm`` (N,H,W) uint16.
    """
    if layout not in ("sync", "test"):
        raise ValueError(f"layout={layout!r}: expected 'sync' or 'test'")
    if n_scenes < 1 or frames < 1 or height < 4 or width < 4:
        raise ValueError(f"n_scenes, frames >= 1 and height, width >= 4 expected; got {n_scenes}, {frames}, "
                         f"{height}, {width}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    folders = _fixture_folders(n_scenes, layout)
    lines, images, depths = [], [], []
    for s, folder in enumerate(folders):
        for j in range(frames):
            number = j if layout == "sync" else 7 * (s * frames + j) + 1
            tint = rng.integers(0, 40, size=3)
            image = (30 + 60 * yy[..., None] / (height - 1) + tint).astype(np.uint8)
            image[: height // 4, : width // 4] = 255
            depth = np.round(1000 + 3000 * xx / (width - 1)).astype(np.uint16)
            depth[1, 1], depth[2, 2] = 0, 12000
            rgb_rel, depth_rel = f"{folder}/rgb_{number:05d}.jpg", f"{folder}/sync_depth_{number:05d}.png"
            _save_image(root / rgb_rel, image, "JPEG")
            _save_image(root / depth_rel, depth, "PNG")
            slash = "/" if layout == "sync" else ""
            lines.append(f"{slash}{rgb_rel} {slash}{depth_rel} {BTS_FOCAL}")
            images.append(image)
            depths.append(depth)
    list_path = write_text(root / list_name, "\n".join(lines))  # BTS lists lack a final newline
    return {"list": list_path, "lines": lines, "folders": folders, "images": np.stack(images),
            "depth_mm": np.stack(depths)}
