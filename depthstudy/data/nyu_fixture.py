"""Write small NYU-Depth V2 files in exactly the real on-disk layout (tests and pipeline trials).

The real ``nyu_depth_v2_labeled.mat`` is 2.8 GB; these writers produce a few-kilobyte file with
the same structure (the variables, shapes and dtypes the reader expects), so every code path of
:class:`depthstudy.data.nyuv2.NYUv2Labeled` runs without the real data:

- a 512-byte MATLAB user block beginning ``MATLAB 7.3 MAT-file`` in front of the HDF5 data;
- numeric variables in h5py axis order (MATLAB's reversed): ``images`` (N,3,W,H) uint8,
  ``depths``/``rawDepths`` (N,W,H) single, ``labels`` (N,W,H) uint16, ``instances`` (N,W,H)
  uint8, ``accelData`` (4,N) single, each with its ``MATLAB_class`` attribute;
- cells of strings (``names`` (1,894), ``scenes``, ``sceneTypes``, ``rawRgbFilenames``,
  ``rawDepthFilenames`` (1,N)) as object references into ``#refs#``, whose targets are uint16
  (len,1) arrays with ``MATLAB_class='char'`` and ``MATLAB_int_decode=2``.

The content is synthetic but carries a known asymmetric pattern so a reader that rotates
instead of transposing fails the tests: a white block in the top-left quarter of each image
whose raw label maps to NYU-40 ``bed``, a depth ramp increasing left to right, the bottom row
unlabeled (0), and ``rawDepths`` = ``depths`` + 0.01 m with holes (0).

``splits.mat`` and ``classMapping40.mat`` are MATLAB v5 files written with ``scipy.io.savemat``.
The 894 -> 40 mapping of the fixture has the real one's statistics (each of classes 1..37 takes
one name; otherstructure 68, otherfurniture 82, otherprop 707) in a fixed shuffled order; it is
not the real name list.
"""

from __future__ import annotations

import os
import string
from itertools import count, product
from pathlib import Path
from typing import Any, Iterator, Sequence

import h5py
import numpy as np
import scipy.io

from ..io import atomic_path
from .classes import MAP_40_TO_4, NYU40_NAMES
from .nyuv2 import CLASS_MAPPING_FILE, LABELED_FILE, SPLITS_FILE

NUM_RAW_CLASSES = 894
FIXTURE_SCENE_TYPES = ("kitchen", "bedroom", "living_room", "office", "bathroom")
FIXTURE_DEPTH_OFFSET = 0.01
"""``rawDepths`` of the fixture = ``depths`` + this (metres) outside the holes."""

_USERBLOCK = 512
_HEADER_TEXT = ("MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2015 "
                "HDF5 schema 1.00 .")

__all__ = [
    "fixture_class_table", "fixture_scene_names",
    "write_class_mapping_fixture", "write_fixture_root", "write_labeled_fixture",
    "write_splits_fixture",
]


def fixture_class_table() -> tuple[list[str], np.ndarray]:
    """The fixture's 894 raw class names and its ``mapClass`` (894,) uint8 with values 1..40.

    Deterministic. Names of the 37 single-name classes are the NYU-40 names; the others are
    ``"<nyu40 name>_<k>"``.
    """
    counts = np.ones(40, dtype=np.int64)
    counts[37:] = (68, 82, 707)
    targets = np.repeat(np.arange(1, 41), counts)
    map_class = targets[np.random.default_rng(NUM_RAW_CLASSES).permutation(NUM_RAW_CLASSES)]
    seen: dict[int, int] = {}
    names = []
    for c in map_class:
        seen[c] = seen.get(c, 0) + 1
        base = NYU40_NAMES[c - 1]
        names.append(base if counts[c - 1] == 1 else f"{base}_{seen[c]:03d}")
    return names, map_class.astype(np.uint8)


def fixture_scene_names(n_images: int) -> list[str]:
    """Raw scene names of the fixture: pairs of images per scene, every other scene split a/b.

    For 6 images: kitchen_0001a, kitchen_0001b, bedroom_0002, bedroom_0002, living_room_0003a,
    living_room_0003b.
    """
    names = []
    for i in range(n_images):
        s = i // 2
        suffix = ("a" if i % 2 == 0 else "b") if s % 2 == 0 else ""
        names.append(f"{FIXTURE_SCENE_TYPES[s % len(FIXTURE_SCENE_TYPES)]}_{s + 1:04d}{suffix}")
    return names


def _ref_keys() -> Iterator[str]:
    """MATLAB-like ``#refs#`` member names: a..z, ba..zz, baa..."""
    letters = string.ascii_lowercase
    for width in count(1):
        for combo in product(letters, repeat=width):
            if width == 1 or combo[0] != "a":
                yield "".join(combo)


def _set_class(obj: h5py.HLObject, matlab_class: str) -> None:
    obj.attrs.create("MATLAB_class", np.bytes_(matlab_class))


def _write_cell(f: h5py.File, keys: Iterator[str], name: str, texts: Sequence[str]) -> None:
    """A MATLAB Nx1 cell of char rows: (1, N) references to uint16 (len, 1) arrays."""
    refs = f.require_group("#refs#")
    cell = f.create_dataset(name, shape=(1, len(texts)), dtype=h5py.ref_dtype)
    for i, text in enumerate(texts):
        if not text:
            raise ValueError(f"cell {name!r} entry {i} is empty; the fixture writer needs non-empty strings")
        ds = refs.create_dataset(next(keys), data=np.array([ord(c) for c in text], dtype=np.uint16)[:, None])
        _set_class(ds, "char")
        ds.attrs.create("MATLAB_int_decode", np.int32(2))
        cell[0, i] = ds.ref
    _set_class(cell, "cell")


def _write_numeric(f: h5py.File, name: str, data: np.ndarray, matlab_class: str) -> None:
    _set_class(f.create_dataset(name, data=data), matlab_class)


def _write_matlab_header(path: Path) -> None:
    header = _HEADER_TEXT.ljust(116).encode("ascii") + b" " * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header)


def _make_content(n: int, h: int, w: int, seed: int, map_class: np.ndarray) -> dict[str, np.ndarray]:
    """Arrays in natural (N,H,W[,3]) orientation."""
    rng = np.random.default_rng(seed)
    bh, bw = max(1, h // 4), max(1, w // 4)
    bed_label = int(np.flatnonzero(map_class == NYU40_NAMES.index("bed") + 1)[0]) + 1
    yy, xx = np.mgrid[0:h, 0:w]
    images = np.empty((n, h, w, 3), dtype=np.uint8)
    depths = np.empty((n, h, w), dtype=np.float32)
    labels = rng.integers(1, NUM_RAW_CLASSES + 1, size=(n, h, w)).astype(np.uint16)
    for i in range(n):
        for c in range(3):
            images[i, :, :, c] = (20 + 60 * yy / max(h - 1, 1) + 40 * c + 5 * i).astype(np.uint8)
        images[i, :bh, :bw] = 255
        depths[i] = 1.0 + 3.0 * xx / max(w - 1, 1) + 0.5 * i / n
    labels[:, :bh, :bw] = bed_label
    labels[:, 0, -1] = 256  # 0-based raw class 255 must stay distinct from the ignore value
    labels[:, -1, :] = 0
    raw = depths + np.float32(FIXTURE_DEPTH_OFFSET)
    raw[rng.random(raw.shape) < 0.1] = 0.0
    return {
        "images": images, "depths": depths, "raw_depths": raw.astype(np.float32), "labels": labels,
        "instances": rng.integers(0, 8, size=(n, h, w)).astype(np.uint8),
        "accel": rng.normal(size=(n, 4)).astype(np.float32),
        "bed_label": np.int64(bed_label), "block": np.array([bh, bw]),
    }


def _raw_filenames(scenes: Sequence[str], prefix: str, ext: str) -> list[str]:
    """Raw-frame names like ``kitchen_0001a/d-1300000000.000000-0.pgm``."""
    return [f"{s}/{prefix}-{1300000000 + i}.000000-{i}.{ext}" for i, s in enumerate(scenes)]


def write_labeled_fixture(path: str | os.PathLike, n_images: int = 6, height: int = 48,
                          width: int = 64, seed: int = 0) -> dict[str, Any]:
    """Write a small ``nyu_depth_v2_labeled.mat`` in the real v7.3 layout.

    Returns the written content in natural orientation: ``images`` (N,H,W,3) uint8, ``depths``
    and ``raw_depths`` (N,H,W) float32 metres, ``labels`` (N,H,W) uint16 raw 0..894,
    ``instances`` (N,H,W), ``accel`` (N,4), ``scenes``/``scene_types``/``names`` lists,
    ``bed_label`` (the raw label of the top-left block), ``block`` (its height, width), ``path``.
    """
    if n_images < 1 or height < 2 or width < 2:
        raise ValueError(f"n_images >= 1, height >= 2, width >= 2 expected; got {n_images}, {height}, {width}")
    names, map_class = fixture_class_table()
    content = _make_content(n_images, height, width, seed, map_class)
    scenes = fixture_scene_names(n_images)
    scene_types = [s.rsplit("_", 1)[0] for s in scenes]
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=_USERBLOCK) as f:
            keys = _ref_keys()
            _write_numeric(f, "accelData", content["accel"].T, "single")
            _write_numeric(f, "depths", content["depths"].transpose(0, 2, 1), "single")
            _write_numeric(f, "images", content["images"].transpose(0, 3, 2, 1), "uint8")
            _write_numeric(f, "instances", content["instances"].transpose(0, 2, 1), "uint8")
            _write_numeric(f, "labels", content["labels"].transpose(0, 2, 1), "uint16")
            _write_cell(f, keys, "names", names)
            _write_cell(f, keys, "rawDepthFilenames", _raw_filenames(scenes, "d", "pgm"))
            _write_numeric(f, "rawDepths", content["raw_depths"].transpose(0, 2, 1), "single")
            _write_cell(f, keys, "rawRgbFilenames", _raw_filenames(scenes, "r", "ppm"))
            _write_cell(f, keys, "sceneTypes", scene_types)
            _write_cell(f, keys, "scenes", scenes)
        _write_matlab_header(tmp)
    content.update(scenes=scenes, scene_types=scene_types, names=names, path=path)
    return content


def _savemat(path: Path, variables: dict[str, Any]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        scipy.io.savemat(fh, variables, format="5", oned_as="column", do_compression=True)
    return path


def write_splits_fixture(path: str | os.PathLike, train: Sequence[int], test: Sequence[int]) -> Path:
    """Write ``splits.mat``: ``trainNdxs``/``testNdxs`` as uint16 column vectors.

    ``train`` and ``test`` are **1-based** labeled indices, written exactly as given (as in the
    real file, whose stored class is uint16).
    """
    return _savemat(Path(path), {
        "trainNdxs": np.asarray(train, dtype=np.uint16).reshape(-1, 1),
        "testNdxs": np.asarray(test, dtype=np.uint16).reshape(-1, 1),
    })


def _cell_row(texts: Sequence[str]) -> np.ndarray:
    cell = np.empty((1, len(texts)), dtype=object)
    cell[0, :] = list(texts)
    return cell


def write_class_mapping_fixture(path: str | os.PathLike) -> Path:
    """Write ``classMapping40.mat`` with the fixture's ``mapClass`` and the real 40 -> 4 vector.

    Variables: ``className`` 1x40 cell, ``mapClass`` 1x894 uint8, ``allClassName`` 1x894 cell,
    ``mapToNYUSuperClass`` 1x40 uint8, ``mapToNYUSuperClassMat`` 4x40 uint8 one-hot.
    """
    names, map_class = fixture_class_table()
    one_hot = np.zeros((4, 40), dtype=np.uint8)
    one_hot[MAP_40_TO_4 - 1, np.arange(40)] = 1
    return _savemat(Path(path), {
        "className": _cell_row(NYU40_NAMES),
        "mapClass": map_class.reshape(1, -1),
        "allClassName": _cell_row(names),
        "mapToNYUSuperClass": MAP_40_TO_4.astype(np.uint8).reshape(1, -1),
        "mapToNYUSuperClassMat": one_hot,
    })


def write_fixture_root(root: str | os.PathLike, n_images: int = 6, height: int = 48,
                       width: int = 64, seed: int = 0) -> dict[str, Any]:
    """Write the three NYU files into ``root``; return the labeled content plus the splits.

    Split: 1-based index i is a test image when (i - 1) % 4 is 0 or 1 (so 1, 2, 5, 6, ... as the
    real list starts 1, 2, 9, ...), otherwise a training image. Extra keys: ``train`` and
    ``test`` (1-based int64 arrays) and ``root``.
    """
    root = Path(root)
    content = write_labeled_fixture(root / LABELED_FILE, n_images, height, width, seed)
    one_based = np.arange(1, n_images + 1)
    is_test = (one_based - 1) % 4 < 2
    content.update(train=one_based[~is_test], test=one_based[is_test], root=root)
    write_splits_fixture(root / SPLITS_FILE, content["train"], content["test"])
    write_class_mapping_fixture(root / CLASS_MAPPING_FILE)
    return content
