"""Datasets by profile: one call gives the train or test set a study notebook needs."""

from __future__ import annotations

from typing import Any, Callable

from ..profiles import Profile


def build_dataset(profile: Profile, split: str, *, classes: int = 40,
                  transform: Callable | None = None, **options: Any):
    """The ``split`` ("train" | "test") dataset of ``profile`` in the common sample format.

    SynthRooms profiles generate (or load from cache) at the profile's resolution. The ``nyu``
    profile reads the labeled NYU-Depth V2 set (795/654) from ``profile.nyu_root`` and resizes
    to the profile's network resolution with :class:`~depthstudy.data.transforms.Resize` unless a
    ``transform`` is given.
    """
    if profile.dataset == "synthrooms":
        from .synthrooms import SynthRooms

        kw = {**profile.synthrooms_options(), **options}
        return SynthRooms(split, classes=classes, transform=transform, **kw)
    if profile.dataset == "nyuv2":
        from .nyuv2 import NYUv2Labeled
        from .transforms import Resize

        if not profile.nyu_root:
            raise ValueError(
                "profile 'nyu' needs the NYU-Depth V2 folder: set DEPTHSTUDY_NYU_ROOT or pass "
                "nyu_root=... (files: see data_manifests/nyuv2.yaml; `depthstudy data fetch nyuv2 --root DIR`)"
            )
        if transform is None:
            transform = Resize(profile.height, profile.width)
        return NYUv2Labeled(profile.nyu_root, split=split, classes=classes, transform=transform, **options)
    raise ValueError(f"profile {profile.name!r}: unknown dataset {profile.dataset!r}; expected synthrooms or nyuv2")
