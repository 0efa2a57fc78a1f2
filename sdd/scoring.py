"""Scoring: a trained detector -> log-odds of bona fide per utterance (higher = more bona fide).

Each utterance is scored on its first ``num_samples`` samples, repeat-padded when shorter (AASIST's
evaluation protocol, 64,600 samples by default), so every batch has one shape and batched scoring
equals per-item scoring.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sdd import atomic
from sdd.params import ScoreParams

log = logging.getLogger(__name__)

__all__ = ["cli_main", "score_paths", "write_scores"]

AUDIO_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3")


def score_paths(model, paths: Sequence[Path], params: ScoreParams, sample_rate: int = 16000) -> np.ndarray:
    """Scores (N,) float64 for the audio files ``paths`` (absolute or cwd-relative)."""
    import torch

    from sdd.data.audio import read_audio
    from sdd.models.detector import Detector
    from sdd.train.data import crop_or_pad

    torch.set_num_threads(params.threads)
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), params.batch_size):
            batch = [
                crop_or_pad(read_audio(p, sample_rate)[0], params.num_samples)
                for p in paths[start : start + params.batch_size]
            ]
            x = torch.from_numpy(np.stack(batch))  # (B, N)
            out.append(Detector.scores(model(x)).double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def write_scores(path: Path, utt_ids: Sequence[str], scores: np.ndarray) -> None:
    """Write ``utt_id score`` lines (the official ASVspoof score-file format) atomically."""
    atomic.write_text(path, "".join(f"{u} {s:.8f}\n" for u, s in zip(utt_ids, scores, strict=True)))


def score_manifest(
    model, manifest: pd.DataFrame, params: ScoreParams, sample_rate: int = 16000
) -> np.ndarray:
    """Scores for a prepared manifest (paths relative to the repo root)."""
    from sdd.paths import resolve

    return score_paths(model, [resolve(p) for p in manifest["path"]], params, sample_rate)


def _expand(inputs: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    return files


def cli_main(argv: list[str]) -> int:
    """``sdd score --model models/<arm> FILE_OR_DIR...``: one ``path<TAB>score`` line per file."""
    ap = argparse.ArgumentParser(prog="sdd score", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path, help="a model directory written by the train stage")
    ap.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    ap.add_argument("--num-samples", type=int, default=ScoreParams.num_samples)
    ap.add_argument("--batch-size", type=int, default=ScoreParams.batch_size)
    args = ap.parse_args(argv)
    from sdd.models.detector import load_detector

    try:
        files = _expand(args.inputs)
        model, arm = load_detector(args.model)
        scores = score_paths(
            model,
            files,
            ScoreParams(num_samples=args.num_samples, batch_size=args.batch_size),
            arm.sample_rate,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"sdd score: {exc}", file=sys.stderr)
        return 1
    for f, s in zip(files, scores, strict=True):
        print(f"{f}\t{s:.6f}")
    return 0
