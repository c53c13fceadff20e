"""Datasets by profile: one call gives the train or test set a study notebook needs.

NYU-Depth V2 (profile ``dataset == "nyuv2"``):

- test: the 654 labeled images; ``image`` and ``semantic`` are resized to the network
  resolution, ``depth`` and ``raw_depth`` keep their 480x640 (Decision D1). The protocol then
  decides where depth is scored (:func:`evaluation_resolution`, Decisions D1, D2).
- train, ``family="jiao"``: the 795 labeled images with :func:`~depthstudy.data.transforms.jiao_augmentation`
  (Decision D4).
- train, ``family="cliffnet"``: frames sampled from the BTS ``sync`` layout when
  ``profile.nyu_sync_root`` is set (:func:`sample_sync_frames`, Decision D5), else the 795
  labeled images (Decision D6); both with :func:`~depthstudy.data.transforms.cliffnet_augmentation`
  (Decision D3).

SynthRooms profiles render both splits at the network resolution for every family, without
augmentation (the CPU studies and their regression baselines stay as they are).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..metrics.protocols import get_protocol
from ..profiles import Profile

FAMILIES = ("jiao", "cliffnet")
SPLITS = ("train", "test", "val", "pretrain")
"""Dataset splits; ``val`` and ``pretrain`` exist for SynthRooms only (Decisions S11, S12)."""
SYNC_IMAGES = "sync"
SYNC_LIST = "nyudepthv2_train_files_with_gt.txt"
SYNC_SAMPLE_SEED = 0
"""Seed of the frame sample: fixed, so every training seed and the HEGs see the same frames."""


def build_dataset(profile: Profile, split: str, *, classes: int = 40, transform: Callable | None = None,
                  family: str = "jiao", network_gt: bool = False, **options: Any):
    """The ``split`` (one of :data:`SPLITS`) dataset of ``profile`` in the common sample format.

    ``family`` ("jiao" | "cliffnet") picks the NYU training set and augmentation of that paper's
    studies (module docstring); a ``transform`` given here replaces the default one.
    ``network_gt=True`` resizes the NYU test ground truth with the image (for analyses that compare
    maps pixel by pixel with a prediction: attention maps, loss gradients, the ``network`` rows of
    the protocol study); SynthRooms is always at the network resolution.
    """
    if family not in FAMILIES:
        raise ValueError(f"family={family!r}: expected one of {FAMILIES}")
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    scenes = getattr(profile, f"{split}_scenes")
    if split in ("val", "pretrain") and not (profile.dataset == "synthrooms" and scenes > 0):
        raise ValueError(f"profile {profile.name!r} has no {split!r} split: it needs dataset synthrooms and "
                         f"{split}_scenes > 0 (got {profile.dataset}, {scenes}); "
                         "NYU budgets follow the papers' schedules (Decisions S11, S12)")
    if profile.dataset == "synthrooms":
        from .synthrooms import SynthRooms

        kw = {**profile.synthrooms_options(), **options}
        return SynthRooms(split, classes=classes, transform=transform, **kw)
    if profile.dataset == "nyuv2":
        return _nyu_dataset(profile, split, classes, transform, family, network_gt, options)
    raise ValueError(f"profile {profile.name!r}: unknown dataset {profile.dataset!r}; expected synthrooms or nyuv2")


def _nyu_dataset(profile: Profile, split: str, classes: int, transform: Callable | None, family: str,
                 network_gt: bool, options: dict[str, Any]):
    from .nyuv2 import NYUv2Labeled
    from .transforms import Resize, cliffnet_augmentation, jiao_augmentation

    if split == "train" and family == "cliffnet":
        transform = transform or cliffnet_augmentation(profile.height)
        if profile.nyu_sync_root:
            return sample_sync_frames(profile.nyu_sync_root, profile.nyu_train_frames, transform=transform)
    if not profile.nyu_root:
        raise ValueError(
            f"profile {profile.name!r} needs the NYU-Depth V2 folder: set DEPTHSTUDY_NYU_ROOT or pass "
            "nyu_root=... (files: see data_manifests/nyuv2.yaml; `depthstudy data fetch nyuv2 --root DIR`)"
        )
    if transform is None and split == "train":
        transform = jiao_augmentation(profile.height, profile.width)
    elif transform is None:
        keys = ("image", "depth", "raw_depth", "semantic") if network_gt else ("image", "semantic")
        transform = Resize(profile.height, profile.width, keys=keys)
    return NYUv2Labeled(profile.nyu_root, split=split, classes=classes, transform=transform, **options)


class SyncFrames(torch.utils.data.Dataset):
    """Frames ``indices`` of a :class:`~depthstudy.data.bts.NYUv2Sync` set, with per-item scene data.

    Attributes (the SynthRooms interface the CLIFFNet studies read): ``scene_ids`` scene-instance
    id per item (into ``scene_names``), ``item_scene_types`` scene type per item, ``num_scenes``,
    ``indices`` the list lines used (0-based). Samples are those of the underlying set.
    """

    def __init__(self, sync, indices: Sequence[int]):
        self.sync, self.indices = sync, [int(i) for i in indices]
        scenes = [sync.scene_of(i) for i in self.indices]
        self.scene_names = sync.scene_names
        self.scene_ids = [sync.scene_ids[name] for name, _ in scenes]
        self.item_scene_types = [kind for _, kind in scenes]
        self.num_scenes = len(set(self.scene_ids))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.sync[self.indices[i]]

    def __repr__(self) -> str:
        return f"SyncFrames({len(self)} of {len(self.sync)} frames, {self.num_scenes} scenes, root={self.sync.root})"


def sample_sync_frames(root: str | Path, frames: int, transform: Callable | None = None) -> SyncFrames:
    """``frames`` training frames drawn without replacement from the BTS sync list under ``root``.

    ``root`` holds ``sync/<scene>/...`` and ``nyudepthv2_train_files_with_gt.txt``
    (``data_manifests/nyuv2_bts.yaml``). The draw is uniform over the list's frames with the
    fixed :data:`SYNC_SAMPLE_SEED`, returned in list order; when the list holds no more than
    ``frames`` frames, all of them are used (the BTS list has 24,231, Decision D5).
    """
    from .bts import NYUv2Sync

    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"nyu_train_frames={frames!r}: expected a positive number of training frames")
    root = Path(root)
    sync = NYUv2Sync(root / SYNC_IMAGES, root / SYNC_LIST, transform=transform)
    n = len(sync)
    if n <= frames:
        return SyncFrames(sync, range(n))
    chosen = np.random.default_rng(SYNC_SAMPLE_SEED).choice(n, size=frames, replace=False)
    return SyncFrames(sync, sorted(chosen.tolist()))


def _size(hw: Sequence[int]) -> str:
    return f"{hw[0]}x{hw[1]}"


def evaluation_resolution(profile: Profile, protocol: str) -> dict[str, str]:
    """Where a profile's test set is scored under ``protocol`` (sizes as ``"HxW"``).

    ``input``: the network input; ``depth``: where depth metrics are computed (NYU: the 480x640
    ground truth for the ``pred_to_gt`` protocols, the network resolution for ``cliffnet``,
    which resizes the ground truth to the prediction, Decision D2); ``semantic``: where mIoU is
    computed (the network resolution, labels resized nearest, Decision D7). A name that is not a
    depth protocol (e.g. ``heg_validation``) gives ``depth`` = the network resolution.
    """
    from .nyuv2 import NYU_RESOLUTION

    network = _size((profile.height, profile.width))
    depth = network
    if profile.dataset == "nyuv2":
        try:
            pred_to_gt = get_protocol(protocol).resize == "pred_to_gt"
        except ValueError:
            pred_to_gt = False
        depth = _size(NYU_RESOLUTION) if pred_to_gt else network
    return {"input": network, "depth": depth, "semantic": network}
