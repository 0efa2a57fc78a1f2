"""One forward pass per utterance, every hidden state pooled over time, stored as float16.

For each utterance the probed model runs once with ``output_hidden_states=True``; each of its L + 1
hidden states ``(F, H)`` (the transformer's input, then each layer's output) is pooled into its mean
over frames and its standard deviation over frames (population, ddof = 0), giving ``(L + 1, 2H)``
(means first). The extract stage stores one ``(N, L + 1, 2H)`` float16 array per split, so the probes
(:mod:`sdd.probing.probes`) can be refitted without touching audio or model again.

The input is what the scorer sees (:mod:`sdd.scoring.score`): the first ``num_samples`` samples,
repeat-padded when shorter, so every batch has one shape and batched extraction is per-item
extraction; ``num_samples=None`` takes each utterance whole, one per batch. Pooling happens in float32
and a value outside float16's range is an error, never an ``inf`` on disk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sdd.audio.crop import crop_or_pad
from sdd.audio.io import read_audio
from sdd.core import atomic, faults
from sdd.core.paths import resolve
from sdd.train.data import label_ids

log = logging.getLogger(__name__)

__all__ = ["HiddenStates", "extract_split", "load_features", "pooled_statistics", "save_features"]

#: ``(B, T) waves -> L + 1 hidden states (B, F, H)``, in eval mode, no grad needed.
HiddenStates = Callable[[torch.Tensor], Sequence[torch.Tensor]]
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def pooled_statistics(hidden_states: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean and standard deviation over frames of every hidden state.

    Args:
        hidden_states: L + 1 tensors ``(B, F, H)``.

    Returns:
        ``(B, L + 1, 2H)`` float32: ``[..., :H]`` the means, ``[..., H:]`` the population standard
        deviations (ddof = 0) over the F frames.
    """
    hs = torch.stack([h.float() for h in hidden_states], dim=1)  # (B, L+1, F, H)
    mean = hs.mean(dim=2)
    std = (hs - mean.unsqueeze(2)).square().mean(dim=2).sqrt()
    return torch.cat([mean, std], dim=-1)


def _batches(paths: Sequence[Path], num_samples: int | None, batch_size: int, sample_rate: int):
    step = batch_size if num_samples is not None else 1
    for start in range(0, len(paths), step):
        waves = [read_audio(p, sample_rate)[0] for p in paths[start : start + step]]
        if num_samples is not None:
            waves = [crop_or_pad(w, num_samples) for w in waves]
        yield torch.from_numpy(np.stack(waves))  # (B, T)


@torch.no_grad()
def extract_split(
    hidden_states: HiddenStates,
    manifest: pd.DataFrame,
    *,
    num_samples: int | None,
    batch_size: int,
    sample_rate: int = 16000,
    on_batch: Callable[[Sequence[torch.Tensor]], None] | None = None,
) -> np.ndarray:
    """Pooled statistics of every utterance of ``manifest`` (paths relative to the repo root).

    Args:
        hidden_states: the probed model (see :data:`HiddenStates`).
        num_samples: the first N samples, repeat-padded (``None``: the whole utterance, batch of 1).
        batch_size: utterances per forward pass.
        on_batch: also called with every batch's hidden states (one pass feeds other readers too).

    Returns:
        ``(N, L + 1, 2H)`` float16.
    """
    paths = [resolve(p) for p in manifest["path"]]
    out = []
    for x in _batches(paths, num_samples, batch_size, sample_rate):
        states = hidden_states(x)
        if on_batch is not None:
            on_batch(states)
        pooled = pooled_statistics(states)
        if not torch.isfinite(pooled).all() or pooled.abs().max() > _FLOAT16_MAX:
            raise ValueError(
                f"pooled hidden states outside float16's range (max |x| {pooled.abs().max().item():.3g}) "
                f"in the batch starting at {manifest['utt_id'].iloc[len(out) and sum(len(o) for o in out)]}"
            )
        out.append(pooled.numpy().astype(np.float16))
    if not out:
        raise ValueError("extract_split: empty manifest")
    return np.concatenate(out)


def save_features(out_dir: Path, splits: dict[str, tuple[pd.DataFrame, np.ndarray]], meta: dict) -> None:
    """Write ``features.npz`` (per split: ``<split>`` features, ``<split>.label`` 1 = bona fide,
    ``<split>.utt_id``) and ``meta.json`` into ``out_dir``, atomically."""
    arrays = {}
    for split, (manifest, feats) in splits.items():
        if len(manifest) != len(feats):
            raise ValueError(f"save_features: {split}: {len(manifest)} utterances but {len(feats)} rows")
        arrays[split] = feats
        arrays[f"{split}.label"] = label_ids(manifest["label"]).astype(np.int8)
        arrays[f"{split}.utt_id"] = manifest["utt_id"].to_numpy(dtype=str)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out_dir / "features.npz", suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    faults.point("extract:features_written")
    atomic.write_json(out_dir / "meta.json", meta)


def load_features(in_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Read what :func:`save_features` wrote: ``(features, labels, meta)``, features and labels
    keyed by split (labels 1 = bona fide, 0 = spoof)."""
    path = in_dir / "features.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the extract stage")
    with np.load(path) as data:
        splits = [k for k in data.files if "." not in k]
        feats = {s: data[s] for s in splits}
        labels = {s: data[f"{s}.label"].astype(np.int64) for s in splits}
    return feats, labels, json.loads((in_dir / "meta.json").read_text())
