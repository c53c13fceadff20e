"""torch.distributed support: DDP when launched by torchrun, single process otherwise.

Launch with ``torchrun --nproc_per_node=N script.py`` (or ``python -m torch.distributed.run``):
torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`process_group` then initialises
the default group (NCCL on CUDA, gloo on CPU) and destroys it at the end if it created it.

- The GLOBAL batch is ``TrainConfig.batch_size``; each of the N processes gets ``batch_size / N``
  images (an error if not divisible). DDP averages gradients over processes; logged losses are
  all-reduced means. A loss that is a mean over valid pixels then matches the single-process loss
  only when every process has the same number of valid pixels (true for dense GT).
- BatchNorm: on CUDA the model's BatchNorm layers are converted to ``SyncBatchNorm`` so batch
  statistics are computed over the global batch as in single-process training. gloo (CPU) has no
  SyncBatchNorm, so on CPU each process normalises with its own per-process batch statistics and
  results differ from a single-process run for models with BN in train mode.
- Only rank 0 writes checkpoints, logs and results: use :func:`is_main_process`.
- ``find_unused_parameters`` is off (faster); every parameter of the model must receive a gradient
  from the loss at each step, else DDP raises its own error naming the unused parameters.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import nn

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched_by_torchrun() -> bool:
    """True when the torchrun environment variables are set."""
    return all(v in os.environ for v in TORCHRUN_VARS)


def is_initialized() -> bool:
    """True when a default process group exists."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's global rank (0 when not distributed; read from ``$RANK`` before init)."""
    if is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0)) if launched_by_torchrun() else 0


def get_world_size() -> int:
    """Number of processes (1 when not distributed)."""
    if is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", 1)) if launched_by_torchrun() else 1


def is_main_process() -> bool:
    """True on rank 0 (and in every non-distributed run): the process that writes files."""
    return get_rank() == 0


@contextmanager
def process_group(device: torch.device) -> Iterator[bool]:
    """Initialise the default group under torchrun (N > 1) for the block; yields True if distributed.

    A group that already exists (created by the caller) is used and left alive.
    """
    if is_initialized():
        yield dist.get_world_size() > 1
        return
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) < 2:
        yield False
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield True
    finally:
        dist.destroy_process_group()


def local_batch_size(global_batch: int, world_size: int) -> int:
    """Per-process batch; raises ``ValueError`` when ``global_batch`` does not split evenly."""
    if global_batch % world_size:
        raise ValueError(f"TrainConfig.batch_size={global_batch} (global) must be divisible by the "
                         f"number of processes ({world_size})")
    return global_batch // world_size


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP-wrap ``model`` (already on ``device``); BatchNorm -> SyncBatchNorm on CUDA."""
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return nn.parallel.DistributedDataParallel(model)


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of ``tensor`` over processes (identity when not distributed)."""
    if not is_initialized() or dist.get_world_size() == 1:
        return tensor
    out = tensor.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


def all_gather_object(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` when not distributed)."""
    if not is_initialized() or dist.get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside DDP and/or ``torch.compile`` wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model
