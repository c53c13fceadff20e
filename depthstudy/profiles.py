"""Named run profiles, held as data and validated.

A profile fixes the dataset, resolution, backbone size, training length and seeds of every study
notebook, so that one set of notebooks runs as a CPU smoke test, a CPU study, a single-GPU study
or the NYU-Depth V2 reproduction. Notebooks read the profile named by their ``profile`` parameter
(default: ``$DEPTHSTUDY_PROFILE``) and may override single fields with :func:`get_profile`.

=======  ==========================================================================================
smoke    tests and CI: tiny images, few steps, one seed; numbers only prove the plumbing
preview  the cpu profile's data at 60 steps and 2 seeds: a first look in ~15 min, NOT conclusive
cpu      SynthRooms 48x64, ResNet-18 x0.5 trunks pre-trained on SynthRooms segmentation, 120 steps,
         5 seeds; the study `make study` runs on 2 cores
gpu      SynthRooms 228x304, ResNet-50 backbones, 3 seeds; one GPU, under an hour
nyu      NYU-Depth V2 at the papers' resolution and schedules; ImageNet weights from a local path
=======  ==========================================================================================

The cpu profile's choices (Decisions S11-S13; each measured on the validation scenes, never on the
test scenes): 48x64 images, because smaller images save little (per-operation overhead
dominates: a CLIFFNet step takes 0.23 s at 48x64 and 0.18 s at 32x48 on one AMD EPYC thread) and
learn no faster per step (validation RMSE after 200 steps from random init: 0.79 m at 48x64, 0.90 m
at 32x48, 0.93 m at 24x32); ResNet trunks from the SynthRooms pre-training run (S12), because
from random init CLIFFNet + L1 needs about 900 steps to come within 0.68 m of the validation
scenes' 1.02 m constant-depth RMSE, while from the pre-trained trunk 150 steps with the decay
reach 0.70-0.72 m (seeds 0, 1); Adam at 1e-3, times 0.1 after 75% of each run; 5 seeds.
The gpu and nyu profiles keep the papers' constant lr and ImageNet weights.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from typing import Any

DEFAULT_ENV = "DEPTHSTUDY_PROFILE"


@dataclass(frozen=True)
class Profile:
    """One named configuration of the whole study.

    Sizes are in pixels (network input), depths in metres, ``steps`` in optimiser iterations.
    """

    name: str
    dataset: str                      # "synthrooms" | "nyuv2"
    height: int
    width: int
    train_scenes: int                 # SynthRooms scene instances in the training split
    test_scenes: int
    views_per_scene: int
    backbone_depth: int               # ResNet-18/34/50
    backbone_width: float             # channel multiplier (1.0 = torchvision widths)
    fpn_channels: int                 # CLIFFNet FPN/head width (256 in the paper)
    head_width: int                   # width of the 5-conv task nets of the structure study
    steps: int                        # training iterations per run
    batch_size: int
    lr: float
    seeds: tuple[int, ...]
    protocol: str                     # evaluation protocol name (depthstudy.metrics)
    max_depth: float = 10.0
    val_scenes: int = 0               # SynthRooms validation scenes (same distribution as training, Decision S11)
    pretrain_scenes: int = 0          # SynthRooms scenes of the ImageNet stand-in (Decision S12)
    pretrain_steps: int = 0           # iterations of that pre-training run
    heg_scenes: int = 0               # HEG-S / HEG-Im task: the first heg_scenes training scenes ... (Decision C8)
    heg_views: int = 0                # ... each rendered from heg_views cameras (0 = the training views)
    heg_lr: float = 0.0               # HEG-S / HEG-Im lr (0 = the paper's, scaled as Decision C7)
    device: str = "auto"
    amp: bool | str = "auto"
    channels_last: bool | str = "auto"
    compile: bool = False
    num_workers: int = 0
    eval_batch_size: int = 16
    heg_steps: int = 0                # HEG-S / HEG-R training iterations
    lr_decay_at: tuple[float, ...] = ()  # fractions of each run's steps after which lr *= 0.1
    nyu_root: str = ""                # folder with nyu_depth_v2_labeled.mat, splits.mat, classMapping40.mat
    nyu_sync_root: str = ""           # BTS layout: sync/ + nyudepthv2_train_files_with_gt.txt (CLIFFNet training)
    nyu_train_frames: int = 40000     # CLIFFNet training frames sampled from the sync list (Decision D5)
    pretrained: str = ""              # "" = random init, "synthrooms" = Decision S12, else a torchvision ResNet file
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_decay_at", tuple(self.lr_decay_at))
        fractions = self.lr_decay_at
        if any(not 0.0 < f < 1.0 for f in fractions) or list(fractions) != sorted(set(fractions)):
            raise ValueError(f"profile {self.name!r}: lr_decay_at must be increasing fractions in (0, 1) "
                             f"of a run's steps, got {fractions!r}")

    def decay_steps(self, steps: int) -> tuple[int, ...]:
        """Iterations after which the lr decays, for a run of ``steps`` iterations (from ``lr_decay_at``)."""
        return tuple(sorted({m for m in (round(f * steps) for f in self.lr_decay_at) if 1 <= m < steps}))

    def replace(self, **overrides: Any) -> "Profile":
        """A copy with some fields changed; unknown field names raise ``ValueError``."""
        check_fields(overrides)
        return dataclasses.replace(self, **overrides)

    def synthrooms_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`depthstudy.data.synthrooms.SynthRooms`."""
        return dict(height=self.height, width=self.width, train_scenes=self.train_scenes,
                    test_scenes=self.test_scenes, val_scenes=self.val_scenes, pretrain_scenes=self.pretrain_scenes,
                    views_per_scene=self.views_per_scene,
                    max_depth=self.max_depth)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) for provenance records."""
        d = dataclasses.asdict(self)
        d["seeds"] = list(self.seeds)
        d["lr_decay_at"] = list(self.lr_decay_at)
        return d


_CPU = Profile(
    name="cpu", dataset="synthrooms", height=48, width=64,
    train_scenes=240, test_scenes=32, views_per_scene=6, val_scenes=24,
    backbone_depth=18, backbone_width=0.5, fpn_channels=64, head_width=16,
    steps=120, batch_size=8, lr=1e-3, lr_decay_at=(0.75,), seeds=(0, 1, 2, 3, 4), protocol="synthetic",
    heg_steps=3000, heg_lr=1e-3, pretrained="synthrooms", pretrain_scenes=240, pretrain_steps=1200,
    heg_scenes=64, heg_views=60,
    description=("Default of `make study`: SynthRooms 48x64 on 2 CPU cores, 5 seeds, ResNet trunks from the "
                 "SynthRooms pre-training run (Decision S12), budgets chosen on validation scenes (S11)."),
)
"""The default of `make study` (Decisions S11-S13); ``preview`` is the same at 60 steps and 2 seeds."""


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", dataset="synthrooms", height=48, width=64,
        train_scenes=8, test_scenes=3, views_per_scene=4, val_scenes=2,
        backbone_depth=18, backbone_width=0.25, fpn_channels=32, head_width=16,
        steps=12, batch_size=4, lr=1e-3, seeds=(0,), protocol="synthetic",
        eval_batch_size=8, heg_steps=12,
        description=("Plumbing check for tests and CI: every notebook in well under a minute (random init and "
                     "the training views for the HEGs; tests cover Decisions S12 and C8 separately)."),
    ),
    "preview": dataclasses.replace(
        _CPU,
        name="preview", steps=60, seeds=(0, 1), heg_steps=800, pretrain_steps=400,
        description=("A first look in about 15 minutes on 2 cores: the cpu profile's data at 60 steps and 2 "
                     "seeds. NOT CONCLUSIVE: most premises fail at this budget and 2 seeds decide nothing."),
    ),
    "cpu": _CPU,
    "gpu": Profile(
        name="gpu", dataset="synthrooms", height=228, width=304,
        train_scenes=400, test_scenes=100, views_per_scene=8, val_scenes=20,
        backbone_depth=50, backbone_width=1.0, fpn_channels=256, head_width=64,
        steps=4000, batch_size=8, lr=1e-4, seeds=(0, 1, 2), protocol="synthetic",
        num_workers=4, heg_steps=4000, eval_batch_size=32,
        amp="auto", channels_last="auto", compile=True,  # the fast path (engine/config.py); "auto" = on for CUDA
        pretrained=os.environ.get("DEPTHSTUDY_PRETRAINED", ""),
        description="SynthRooms at CLIFFNet's 228x304 with ResNet-50 on one GPU.",
    ),
    "nyu": Profile(
        name="nyu", dataset="nyuv2", height=228, width=304,
        train_scenes=0, test_scenes=0, views_per_scene=0,
        backbone_depth=50, backbone_width=1.0, fpn_channels=256, head_width=64,
        steps=40000, batch_size=8, lr=1e-4, seeds=(0, 1, 2), protocol="eigen",
        num_workers=8, heg_steps=40000, eval_batch_size=32,
        amp="auto", channels_last="auto", compile=True,  # the fast path (engine/config.py); "auto" = on for CUDA
        nyu_root=os.environ.get("DEPTHSTUDY_NYU_ROOT", ""),
        nyu_sync_root=os.environ.get("DEPTHSTUDY_NYU_SYNC_ROOT", ""),
        pretrained=os.environ.get("DEPTHSTUDY_PRETRAINED", ""),
        description=("NYU-Depth V2 at 228x304: test on the labeled 654 at 480x640; Jiao trains on the labeled "
                     "795, CLIFFNet on 40K sync frames (DEPTHSTUDY_NYU_SYNC_ROOT) or the 795; set "
                     "DEPTHSTUDY_NYU_ROOT and optionally DEPTHSTUDY_PRETRAINED; multi-GPU through torchrun."),
    ),
}

FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Profile))


def check_fields(overrides: dict[str, Any]) -> None:
    """Raise ``ValueError`` listing valid names if ``overrides`` has an unknown field."""
    unknown = sorted(set(overrides) - set(FIELD_NAMES))
    if unknown:
        raise ValueError(f"unknown profile parameter(s) {unknown}; valid: {', '.join(FIELD_NAMES)}")


def profile_names() -> list[str]:
    """Valid profile names."""
    return list(PROFILES)


def get_profile(name: str | None = None, **overrides: Any) -> Profile:
    """Return profile ``name`` (default ``$DEPTHSTUDY_PROFILE``, else ``cpu``) with overrides.

    Raises ``ValueError`` naming the bad profile or parameter and listing the valid ones.
    """
    name = name or os.environ.get(DEFAULT_ENV) or "cpu"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    prof = PROFILES[name].replace(**overrides) if overrides else PROFILES[name]
    _warn_unused_pretrained(prof)
    return prof


def _warn_unused_pretrained(prof: Profile) -> None:
    """Warn when ``$DEPTHSTUDY_PRETRAINED`` is set but ``prof`` cannot use it (Decision X18)."""
    env = os.environ.get("DEPTHSTUDY_PRETRAINED")
    if not env:
        return
    if prof.backbone_width != 1.0:
        warnings.warn(f"DEPTHSTUDY_PRETRAINED={env} is ignored by profile {prof.name!r}: ImageNet weights need a "
                      f"width-1 ResNet and this profile's backbone has width {prof.backbone_width:g} (the gpu "
                      "and nyu profiles load it)", stacklevel=3)
    elif not prof.pretrained:
        warnings.warn(f"DEPTHSTUDY_PRETRAINED={env} is ignored: profile {prof.name!r} was built with "
                      "pretrained='' (pass pretrained= to get_profile)", stacklevel=3)
