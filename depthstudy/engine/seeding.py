"""Seeding, RNG state capture/restore and the deterministic-algorithms switch.

Reproducibility contract: on CPU, the same seed, model initialisation, data and config give
bitwise-identical weights, and a run resumed from a checkpoint continues exactly as the
uninterrupted run would have. On CUDA, kernels with atomics and cuDNN autotuning make runs
close but not bitwise equal (``cudnn.benchmark`` is switched on for speed during training).
The number of intra-op threads is left as the user set it.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (e.g. base seed, stream id, epoch)."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)
    return int(state[0]) >> 1


def rng_state() -> dict[str, Any]:
    """Snapshot of every global RNG: torch CPU, CUDA (all devices, when initialised), NumPy, Python."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def reproducible_kernels(device: torch.device) -> Iterator[None]:
    """During the block: deterministic algorithms on CPU; cuDNN autotuning on CUDA. Restored after.

    ``warn_only=True``: an op without a deterministic kernel warns instead of failing the run.
    """
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark)
    try:
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        else:
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.benchmark = saved[2]
