"""Atomic training checkpoints (``checkpoint_dir/last.pt``) and their compatibility check.

A checkpoint is a dict written by ``torch.save`` through :func:`depthstudy.io.atomic_path`, so a
run killed mid-write leaves the previous ``last.pt`` intact:

============  ==================================================================================
model         state dict of the unwrapped model
optimizer     Adam state dict
scheduler     MultiStepLR state dict
step          iterations completed
config        :meth:`TrainConfig.as_dict` of the writing run
rng           list of :func:`depthstudy.engine.seeding.rng_state` snapshots, one per rank
data          batches consumed per data stream (``{"depth": n, "semantic": m}``)
history       history rows written so far, plus the open logging window
world_size    number of processes of the writing run
============  ==================================================================================

Checkpoints hold NumPy and Python RNG states, so they are loaded with ``weights_only=False``:
only load checkpoints you wrote yourself.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from ..io import atomic_path
from .config import TRAJECTORY_FIELDS, TrainConfig

CHECKPOINT_NAME = "last.pt"


def checkpoint_path(config: TrainConfig) -> Path | None:
    """``checkpoint_dir/last.pt``, or None when the config has no checkpoint folder."""
    return Path(config.checkpoint_dir) / CHECKPOINT_NAME if config.checkpoint_dir else None


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Atomically ``torch.save`` ``state`` to ``path``; the previous checkpoint survives a failure.

    Raises ``OSError`` naming ``path`` when the write fails (torch reports a full disk as a bare
    ``RuntimeError ... unexpected pos``, which is translated here).
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            torch.save(state, tmp)
        except RuntimeError as err:
            free = shutil.disk_usage(path.parent).free
            raise OSError(errno.ENOSPC if free < (1 << 20) else errno.EIO,
                          f"torch.save failed ({str(err).splitlines()[0][:120]}); {free} bytes free "
                          f"on the disk of {path.parent}") from err
    return path


def unreadable_checkpoint(path: Path, err: BaseException) -> ValueError:
    """The error for a checkpoint file that cannot be read: names it, its run and the remedy (Decision X12)."""
    size = path.stat().st_size if path.exists() else 0
    run = "/".join(path.parent.parts[-3:])
    return ValueError(f"checkpoint {path} ({size} bytes) of run {run!r} cannot be read: it is "
                      f"truncated, empty or not a depthstudy checkpoint ({type(err).__name__}). Delete it to "
                      "retrain that run from scratch (the study resumes its other runs).")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (trusted files only, see module doc)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError ... for a bad file
        raise unreadable_checkpoint(path, err) from err
    if not isinstance(state, dict):
        raise unreadable_checkpoint(path, TypeError(type(state).__name__))
    missing = [k for k in ("model", "optimizer", "scheduler", "step", "config", "rng", "data") if k not in state]
    if missing:
        raise ValueError(f"checkpoint {path} lacks keys {missing}; was it written by depthstudy.engine?")
    return state


def check_compatible(saved: dict[str, Any], config: TrainConfig, path: str | os.PathLike) -> None:
    """Raise ``ValueError`` if ``saved`` (a config dict) differs from ``config`` on a trajectory field."""
    current = config.as_dict()
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {current[k]!r}"
             for k in TRAJECTORY_FIELDS if _norm(saved.get(k)) != _norm(current[k])]
    if diffs:
        raise ValueError(f"checkpoint {path} was written with a different training config ("
                         + "; ".join(diffs) + "); delete it, change checkpoint_dir or pass resume=False")


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
