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

import os
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
    """Atomically ``torch.save`` ``state`` to ``path``."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (trusted files only, see module doc)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    state = torch.load(path, map_location=map_location, weights_only=False)
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
