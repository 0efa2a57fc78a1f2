"""Scoring: a detector -> log-odds of bona fide per utterance (higher = more bona fide).

Each utterance is read at 16 kHz (resampled when the file has another rate) and scored on its first
``num_samples`` samples, repeat-padded when shorter (AASIST's evaluation protocol, 64,600 samples by
default), so every batch has one shape and batched scoring equals per-item scoring.

:func:`load_scorer` turns a model spec into a module mapping waves ``(B, T)`` to logits ``(B, 2)``
(column 0 spoof, column 1 bona fide) and its input length. Specs are kinds in :data:`SCORERS`:

- ``models/<arm>`` (no prefix): a checkpoint written by the train stage;
- ``aasist:<path>``: the published AASIST or AASIST-L (``<path>`` a ``.pth`` with its ``.conf``
  beside it, or a folder holding one of each; see :mod:`sdd.models.pretrained`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sdd import atomic
from sdd.params import ScoreParams

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

__all__ = ["SAMPLE_RATE", "SCORERS", "ScorerKind", "cli_main", "load_scorer", "score_paths", "write_scores"]

AUDIO_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3")
#: The rate every scorer takes its input at (Hz).
SAMPLE_RATE = 16000


def _load_checkpoint(path: str) -> tuple[nn.Module, int]:
    """A train-stage checkpoint; its input length is the one it was selected on (``train.dev_samples``)."""
    from sdd.models.detector import load_detector

    model, arm = load_detector(path)
    if arm.sample_rate != SAMPLE_RATE:
        raise ValueError(f"{path}: trained at {arm.sample_rate} Hz; scorers take {SAMPLE_RATE} Hz input")
    return model, arm.train.dev_samples


def _load_aasist(path: str) -> tuple[nn.Module, int]:
    """The published AASIST / AASIST-L; its input length is the ``.conf``'s ``nb_samp`` (64,600)."""
    from sdd.models.pretrained import load_aasist

    model, config = load_aasist(path)
    return model, config.nb_samp


@dataclass(frozen=True)
class ScorerKind:
    """One kind of model spec.

    Attributes:
        load: ``path -> (module in eval mode, input samples)``.
        batch_size: ``sdd score``'s default batch size (AASIST's activations take about 190 MB per
            64,600-sample clip).
        usage: the spec's form, for help and error messages.
    """

    load: Callable[[str], tuple[nn.Module, int]]
    batch_size: int
    usage: str


#: Spec prefix -> kind. A spec without a known prefix is a train-stage checkpoint (:data:`CHECKPOINT`).
SCORERS: dict[str, ScorerKind] = {
    "aasist": ScorerKind(_load_aasist, 8, "aasist:<AASIST.pth, or a folder holding one .pth and its .conf>"),
}
CHECKPOINT = ScorerKind(_load_checkpoint, ScoreParams.batch_size, "models/<arm> (written by the train stage)")


def _kind(spec: str) -> tuple[ScorerKind, str]:
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in SCORERS:
        if not rest:
            raise ValueError(f"--model {spec}: no path after {prefix}:; expected {SCORERS[prefix].usage}")
        return SCORERS[prefix], rest
    if sep and not Path(spec).exists():
        forms = [CHECKPOINT.usage] + [k.usage for k in SCORERS.values()]
        raise ValueError(f"--model {spec}: unknown model kind {prefix!r}; expected {' or '.join(forms)}")
    return CHECKPOINT, spec


def load_scorer(spec: str) -> tuple[nn.Module, int]:
    """Load the model named by ``spec`` for scoring.

    Args:
        spec: ``models/<arm>`` or ``aasist:<path>`` (module docstring).

    Returns:
        ``(module, input_samples)``: the module, in eval mode, maps float32 waves ``(B, T)`` at
        :data:`SAMPLE_RATE` to logits ``(B, 2)`` (spoof, bona fide); score it on the first
        ``input_samples`` samples of each utterance, repeat-padded (:func:`score_paths` does).
    """
    kind, path = _kind(spec)
    return kind.load(path)


def score_paths(
    model: nn.Module, paths: Sequence[Path], params: ScoreParams, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Log-odds (N,) float64 for the audio files ``paths`` (absolute or cwd-relative).

    ``model`` maps ``(B, params.num_samples)`` waves at ``sample_rate`` to logits ``(B, 2)`` (spoof,
    bona fide): a :class:`~sdd.models.detector.Detector` or any module from :func:`load_scorer`.
    """
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
    model: nn.Module, manifest: pd.DataFrame, params: ScoreParams, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Scores for a manifest (paths relative to the repo root); ``model`` as in :func:`score_paths`."""
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
    """``sdd score --model SPEC FILE_OR_DIR...``: one ``path<TAB>score`` line per file."""
    ap = argparse.ArgumentParser(prog="sdd score", description=__doc__.splitlines()[0])
    forms = " | ".join([CHECKPOINT.usage] + [k.usage for k in SCORERS.values()])
    ap.add_argument("--model", required=True, help=f"the model: {forms}")
    ap.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    ap.add_argument("--num-samples", type=int, help="score the first N samples (default: the model's input)")
    batch_sizes = "; ".join(f"{p}: {k.batch_size}" for p, k in SCORERS.items())
    ap.add_argument("--batch-size", type=int, help=f"default: {CHECKPOINT.batch_size}; {batch_sizes}")
    args = ap.parse_args(argv)
    try:
        kind, path = _kind(args.model)
        files = _expand(args.inputs)
        model, input_samples = kind.load(path)
        params = ScoreParams(
            num_samples=input_samples if args.num_samples is None else args.num_samples,
            batch_size=kind.batch_size if args.batch_size is None else args.batch_size,
        )
        scores = score_paths(model, files, params, SAMPLE_RATE)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"sdd score: {exc}", file=sys.stderr)
        return 1
    for f, s in zip(files, scores, strict=True):
        print(f"{f}\t{s:.6f}")
    return 0
