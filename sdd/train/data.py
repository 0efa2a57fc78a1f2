"""Training data: clean utterances paired with their precomputed augmented copies.

Both views of a pair get the SAME crop (DPDA: the first ``crop_samples`` samples, repeat-padded when
shorter; or one random offset shared by both views). All randomness (crop offsets, which augmented
copy) derives from ``(seed, epoch, index)``, so an item does not depend on what was loaded before it
or in which process (:mod:`sdd.train.loader` batches and shuffles them the same way).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sdd.audio.crop import crop_or_pad
from sdd.audio.io import read_audio
from sdd.core.paths import resolve

__all__ = ["PairDataset", "label_ids", "load_pairs"]


def label_ids(labels: pd.Series) -> np.ndarray:
    """'bonafide' -> 1, 'spoof' -> 0 (ASVspoof reference code convention); anything else is an error."""
    mapping = {"bonafide": 1, "spoof": 0}
    bad = sorted(set(labels) - set(mapping))
    if bad:
        raise ValueError(f"manifest label column: got {bad[:5]}; expected only 'bonafide' or 'spoof'")
    return labels.map(mapping).to_numpy(np.int64)


def load_pairs(train: pd.DataFrame, aug: pd.DataFrame | None) -> dict[str, list[str]]:
    """Map each training utt_id to the paths of its augmented copies (ordered by copy index).

    Raises:
        ValueError: a training utterance has no augmented copy (the augment stage is stale).
    """
    if aug is None:
        return {}
    copies = aug.sort_values(["source_utt_id", "copy"]).groupby("source_utt_id")["path"].apply(list).to_dict()
    missing = [u for u in train["utt_id"] if u not in copies]
    if missing:
        raise ValueError(
            f"augmented manifest: {len(missing)} of {len(train)} training utterances have no augmented copy "
            f"(first: {missing[:5]}); re-run the augment stage"
        )
    return {u: copies[u] for u in train["utt_id"]}


class PairDataset(torch.utils.data.Dataset):
    """Items ``(clean (N,), augmented (N,) or empty, label)`` for one epoch.

    Args:
        manifest: rows with ``utt_id, path, label`` (paths relative to the repo root).
        num_samples: crop length N.
        crop: ``"first"`` (offset 0) or ``"random"`` (one offset per item and epoch, both views).
        sample_rate: audio is resampled to this rate when needed.
        aug_paths: utt_id -> augmented copy paths (relative to ``aug_dir``); empty for clean data.
        aug_dir: the augment stage's output folder.
        seed, epoch: select crop offsets and copies deterministically (``epoch`` is the default of
            :meth:`item`; ``dataset[(epoch, index)]`` names another epoch).
    """

    def __init__(
        self,
        manifest: pd.DataFrame,
        num_samples: int,
        crop: str = "first",
        sample_rate: int = 16000,
        aug_paths: dict[str, list[str]] | None = None,
        aug_dir: Path | None = None,
        seed: int = 0,
        epoch: int = 0,
    ) -> None:
        self.utt_ids = manifest["utt_id"].tolist()
        self.paths = manifest["path"].tolist()
        self.labels = label_ids(manifest["label"])
        self.num_samples, self.crop, self.sample_rate = num_samples, crop, sample_rate
        self.aug_paths, self.aug_dir = aug_paths or {}, aug_dir
        self.seed, self.epoch = seed, epoch

    def __len__(self) -> int:
        return len(self.utt_ids)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, int]:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        return self.item(index, epoch)

    def item(self, index: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(clean (N,), augmented (N,) or empty, label)`` of utterance ``index`` in ``epoch``."""
        clean, _ = read_audio(resolve(self.paths[index]), self.sample_rate)
        rng = np.random.default_rng([self.seed, epoch, index])
        offset = 0
        if self.crop == "random" and clean.shape[0] > self.num_samples:
            offset = int(rng.integers(0, clean.shape[0] - self.num_samples + 1))
        x_clean = torch.from_numpy(crop_or_pad(clean, self.num_samples, offset))
        x_aug = torch.empty(0)
        if self.aug_paths:
            copies = self.aug_paths[self.utt_ids[index]]
            choice = copies[int(rng.integers(0, len(copies)))] if len(copies) > 1 else copies[0]
            aug, _ = read_audio(Path(self.aug_dir) / choice, self.sample_rate)
            x_aug = torch.from_numpy(crop_or_pad(aug, self.num_samples, offset))
        return x_clean, x_aug, int(self.labels[index])
