"""Deterministic, resumable, shardable data order for training.

Epoch ``e`` of stream ``s`` visits the dataset in the permutation drawn from
``derive_seed(seed, s, e)``, cut into global batches of ``batch_size`` (the last incomplete batch
of each epoch is dropped, so every step sees exactly one global batch). Process ``r`` of ``N``
takes the contiguous slice ``[r*B/N, (r+1)*B/N)`` of each global batch, so the union over
processes is exactly the single-process batch. The position in the stream is the number of
global batches consumed; restarting at position ``k`` reproduces the order from batch ``k`` on.
"""

from __future__ import annotations

from typing import Iterator, Sized

import torch
from torch.utils.data import DataLoader

from .seeding import derive_seed


class ShardedBatchSampler:
    """Infinite batch sampler yielding this process's index lists (see module doc).

    Args:
        n: dataset length.
        batch_size: global batch size.
        seed, stream: base seed and stream id (0 = depth/joint data, 1 = semantic data).
        rank, world_size: this process and the process count; ``batch_size % world_size == 0``.
        start: global batches already consumed (resume position).
    """

    def __init__(self, n: int, batch_size: int, *, seed: int, stream: int = 0, rank: int = 0,
                 world_size: int = 1, start: int = 0):
        if n < batch_size:
            raise ValueError(f"dataset has {n} samples, fewer than TrainConfig.batch_size={batch_size}")
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by world_size {world_size}")
        self.n, self.batch_size, self.seed, self.stream = n, batch_size, seed, stream
        self.rank, self.world_size, self.start = rank, world_size, start
        self.batches_per_epoch = n // batch_size

    def permutation(self, epoch: int) -> torch.Tensor:
        """The dataset order of ``epoch`` (int64 [n])."""
        gen = torch.Generator().manual_seed(derive_seed(self.seed, self.stream, epoch))
        return torch.randperm(self.n, generator=gen)

    def global_batch(self, position: int) -> list[int]:
        """Indices of global batch number ``position`` (0-based, counted across epochs)."""
        epoch, j = divmod(position, self.batches_per_epoch)
        return self.permutation(epoch)[j * self.batch_size:(j + 1) * self.batch_size].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        local = self.batch_size // self.world_size
        position, epoch, perm = self.start, -1, None
        while True:
            e, j = divmod(position, self.batches_per_epoch)
            if e != epoch:
                epoch, perm = e, self.permutation(e)
            batch = perm[j * self.batch_size:(j + 1) * self.batch_size]
            yield batch[self.rank * local:(self.rank + 1) * local].tolist()
            position += 1


def batch_stream(dataset: Sized, batch_size: int, *, seed: int, stream: int, rank: int, world_size: int,
                 start: int, num_workers: int, pin_memory: bool) -> Iterator[dict]:
    """An endless iterator of collated per-process batches starting at global batch ``start``.

    Worker processes (``num_workers > 0``) get base seeds from a generator seeded by
    ``(seed, stream, start)``; random augmentation inside workers is therefore reproducible for a
    fresh run but not bitwise across a resume. With ``num_workers=0`` (the CPU default) every
    random draw happens in the main process and resumes exactly.
    """
    sampler = ShardedBatchSampler(len(dataset), batch_size, seed=seed, stream=stream, rank=rank,
                                  world_size=world_size, start=start)
    generator = torch.Generator().manual_seed(derive_seed(seed, stream, start, rank))
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                        pin_memory=pin_memory, generator=generator)
    return iter(loader)
