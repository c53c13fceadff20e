"""Training configuration (:class:`TrainConfig`) and the resolution of its ``"auto"`` values.

All step counts are optimiser iterations (one global batch each); learning rates are absolute.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch

TASK_SCHEDULES = ("joint", "alternate")
DEVICES = ("auto", "cpu", "cuda", "cuda:<index>", "mps")

# Fields that change the optimisation trajectory: a checkpoint written under different values of
# these is refused on resume. ``steps`` may grow (train longer); logging and I/O fields may change.
TRAJECTORY_FIELDS = ("batch_size", "lr", "weight_decay", "lr_decay_steps", "lr_decay_gamma",
                     "seed", "task_schedule", "grad_clip")


@dataclass
class TrainConfig:
    """Everything :func:`depthstudy.engine.train` needs besides model, loss and data.

    Args:
        steps: total optimiser iterations (a resumed run continues up to this count).
        batch_size: GLOBAL batch size (split evenly across torchrun processes).
        lr: base learning rate of Adam (CLIFFNet code: 1e-4).
        weight_decay: coupled L2 decay on conv/linear weights only (CLIFFNet code: 1e-4).
        lr_decay_steps: iterations after which the lr is multiplied by ``lr_decay_gamma``
            (CLIFFNet code: 80k, 120k, 160k; gamma 0.1).
        seed: seeds data order, Python/NumPy/torch RNGs (model init is the caller's business:
            seed before building the model, e.g. with :func:`depthstudy.engine.seed_everything`).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
        amp: ``"auto"`` = bf16 autocast on CUDA, off elsewhere; ``True`` = bf16 autocast on any
            device; ``False`` = float32 (see :func:`resolve_flag` for the CPU measurements).
        channels_last: ``"auto"`` = on for CUDA and the CPU, off elsewhere (see
            :func:`resolve_channels_last`).
        compile: wrap the model in ``torch.compile`` (off by default: on the CPU its compile time
            outweighs the gain for runs of the cpu profile's length, see :func:`resolve_flag`).
        num_workers: DataLoader worker processes.
        checkpoint_every: write ``checkpoint_dir/last.pt`` every this many steps (0 = never);
            when checkpointing, the final step is written too.
        checkpoint_dir: folder of ``last.pt``; required when ``checkpoint_every > 0``.
        resume: continue from ``checkpoint_dir/last.pt`` when it exists.
        log_every: one history row (losses averaged over the window) every this many steps.
        progress: show a tqdm progress bar (also off when ``$TQDM_DISABLE`` is set or on rank != 0).
        task_schedule: ``"joint"`` (every batch trains every task) or ``"alternate"`` (Jiao suppl.
            section 8: depth batches and semantic batches alternate, the other branch frozen).
        grad_clip: max global gradient L2 norm, or None.
    """

    steps: int
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 1e-4
    lr_decay_steps: tuple[int, ...] = ()
    lr_decay_gamma: float = 0.1
    seed: int = 0
    device: str = "auto"
    amp: bool | str = "auto"
    channels_last: bool | str = "auto"
    compile: bool = False
    num_workers: int = 0
    checkpoint_every: int = 0
    checkpoint_dir: str | None = None
    resume: bool = True
    log_every: int = 10
    progress: bool = True
    task_schedule: str = "joint"
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        self.lr_decay_steps = tuple(self.lr_decay_steps)
        if self.checkpoint_dir is not None:
            self.checkpoint_dir = str(self.checkpoint_dir)
        _check_int("steps", self.steps, minimum=1)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("seed", self.seed, minimum=0)
        _check_int("num_workers", self.num_workers, minimum=0)
        _check_int("checkpoint_every", self.checkpoint_every, minimum=0)
        _check_int("log_every", self.log_every, minimum=1)
        _check_positive("lr", self.lr)
        _check_positive("lr_decay_gamma", self.lr_decay_gamma)
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be a float >= 0; got {self.weight_decay!r}")
        for s in self.lr_decay_steps:
            _check_int("lr_decay_steps", s, minimum=1)
        if list(self.lr_decay_steps) != sorted(set(self.lr_decay_steps)):
            raise ValueError(f"TrainConfig.lr_decay_steps must be strictly increasing; got {self.lr_decay_steps}")
        if self.task_schedule not in TASK_SCHEDULES:
            raise ValueError(f"TrainConfig.task_schedule must be one of {TASK_SCHEDULES}; got {self.task_schedule!r}")
        for name in ("amp", "channels_last"):
            value = getattr(self, name)
            if value not in (True, False, "auto"):
                raise ValueError(f"TrainConfig.{name} must be True, False or 'auto'; got {value!r}")
        if not _valid_device(self.device):
            raise ValueError(f"TrainConfig.device must be one of {DEVICES}; got {self.device!r}")
        if self.grad_clip is not None:
            _check_positive("grad_clip", self.grad_clip)
        if self.checkpoint_every > 0 and not self.checkpoint_dir:
            raise ValueError("TrainConfig.checkpoint_dir is required when checkpoint_every > 0")

    @classmethod
    def from_profile(cls, profile: Any, **overrides: Any) -> "TrainConfig":
        """Config from a :class:`depthstudy.profiles.Profile` (steps, batch, lr, device, amp,
        channels_last, compile, num_workers) with keyword ``overrides`` (e.g. ``seed=1``).

        The lr decay milestones come from the profile's ``lr_decay_at`` fractions of the run's
        ``steps`` (overridden or not), unless ``lr_decay_steps`` is given.
        """
        names = ("steps", "batch_size", "lr", "device", "amp", "channels_last", "compile", "num_workers")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}; valid: "
                             + ", ".join(f.name for f in dataclasses.fields(cls)))
        base = {n: getattr(profile, n) for n in names}
        base["lr_decay_steps"] = profile.decay_steps(overrides.get("steps", profile.steps))
        return cls(**{**base, **overrides})

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) for checkpoints and provenance records."""
        d = dataclasses.asdict(self)
        d["lr_decay_steps"] = list(self.lr_decay_steps)
        return d


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"TrainConfig.{name} must be an int >= {minimum}; got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"TrainConfig.{name} must be a number > 0; got {value!r}")


def _valid_device(device: Any) -> bool:
    if not isinstance(device, str):
        return False
    if device in ("auto", "cpu", "cuda", "mps"):
        return True
    head, _, index = device.partition(":")
    return head == "cuda" and index.isdigit()


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU. Under torchrun on CUDA: ``cuda:$LOCAL_RANK``."""
    if not _valid_device(device):
        raise ValueError(f"device must be one of {DEVICES}; got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def resolve_flag(value: bool | str, device: torch.device) -> bool:
    """``"auto"`` -> True on CUDA, False elsewhere; booleans pass through (used for ``amp``).

    CPU measurements (``depthstudy bench --sizes cpu --threads 1 --variants fast
    channels_last bf16 compile`` on a 2-core AVX-512 Xeon without native bf16, taken while other
    jobs kept the load average at 2.6-5.3, so indicative only): bf16 autocast ran at 0.34-0.80x
    float32 (CLIFFNet training 0.67x, synergy training 0.80x, CLIFFNet inference 0.34x at batch 1,
    0.52x at batch 32), hence off on the CPU. ``torch.compile`` ran at 0.98-1.56x steady state but
    took 53-226 s to compile per model; CLIFFNet training pays that back after ~8,700 images and
    synergy after ~11,600, against 2,400 images (300 steps x 8) per cpu-profile run, hence
    ``TrainConfig.compile`` stays False for the CPU profiles.
    """
    return device.type == "cuda" if value == "auto" else bool(value)


def resolve_channels_last(value: bool | str, device: torch.device) -> bool:
    """``"auto"`` -> True on CUDA and on the CPU, False elsewhere (MPS); booleans pass through.

    CPU decision, from the measurements described in :func:`resolve_flag`:
    channels_last training steps at the cpu profile's sizes (96x128, ResNet-18 x0.5, batch 8) ran
    faster than contiguous for every model of the study: with 1 torch thread 1.09-1.51x
    (cliffnet 1.18, synergy 1.51, fcrn 1.09, encdec 1.24, structure 1.21, heg_s 1.22, heg_r 1.36),
    with 2 threads 1.02-1.63x; the isolated bench measured CLIFFNet training at 2.20x and
    inference at 1.74x (batch 1) and 2.07x (batch 32). A short check on the idle machine (load
    < 1.7, 2 threads) agreed: CLIFFNet training 1.15x, inference at batch 32 1.19x, synergy
    training 1.38x, FCRN 1.03x (while bf16 ran at 0.39x and 0.31x). Re-measure with
    ``depthstudy bench --sizes cpu --variants channels_last bf16 compile``.
    """
    if value == "auto":
        return device.type in ("cuda", "cpu")
    return bool(value)
