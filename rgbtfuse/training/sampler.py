"""Sampling keyed by the global step, so that a resumed run sees exactly the same data.

Step ``t`` draws its global batch from a generator seeded with ``(seed, t)``; every sample also
gets its own seed for augmentation. Rank ``r`` of ``W`` takes samples ``r, r+W, …`` of each
global batch, so ``W`` processes see together what one process sees alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


def step_keys(step: int, dataset_len: int, batch_size: int, seed: int) -> list[tuple[int, int]]:
    """The global batch of ``step``: ``(index, sample_seed)`` pairs."""
    rng = np.random.default_rng([seed, step])
    indices = rng.integers(0, dataset_len, batch_size)
    seeds = rng.integers(0, 2**31 - 1, batch_size)
    return [(int(i), int(s)) for i, s in zip(indices, seeds)]


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields this rank's share of the global batch for steps ``start_step … total_steps - 1``."""

    def __init__(
        self,
        dataset_len: int,
        batch_size: int,
        total_steps: int,
        seed: int = 0,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        if batch_size % world_size:
            raise ValueError(f"global batch {batch_size} is not divisible by {world_size} processes")
        self.dataset_len = dataset_len
        self.batch_size = batch_size
        self.total_steps = total_steps
        self.seed = seed
        self.start_step = start_step
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.total_steps):
            keys = step_keys(step, self.dataset_len, self.batch_size, self.seed)
            yield keys[self.rank :: self.world_size]
