"""What a real run costs on this machine, measured stage by stage on a synthetic corpus.

A corpus with ASVspoof 2019 LA's split sizes (or a fraction of them) is written as 16 kHz FLAC files
plus a ``folder`` corpus protocol; each utterance's duration is drawn from a given pool of real
durations. The real stage code is then timed on it: the data stage's
:func:`~sdd.data.prepare.prepare_corpus`, the augment stage's :func:`~sdd.augment.precompute.precompute`,
the train stage's loader (:class:`~sdd.train.data.PairDataset` through
:func:`~sdd.train.loader.make_loader`, no model) and the scoring reader
(:func:`~sdd.scoring.score.iter_scores` with a model that returns zeros). Each is reported in seconds
per 1,000 utterances, so it can be scaled to any corpus size. ``benchmarks/run_cost.py`` is the
command-line front end.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from sdd.audio.io import write_audio
from sdd.augment.params import AugmentParams
from sdd.augment.precompute import precompute
from sdd.core import atomic
from sdd.core.paths import resolve
from sdd.core.sections import ScoreParams
from sdd.data.corpora import parse_corpus
from sdd.data.prepare import prepare_corpus
from sdd.scoring.score import iter_scores
from sdd.train.data import PairDataset, load_pairs
from sdd.train.loader import BatchDataset, make_loader, run_keys

log = logging.getLogger(__name__)

__all__ = [
    "LA19_SPLITS",
    "PROTOCOL_COLUMNS",
    "StageCost",
    "sample_rows",
    "synth_utterance",
    "time_augment",
    "time_loader",
    "time_prepare",
    "time_scoring_io",
    "write_corpus",
]

#: Utterances per split of ASVspoof 2019 LA (its CM protocol files: train, dev, eval).
LA19_SPLITS = {"train": 25_380, "dev": 24_844, "eval": 71_237}
#: Columns of the rows :func:`write_corpus` takes (those of an ASVspoof CM protocol, plus the split).
PROTOCOL_COLUMNS = ("utt_id", "speaker", "attack", "label", "split")
SAMPLE_RATE = 16_000
PROTOCOL_FILE = "protocol.csv"


@dataclass(frozen=True)
class StageCost:
    """Wall time of one stage over ``utterances`` utterances (``audio_s`` seconds of source audio)."""

    stage: str
    seconds: float
    utterances: int
    audio_s: float

    @property
    def per_1000(self) -> float:
        """Seconds per 1,000 utterances."""
        return 1000.0 * self.seconds / self.utterances

    @property
    def per_audio_hour(self) -> float:
        """Seconds per hour of source audio."""
        return 3600.0 * self.seconds / self.audio_s


def sample_rows(protocols: dict[str, pd.DataFrame], fraction: float, seed: int) -> pd.DataFrame:
    """A random ``fraction`` of each split's protocol rows (at least one row per split).

    Args:
        protocols: split -> rows with :data:`PROTOCOL_COLUMNS` but ``split``.
        fraction: in (0, 1].

    Raises:
        ValueError: ``fraction`` out of range, or a split with no rows or missing columns.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction: got {fraction!r}; expected a number in (0, 1]")
    rng = np.random.default_rng(seed)
    out = []
    for split, df in protocols.items():
        missing = [c for c in PROTOCOL_COLUMNS if c != "split" and c not in df.columns]
        if missing or df.empty:
            raise ValueError(
                f"protocol of split {split!r}: got {len(df)} rows with columns {list(df.columns)}; "
                f"expected rows with columns {list(PROTOCOL_COLUMNS[:-1])}"
            )
        n = max(1, round(fraction * len(df)))
        pick = np.sort(rng.choice(len(df), size=n, replace=False))
        out.append(df.iloc[pick].assign(split=split))
    return pd.concat(out, ignore_index=True)[list(PROTOCOL_COLUMNS)]


def synth_utterance(
    duration_s: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A speech-like float32 wave of ``duration_s`` seconds: a harmonic stack on a wandering f0 under a
    syllable-rate envelope, plus low noise (so FLAC compresses it like a recording, not like silence)."""
    n = max(1, round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(90.0, 220.0) * (1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 16))
    envelope = 0.5 * (1.0 + np.sin(2 * np.pi * rng.uniform(3.0, 6.0) * t + rng.uniform(0, 2 * np.pi)))
    wave = wave * envelope + 0.01 * rng.standard_normal(n)
    return (0.5 * wave / np.max(np.abs(wave))).astype(np.float32)


def write_corpus(root: Path, rows: pd.DataFrame, durations_s: Sequence[float], seed: int) -> Path:
    """Write one FLAC per row (``audio/<utt_id>.flac``, 16 kHz) and ``protocol.csv``; returns ``root``.

    Each row's duration is drawn (with replacement) from ``durations_s``. The protocol has the
    columns ``path`` (relative to ``root``), :data:`PROTOCOL_COLUMNS` and ``duration_s``, and reads
    as ``corpora: {name: {type: folder, path: <root>, protocol: protocol.csv}}``.

    Raises:
        ValueError: missing columns, duplicate utt_ids, or an empty or non-positive duration pool.
    """
    missing = [c for c in PROTOCOL_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"corpus rows lack column(s) {missing}; have {list(rows.columns)}")
    if rows["utt_id"].duplicated().any():
        raise ValueError(
            f"corpus rows: duplicate utt_id(s) {rows['utt_id'][rows['utt_id'].duplicated()].tolist()[:5]}"
        )
    pool = np.asarray(durations_s, dtype=float)
    if pool.size == 0 or not np.all(np.isfinite(pool)) or np.any(pool <= 0):
        raise ValueError(
            f"durations: got {pool.size} values (min {pool.min() if pool.size else None}); "
            "expected at least one positive, finite duration in seconds"
        )
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    drawn = rng.choice(pool, size=len(rows), replace=True)
    paths = []
    for utt, dur in zip(rows["utt_id"], drawn, strict=True):
        rel = f"audio/{utt}.flac"
        write_audio(root / rel, synth_utterance(float(dur), rng), SAMPLE_RATE)
        paths.append(rel)
    proto = rows[list(PROTOCOL_COLUMNS)].assign(path=paths, duration_s=np.round(drawn, 3))
    atomic.write_csv(proto[["path", *PROTOCOL_COLUMNS, "duration_s"]], root / PROTOCOL_FILE)
    return root


def _audio_s(manifest: pd.DataFrame) -> float:
    return float(manifest["duration_s"].sum())


def time_prepare(corpus_root: Path, out_dir: Path, workers: int) -> tuple[StageCost, dict[str, pd.DataFrame]]:
    """Time :func:`~sdd.data.prepare.prepare_corpus` on a :func:`write_corpus` folder (every split)."""
    cfg = parse_corpus(
        "runcost",
        {"type": "folder", "path": os.fspath(Path(corpus_root).resolve()), "protocol": PROTOCOL_FILE},
    )
    t0 = time.perf_counter()
    manifests = prepare_corpus(cfg, Path(corpus_root), Path(out_dir), workers=workers)
    seconds = time.perf_counter() - t0
    n = sum(len(m) for m in manifests.values())
    audio = sum(_audio_s(m) for m in manifests.values())
    return StageCost("prepare", seconds, n, audio), manifests


def time_augment(
    train: pd.DataFrame, out_dir: Path, params: AugmentParams, workers: int
) -> tuple[StageCost, pd.DataFrame, int]:
    """Time :func:`~sdd.augment.precompute.precompute` of ``params.copies`` copies of every training
    utterance; also returns the augment manifest and the bytes of the copies' files."""
    t0 = time.perf_counter()
    aug = precompute(train, Path(out_dir), params, workers=workers)
    seconds = time.perf_counter() - t0
    size = sum((Path(out_dir) / p).stat().st_size for p in aug["path"])
    return StageCost("augment", seconds, len(train), _audio_s(train)), aug, size


def time_loader(
    train: pd.DataFrame,
    aug: pd.DataFrame,
    aug_dir: Path,
    crop_samples: int,
    crop: str,
    batch_size: int,
    workers: int,
) -> tuple[StageCost, float, float]:
    """One epoch of the train stage's loader (both views, no model).

    Returns the steady-state cost (from the first batch to the last, so the workers' start, paid
    once per run, is left out; at least two batches are needed), batches/s at that rate, and the
    seconds to the first batch.

    Raises:
        ValueError: fewer than ``2 * batch_size`` training utterances.
    """
    if len(train) < 2 * batch_size:
        raise ValueError(
            f"loader timing: got {len(train)} training utterances; expected at least "
            f"{2 * batch_size} (two batches of {batch_size})"
        )
    ds = PairDataset(train, crop_samples, crop, SAMPLE_RATE, load_pairs(train, aug), Path(aug_dir))
    loader = make_loader(BatchDataset(ds), lambda: run_keys(len(ds), batch_size, 0, 1, None), workers, 2)
    sizes = []
    t0 = time.perf_counter()
    for batch in loader:
        sizes.append(int(batch["y"].shape[0]))
        if len(sizes) == 1:
            t_first = time.perf_counter()
    seconds = time.perf_counter() - t_first
    n = sum(sizes[1:])
    audio = _audio_s(train) * n / len(train)
    return StageCost("loader", seconds, n, audio), (len(sizes) - 1) / seconds, t_first - t0


class _ZeroScorer(nn.Module):
    """Logits of zero for every input: times the scoring reader without a model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], 2)


def time_scoring_io(manifest: pd.DataFrame, params: ScoreParams) -> StageCost:
    """Time :func:`~sdd.scoring.score.iter_scores` (read, mix down, crop) over ``manifest``'s files."""
    paths = [resolve(p) for p in manifest["path"]]
    t0 = time.perf_counter()
    n = sum(1 for _ in iter_scores(_ZeroScorer(), paths, params))
    seconds = time.perf_counter() - t0
    return StageCost("scoring_io", seconds, n, _audio_s(manifest))
