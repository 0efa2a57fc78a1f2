"""Batches for training and dev evaluation through ``torch.utils.data.DataLoader``.

The order of a run is fixed before any data are read: epoch ``e`` shuffles the training utterances
with a generator seeded by ``(seed, e)`` and cuts them into global batches of ``batch_size``; with
several processes each rank takes one contiguous share of every global batch. A :class:`BatchKey`
names one share (epoch, batch index, utterance indices), and :class:`BatchDataset` loads it, so the
batches are the same with 0 or N worker processes, and a resumed run restarts at any batch.
Workers decode audio in parallel with training (``train.workers``), prefetch ``prefetch_factor``
batches each and pin memory for a CUDA device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sdd.train.data import PairDataset

__all__ = ["BatchDataset", "BatchKey", "KeySampler", "epoch_batches", "make_loader", "run_keys", "shard"]


@dataclass(frozen=True)
class BatchKey:
    """One process's share of one global batch."""

    epoch: int
    index: int  # batch index within the epoch
    utts: tuple[int, ...]  # utterance indices into the dataset (may be empty on a rank)
    last: bool  # the epoch's last batch


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int,
                  max_steps: int | None = None) -> list[list[int]]:
    """Epoch ``epoch``'s global batches: a permutation seeded by ``(seed, epoch)`` cut into batches
    (the last may be smaller), at most ``max_steps`` of them."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=gen).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return batches[:max_steps] if max_steps else batches


def shard(batch: Sequence[int], rank: int, world_size: int) -> tuple[int, ...]:
    """Rank ``rank``'s contiguous share of a global batch (sizes differ by at most one)."""
    bounds = np.linspace(0, len(batch), world_size + 1).round().astype(int)
    return tuple(batch[bounds[rank] : bounds[rank + 1]])


def run_keys(n: int, batch_size: int, seed: int, epochs: int, max_steps: int | None, start_epoch: int = 0,
             start_batch: int = 0, rank: int = 0, world_size: int = 1) -> Iterator[BatchKey]:
    """Every remaining batch of a run from ``(start_epoch, start_batch)``, for one rank."""
    for epoch in range(start_epoch, epochs):
        batches = epoch_batches(n, batch_size, seed, epoch, max_steps)
        first = start_batch if epoch == start_epoch else 0
        for index in range(first, len(batches)):
            yield BatchKey(epoch, index, shard(batches[index], rank, world_size), index == len(batches) - 1)


class BatchDataset(torch.utils.data.Dataset):
    """Loads a :class:`BatchKey` into ``{"x_clean": (b, N), "x_aug": (b, N) or (0,), "y": (b,), "key"}``."""

    def __init__(self, pairs: PairDataset) -> None:
        self.pairs = pairs

    def __len__(self) -> int:  # keys come from the sampler; this is only informative
        return len(self.pairs)

    def __getitem__(self, key: BatchKey) -> dict:
        items = [self.pairs.item(i, key.epoch) for i in key.utts]
        n = self.pairs.num_samples
        if not items:
            empty = torch.zeros(0, n)
            return {"x_clean": empty, "x_aug": empty, "y": torch.zeros(0, dtype=torch.long), "key": key}
        x_aug = torch.stack([it[1] for it in items]) if items[0][1].numel() else torch.zeros(0, n)
        return {
            "x_clean": torch.stack([it[0] for it in items]),  # (b, N)
            "x_aug": x_aug,  # (b, N), or (0, N) without augmentation
            "y": torch.tensor([it[2] for it in items], dtype=torch.long),  # (b,)
            "key": key,
        }


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding is numpy/soundfile work; leave the cores to training


def _identity(batch: dict) -> dict:
    return batch


class KeySampler(torch.utils.data.Sampler):
    """Re-iterable keys: a function returning a fresh iterator of :class:`BatchKey` (not materialised,
    so a run of 100 epochs over a large corpus keeps no list of every batch)."""

    def __init__(self, make_keys: Callable[[], Iterable[BatchKey]]) -> None:
        self.make_keys = make_keys

    def __iter__(self) -> Iterator[BatchKey]:
        return iter(self.make_keys())


def make_loader(dataset: BatchDataset, keys: Callable[[], Iterable[BatchKey]], workers: int = 0,
                prefetch_factor: int = 2, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A loader yielding one loaded batch per key, in order (``batch_size=None``: keys are batches).

    Args:
        keys: called once per pass over the loader, returns the keys (e.g. ``lambda: run_keys(...)``).
    """
    extra = {"prefetch_factor": prefetch_factor, "worker_init_fn": _worker_init} if workers > 0 else {}
    return torch.utils.data.DataLoader(
        dataset, batch_size=None, sampler=KeySampler(keys), num_workers=workers, pin_memory=pin_memory,
        collate_fn=_identity, **extra,
    )
