"""NYU-Depth V2 labeled set (1449 RGB-D images with dense labels) as the shared sample dict.

Files (in one folder ``root``; URLs, sizes and checksums in ``data_manifests/nyuv2.yaml``):

- ``nyu_depth_v2_labeled.mat``: MATLAB v7.3, i.e. HDF5 behind a 512-byte user block, read with
  h5py. h5py reverses MATLAB's axis order, so ``images`` is (N,3,W,H) and ``depths``,
  ``rawDepths``, ``labels`` are (N,W,H); they are **transposed** back to (H,W), never rotated
  (a rotation mirrors the image, and the evaluation crops are not left-right symmetric).
  Cells of strings (``scenes``, ``sceneTypes``, ``names``) are references to uint16 (len,1)
  arrays of UTF-16 code units, decoded with ``np.asarray(f[ref]).ravel()``.
- ``splits.mat`` (MATLAB v5, ``scipy.io.loadmat``): ``trainNdxs`` 795x1 and ``testNdxs`` 654x1,
  1-based (stored uint16). Needed for ``split="train"|"test"`` only.
- ``classMapping40.mat`` (MATLAB v5): ``mapClass`` 1x894, raw label -> NYU-40. Needed for
  ``classes=40|13|4`` only; 40 -> 13 and 40 -> 4 go through :func:`depthstudy.data.classes.map_nyu40`
  (the same code path as SynthRooms). The file's ``mapToNYUSuperClass`` must agree with
  :data:`depthstudy.data.classes.MAP_40_TO_4`.

The number of images N is read from the file (the fixtures of
:mod:`depthstudy.data.nyu_fixture` hold a handful), never assumed to be 1449.

Decision (raw labels): ``classes=894`` returns the raw labels minus one (0..893). Raw class 256
would then be 255, the usual ignore value, so unlabeled pixels are returned as
:data:`RAW_IGNORE_INDEX` (-1) for 894 classes instead of 255; ``dataset.ignore_index`` holds the
value in use (255 for 40, 13 and 4 classes).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import scipy.io
import torch
from torch.utils.data import Dataset

from .classes import IGNORE_INDEX, MAP_40_TO_4, class_names, map_nyu40
from .manifest import UnknownManifestError, load_manifest

LABELED_FILE = "nyu_depth_v2_labeled.mat"
SPLITS_FILE = "splits.mat"
CLASS_MAPPING_FILE = "classMapping40.mat"

NYU_INTRINSICS = (518.8579, 519.4696, 325.5824, 253.7362)
"""RGB intrinsics (fx, fy, cx, cy) in pixels at the raw 480x640 resolution (NYU toolbox
``camera_params.m``). Use :func:`scale_intrinsics` after resizing."""
NYU_RESOLUTION = (480, 640)
RAW_IGNORE_INDEX = -1
"""Unlabeled pixels for ``classes=894`` (see the module docstring)."""

SPLITS = ("train", "test", "all")
CLASS_SETS = (40, 13, 4, 894)
MANIFEST = "nyuv2"

Transform = Callable[[dict[str, Any]], dict[str, Any]]

__all__ = [
    "CLASS_MAPPING_FILE", "LABELED_FILE", "SPLITS_FILE", "NYU_INTRINSICS", "NYU_RESOLUTION",
    "NYUv2Labeled", "RAW_IGNORE_INDEX", "decode_char_cell",
    "load_class_lut", "load_split_indices", "nyu_scene_name", "scale_intrinsics",
]


def scale_intrinsics(intrinsics: tuple[float, float, float, float], from_hw: tuple[int, int],
                     to_hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """Scale (fx, fy, cx, cy) for a resize from ``from_hw`` to ``to_hw`` (height, width).

    fx, cx scale by the width ratio and fy, cy by the height ratio (a plain resize, no crop).
    """
    fx, fy, cx, cy = intrinsics
    sy, sx = to_hw[0] / from_hw[0], to_hw[1] / from_hw[1]
    return (fx * sx, fy * sy, cx * sx, cy * sy)


def nyu_scene_name(raw: str) -> str:
    """Scene instance of a raw NYU scene folder: ``kitchen_0028b`` -> ``kitchen_0028``.

    Only a single trailing lowercase letter after ``_<digits>`` is removed; other names are kept.
    """
    m = re.fullmatch(r"(.*_\d+)[a-z]", raw)
    return m.group(1) if m else raw


def decode_char_cell(f: h5py.File, name: str) -> list[str]:
    """Decode a MATLAB cell of char rows stored in a v7.3 file (references into ``#refs#``)."""
    refs = np.asarray(f[name]).ravel()
    out = []
    for ref in refs:
        target = f[ref]
        if "MATLAB_empty" in target.attrs:
            out.append("")
            continue
        codes = np.asarray(target).ravel()
        if codes.dtype.kind not in "ui":
            raise ValueError(f"variable {name!r}: a cell entry holds {codes.dtype} data; expected uint16 char codes")
        out.append("".join(map(chr, codes.tolist())))
    return out


def _loadmat(path: Path) -> dict[str, Any]:
    """``scipy.io.loadmat``; an empty, truncated or non-MATLAB file raises ``ValueError`` naming it."""
    try:
        return scipy.io.loadmat(path)
    except Exception as err:  # scipy raises MatReadError, ValueError, IndexError, TypeError ... for bad bytes
        raise ValueError(f"{path} ({path.stat().st_size} bytes): cannot be read as a MATLAB v5 .mat file "
                         f"({type(err).__name__}: {str(err)[:120]}); is it empty, truncated or an HTML error "
                         f"page? Check it with `depthstudy data verify {MANIFEST} --root {path.parent}` and "
                         "download it again") from err


def load_split_indices(path: str | os.PathLike, split: str, num_images: int) -> np.ndarray:
    """0-based labeled indices of ``split`` ("train" or "test") from ``splits.mat``.

    The file's ``trainNdxs``/``testNdxs`` are 1-based column vectors (uint16 as stored); every
    index must lie in 1..``num_images``. Each split must be non-empty and free of repeats, and the
    two must not share an index (a training set holding test images is refused, Decision X13).
    """
    path = Path(path)
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: expected 'train' or 'test'")
    mat = _loadmat(path)
    found = {name: _split_vector(mat, path, name, num_images) for name in ("train", "test")
             if name == split or _SPLIT_KEYS[name] in mat}
    if len(found) == 2:
        shared = np.intersect1d(found["train"], found["test"])
        if shared.size:
            raise ValueError(f"{path}: 'trainNdxs' and 'testNdxs' share {shared.size} indices (e.g. "
                             f"{(shared[:5] + 1).tolist()}); the train and test splits must be disjoint")
    return found[split]


_SPLIT_KEYS = {"train": "trainNdxs", "test": "testNdxs"}


def _split_vector(mat: dict[str, Any], path: Path, split: str, num_images: int) -> np.ndarray:
    """0-based indices of one split of a loaded ``splits.mat``, checked (see load_split_indices)."""
    key = _SPLIT_KEYS[split]
    if key not in mat:
        raise ValueError(f"{path.name}: variable {key!r} is missing; expected a Kx1 column vector "
                         "of 1-based indices (795x1 trainNdxs, 654x1 testNdxs in the real file)")
    vec = np.asarray(mat[key])
    if vec.ndim != 2 or 1 not in vec.shape or vec.dtype.kind not in "uif":
        raise ValueError(f"{path.name}: variable {key!r} has shape {vec.shape} and dtype {vec.dtype}; "
                         "expected a numeric (K, 1) column vector")
    flat = vec.ravel()
    idx = flat.astype(np.int64)
    if not np.array_equal(idx, flat):
        raise ValueError(f"{path.name}: variable {key!r} holds non-integer indices")
    if idx.size == 0:
        raise ValueError(f"{path}: variable {key!r} is empty; expected the 1-based indices of the {split} images")
    if idx.min() < 1 or idx.max() > num_images:
        raise ValueError(f"{path.name}: variable {key!r} holds indices {idx.min()}..{idx.max()}; expected "
                         f"1-based indices within 1..{num_images} (the labeled file holds {num_images} images)")
    values, counts = np.unique(idx, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{path}: variable {key!r} repeats {int((counts > 1).sum())} indices (e.g. "
                         f"{values[counts > 1][:5].tolist()}); each image may appear once in a split")
    return idx - 1


def load_class_lut(path: str | os.PathLike, num_names: int) -> np.ndarray:
    """Look-up table raw label -> 1-based NYU-40 (entry 0 = unlabeled = 0), int64 (num_names+1,).

    Reads ``mapClass`` (1 x num_names, values 1..40) from ``classMapping40.mat`` and checks that
    ``mapToNYUSuperClass``, if present, equals :data:`~depthstudy.data.classes.MAP_40_TO_4`.
    """
    path = Path(path)
    mat = _loadmat(path)
    if "mapClass" not in mat:
        raise ValueError(f"{path.name}: variable 'mapClass' is missing; expected shape (1, {num_names})")
    map_class = np.asarray(mat["mapClass"])
    if map_class.shape != (1, num_names):
        raise ValueError(f"{path.name}: variable 'mapClass' has shape {map_class.shape}; expected "
                         f"(1, {num_names}) (one NYU-40 class per entry of the labeled file's 'names')")
    flat = map_class.ravel().astype(np.int64)
    if flat.min() < 1 or flat.max() > 40:
        raise ValueError(f"{path.name}: variable 'mapClass' holds values {flat.min()}..{flat.max()}; expected 1..40")
    if "mapToNYUSuperClass" in mat:
        sup = np.asarray(mat["mapToNYUSuperClass"])
        if sup.shape != (1, 40) or not np.array_equal(sup.ravel().astype(np.int64), MAP_40_TO_4):
            raise ValueError(f"{path.name}: variable 'mapToNYUSuperClass' (shape {sup.shape}) differs from "
                             "depthstudy.data.classes.MAP_40_TO_4; expected the 1x40 vector of the real file")
    return np.concatenate([[0], flat])


def _missing_file(root: Path, filename: str) -> FileNotFoundError:
    where = f"data_manifests/{MANIFEST}.yaml"
    try:
        entries = {e["name"]: e for e in load_manifest(MANIFEST)["files"]}
        url = entries[filename]["url"]
        source = f"download it from {url}"
    except (UnknownManifestError, KeyError):  # an install without data_manifests/
        source = "download it from the NYU-Depth V2 page https://cs.nyu.edu/~silberman/datasets/nyu_depth_v2.html"
    return FileNotFoundError(
        f"{root / filename} not found. {filename!r} is listed in {where}; {source} into {root} "
        f"(or run `depthstudy data fetch {MANIFEST} --root {root}`)."
    )


def _expect_shape(f: h5py.File, name: str, shape: tuple[int, ...], meaning: str) -> None:
    if name not in f:
        raise ValueError(f"{LABELED_FILE}: variable {name!r} is missing; expected shape {shape} ({meaning})")
    got = tuple(f[name].shape)
    if got != shape:
        raise ValueError(f"{LABELED_FILE}: variable {name!r} has shape {got}; expected {shape} ({meaning})")


class NYUv2Labeled(Dataset):
    """The labeled NYU-Depth V2 set as sample dicts (:mod:`depthstudy.data.sample`).

    Args:
        root: folder holding ``nyu_depth_v2_labeled.mat`` (+ ``splits.mat``, ``classMapping40.mat``).
        split: "train" (``trainNdxs``), "test" (``testNdxs``) or "all" (every image, in file order).
        classes: 40, 13 or 4 (via NYU-40) or 894 (raw labels, see module docstring).
        transform: called on each sample dict; returns a sample dict.

    A sample: ``image`` float32 [3,H,W] in [0,1]; ``depth`` the in-painted ``depths`` in metres
    [1,H,W]; ``raw_depth`` ``rawDepths`` [1,H,W] (0 = hole); ``semantic`` int64 [H,W];
    ``scene`` id into :attr:`scene_names`; ``scene_name`` (suffix letter removed);
    ``scene_type``; ``index`` the 0-based labeled index.

    The HDF5 file is opened on the first ``__getitem__`` in each process (DataLoader workers fork),
    so a dataset built in the parent is safe to use in workers. Nothing on disk is modified.
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", classes: int = 40,
                 transform: Transform | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"split={split!r}: expected one of {SPLITS}")
        if classes not in CLASS_SETS:
            raise ValueError(f"classes={classes!r}: expected one of {CLASS_SETS}")
        self.root = Path(root)
        self.split, self.classes, self.transform = split, classes, transform
        self.labeled_path = self._require(LABELED_FILE)
        self._read_metadata()
        if split == "all":
            self.indices = np.arange(self.num_images, dtype=np.int64)
        else:
            self.indices = load_split_indices(self._require(SPLITS_FILE), split, self.num_images)
        self._lut = None if classes == 894 else load_class_lut(self._require(CLASS_MAPPING_FILE), len(self.names))
        self.ignore_index = RAW_IGNORE_INDEX if classes == 894 else IGNORE_INDEX
        self._h5: h5py.File | None = None
        self._h5_pid: int | None = None

    def _require(self, filename: str) -> Path:
        path = self.root / filename
        if not path.is_file():
            raise _missing_file(self.root, filename)
        return path

    def _read_metadata(self) -> None:
        try:
            f = h5py.File(self.labeled_path, "r")
        except OSError as err:
            raise ValueError(f"{self.labeled_path}: not a MATLAB v7.3 (HDF5) file ({err}); is the download "
                             f"complete? Check it with `depthstudy data verify {MANIFEST} --root {self.root}`") from err
        with f:
            if "images" not in f:
                raise ValueError(f"{LABELED_FILE}: variable 'images' is missing; expected shape (N, 3, W, H)")
            shape = tuple(f["images"].shape)
            if len(shape) != 4 or shape[1] != 3:
                raise ValueError(f"{LABELED_FILE}: variable 'images' has shape {shape}; expected (N, 3, W, H) "
                                 "(h5py order of MATLAB's HxWx3xN, e.g. (1449, 3, 640, 480))")
            n, _, w, h = shape
            for name in ("depths", "rawDepths", "labels"):
                _expect_shape(f, name, (n, w, h), "h5py order of MATLAB's HxWxN, like 'images'")
            for name in ("scenes", "sceneTypes"):
                _expect_shape(f, name, (1, n), "a MATLAB Nx1 cell, one entry per image")
            if "names" not in f or f["names"].ndim != 2 or f["names"].shape[0] != 1:
                got = tuple(f["names"].shape) if "names" in f else "missing"
                raise ValueError(f"{LABELED_FILE}: variable 'names' is {got}; expected shape (1, 894) (a 894x1 cell)")
            self.num_images, self.height, self.width = n, h, w
            raw_scenes = decode_char_cell(f, "scenes")
            self.image_scene_types = decode_char_cell(f, "sceneTypes")
            self.names = decode_char_cell(f, "names")
        self.image_scene_names = [nyu_scene_name(s) for s in raw_scenes]
        self.scene_names = sorted(set(self.image_scene_names))
        self.scene_ids = {name: i for i, name in enumerate(self.scene_names)}
        self.scene_types = sorted(set(self.image_scene_types))

    @property
    def num_scenes(self) -> int:
        """Number of scene instances (after merging a/b parts) over the whole file."""
        return len(self.scene_names)

    @property
    def intrinsics(self) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy): :data:`NYU_INTRINSICS` scaled to the file's H x W (identity for 480x640).

        A transform that resizes must rescale these itself with :func:`scale_intrinsics`.
        """
        return scale_intrinsics(NYU_INTRINSICS, NYU_RESOLUTION, (self.height, self.width))

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names indexed by the 0-based ids of ``semantic``."""
        return tuple(self.names) if self.classes == 894 else class_names(self.classes)

    def __len__(self) -> int:
        return len(self.indices)

    def _file(self) -> h5py.File:
        pid = os.getpid()
        if self._h5 is None or self._h5_pid != pid:
            self._h5, self._h5_pid = h5py.File(self.labeled_path, "r"), pid
        return self._h5

    def close(self) -> None:
        """Close this process's HDF5 handle (it reopens on the next access)."""
        if self._h5 is not None and self._h5_pid == os.getpid():
            self._h5.close()
        self._h5, self._h5_pid = None, None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5"], state["_h5_pid"] = None, None
        return state

    def semantic_from_raw(self, labels: np.ndarray) -> np.ndarray:
        """Map raw labels (0 = unlabeled, 1..894) of any shape to 0-based ``classes`` ids (int64)."""
        labels = np.asarray(labels).astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() > len(self.names)):
            raise ValueError(f"{LABELED_FILE}: variable 'labels' holds values {labels.min()}..{labels.max()}; "
                             f"expected 0..{len(self.names)} (0 = unlabeled)")
        if self._lut is None:
            return np.where(labels == 0, RAW_IGNORE_INDEX, labels - 1)
        return map_nyu40(self._lut[labels], self.classes)

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} images (split={self.split!r})")
        k = int(self.indices[i])
        f = self._file()
        image = np.asarray(f["images"][k]).transpose(0, 2, 1)
        depth = np.asarray(f["depths"][k], dtype=np.float32).T
        raw = np.asarray(f["rawDepths"][k], dtype=np.float32).T
        labels = np.asarray(f["labels"][k]).T
        name = self.image_scene_names[k]
        sample = {
            "image": torch.from_numpy(np.ascontiguousarray(image)).float().div_(255.0),
            "depth": torch.from_numpy(np.ascontiguousarray(depth))[None],
            "raw_depth": torch.from_numpy(np.ascontiguousarray(raw))[None],
            "semantic": torch.from_numpy(np.ascontiguousarray(self.semantic_from_raw(labels))),
            "scene": self.scene_ids[name],
            "scene_name": name,
            "scene_type": self.image_scene_types[k],
            "index": k,
        }
        return self.transform(sample) if self.transform is not None else sample

    def __repr__(self) -> str:
        return (f"NYUv2Labeled(root={str(self.root)!r}, split={self.split!r}, classes={self.classes}, "
                f"images={len(self)}/{self.num_images}, size={self.height}x{self.width})")
