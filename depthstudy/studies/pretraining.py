"""The SynthRooms stand-in for ImageNet pre-training (Decision S12).

Both papers start their depth networks from an ImageNet-trained ResNet. ImageNet cannot be used
offline and its weights exist only at width 1, so profiles with ``pretrained="synthrooms"`` start
every ResNet-based model (CLIFFNet, FCRN, the synergy network, the structure-study stems) from a
trunk trained **once** on a task that is not depth: 40-class semantic segmentation from RGB of
``profile.pretrain_scenes`` SynthRooms scenes that belong to no other split (ids after the
validation scenes). The HEGs and the plain encoder-decoder stay randomly initialised, as in the
papers.

The pre-training run is an ordinary keyed run (:func:`depthstudy.experiment.run_dir`, study
``pretraining``, seed 0, ``profile.pretrain_steps`` iterations): the structure study's
single-task semantic network with the profile's ResNet as its stem, trained with cross entropy.
Its trunk is saved in torchvision layout as ``trunk.pt`` in the run folder; the path holds the
run's key, so every run that loads it is keyed by it (Decision X30). The first model that needs
the trunk trains it under the run's lock; a second process waits and reuses it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .. import experiment
from ..data.factory import build_dataset
from ..experiment import Variant
from ..profiles import Profile

PRETRAIN_STUDY = "pretraining"
PRETRAIN_SOURCE = "synthrooms"
TRUNK_FILE = "trunk.pt"
CLASSES = 40
SEED = 0
HEAD_WIDTH = 32
"""Channels of the pre-training network's five task layers (fixed, so the trunk does not depend on
the structure study's ``head_width``)."""


def pretrain_variant(profile: Profile) -> Variant:
    """The pre-training run: RGB -> 40-class segmentation, ``profile.pretrain_steps`` iterations."""
    return Variant("segmentation_40c", "structure", model_options={"kind": "single_semantic", "classes": CLASSES,
                                                                    "width": HEAD_WIDTH},
                   loss="ce", classes=CLASSES, train={"steps": profile.pretrain_steps},
                   data={"split": "pretrain", "scenes": profile.pretrain_scenes})


def _base(profile: Profile) -> Profile:
    """``profile`` without pre-trained weights (the pre-training run itself starts from scratch)."""
    return profile.replace(pretrained="")


def trunk_file(profile: Profile, progress: bool = False) -> Path:
    """Path of the pre-trained trunk of ``profile`` (torchvision-format ResNet state dict), trained now if missing.

    Raises ``ValueError`` when the profile has no pre-training scenes or steps.
    """
    if profile.dataset != "synthrooms" or profile.pretrain_scenes < 1 or profile.pretrain_steps < 1:
        raise ValueError(f"profile {profile.name!r}: pretrained={PRETRAIN_SOURCE!r} needs dataset synthrooms, "
                         f"pretrain_scenes >= 1 and pretrain_steps >= 1 (got {profile.dataset}, "
                         f"{profile.pretrain_scenes}, {profile.pretrain_steps})")
    base, variant = _base(profile), pretrain_variant(profile)
    with experiment.run_lock(experiment.run_dir(base, PRETRAIN_STUDY, variant, SEED)) as folder:
        path = folder / TRUNK_FILE
        if not path.is_file():
            data = build_dataset(base, "pretrain", classes=CLASSES)
            result = experiment.fit(base, variant, SEED, data, folder=folder, progress=progress)
            torch.save(result.model.net.stem.trunk.state_dict(), path)
        return path


__all__ = ["PRETRAIN_SOURCE", "PRETRAIN_STUDY", "pretrain_variant", "trunk_file"]
