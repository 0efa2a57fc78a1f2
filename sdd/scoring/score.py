"""Scoring: a detector -> log-odds of bona fide per utterance (higher = more bona fide).

Each utterance is read at 16 kHz (resampled when the file has another rate) and scored on its first
``num_samples`` samples, repeat-padded when shorter (AASIST's evaluation protocol, 64,600 samples by
default), so every batch has one shape and batched scoring equals per-item scoring.

:func:`load_scorer` turns a model spec into a module mapping waves ``(B, T)`` to logits ``(B, 2)``
(column 0 spoof, column 1 bona fide) and its input length. Specs are kinds in :data:`SCORERS`:

- ``models/<arm>`` (no prefix): a checkpoint written by the train stage;
- ``aasist:<path>``: the published AASIST or AASIST-L (``<path>`` a ``.pth`` with its ``.conf``
  beside it, or a folder holding one of each; see :mod:`sdd.models.published`).

``sdd score`` (:func:`cli_main`) scores files and folders for any user: any format and rate soundfile
reads, decoded only as far as the input needs (bounded memory on long files), a progress bar on
stderr, a ``bonafide``/``spoof`` column with ``--decisions`` at the dev-EER threshold stored with a
checkpoint (:func:`sdd.models.detector.read_decision_threshold`) or ``--threshold``; an unreadable file
is reported on stderr and the others are still scored.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sdd.core import atomic
from sdd.core.sections import ScoreParams

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

log = logging.getLogger(__name__)

__all__ = [
    "SAMPLE_RATE",
    "SCORERS",
    "ScorerKind",
    "cli_main",
    "iter_scores",
    "load_scorer",
    "score_paths",
    "write_scores",
]

#: Suffixes ``sdd score`` picks up when it searches a folder (formats libsndfile decodes); a file named
#: on the command line is tried whatever its suffix.
AUDIO_SUFFIXES = (
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd",
    ".caf", ".w64", ".rf64", ".sph", ".voc",
)  # fmt: skip
#: The rate every scorer takes its input at (Hz).
SAMPLE_RATE = 16000


def _load_checkpoint(path: str) -> tuple[nn.Module, int]:
    """A train-stage checkpoint; its input length is the one it was selected on (``train.dev_samples``)."""
    from sdd.models.detector import load_detector

    model, arm = load_detector(path, lite=True)  # no transformers import when the backbone allows
    if arm["sample_rate"] != SAMPLE_RATE:
        raise ValueError(f"{path}: trained at {arm['sample_rate']} Hz; scorers take {SAMPLE_RATE} Hz input")
    return model, int(arm["train"]["dev_samples"])


def _load_aasist(path: str) -> tuple[nn.Module, int]:
    """The published AASIST / AASIST-L; its input length is the ``.conf``'s ``nb_samp`` (64,600)."""
    from sdd.models.published import load_aasist

    model, config = load_aasist(path)
    return model, config.nb_samp


def _no_threshold(path: str) -> float | None:
    del path
    return None


def _checkpoint_threshold(path: str) -> float | None:
    """The dev-EER threshold the train stage stored in ``<path>/config.json`` (None if absent)."""
    from sdd.models.detector import read_decision_threshold

    return read_decision_threshold(path)


@dataclass(frozen=True)
class ScorerKind:
    """One kind of model spec.

    Attributes:
        load: ``path -> (module in eval mode, input samples)``.
        batch_size: ``sdd score``'s default batch size (AASIST's activations take about 190 MB per
            64,600-sample clip).
        usage: the spec's form, for help and error messages.
        threshold: ``path -> the decision threshold stored with the model`` (its dev EER threshold),
            or None when this kind stores none.
    """

    load: Callable[[str], tuple[nn.Module, int]]
    batch_size: int
    usage: str
    threshold: Callable[[str], float | None] = _no_threshold


#: Spec prefix -> kind. A spec without a known prefix is a train-stage checkpoint (:data:`CHECKPOINT`).
SCORERS: dict[str, ScorerKind] = {
    "aasist": ScorerKind(_load_aasist, 8, "aasist:<AASIST.pth, or a folder holding one .pth and its .conf>"),
}
CHECKPOINT = ScorerKind(
    _load_checkpoint,
    ScoreParams.batch_size,
    "models/<arm> (written by the train stage)",
    _checkpoint_threshold,
)


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


def iter_scores(
    model: nn.Module,
    paths: Sequence[Path],
    params: ScoreParams,
    sample_rate: int = SAMPLE_RATE,
    *,
    skip_bad: bool = False,
) -> Iterator[tuple[Path, float | None, str | None]]:
    """Score audio files batch by batch: ``(path, score, None)`` per file, in order.

    Each file is read at ``sample_rate`` (resampled, channels averaged) and only as far as its first
    ``params.num_samples`` samples need (:func:`sdd.audio.io.read_audio`'s ``max_samples``), then
    repeat-padded when shorter; memory is bounded by the batch, whatever the files' lengths.

    Args:
        model: maps ``(B, params.num_samples)`` waves at ``sample_rate`` to logits ``(B, 2)`` (spoof,
            bona fide): a :class:`~sdd.models.detector.Detector` or any module from :func:`load_scorer`.
        paths: audio files (absolute or cwd-relative).
        params: input length, batch size, torch threads.
        sample_rate: the model's input rate.
        skip_bad: a file that cannot be read yields ``(path, None, reason)`` and the others are still
            scored; otherwise its :class:`~sdd.audio.io.AudioError` is raised.
    """
    import torch

    from sdd.audio.crop import crop_or_pad
    from sdd.audio.io import AudioError, read_audio
    from sdd.models.detector import Detector

    torch.set_num_threads(params.threads)
    with torch.no_grad():
        for start in range(0, len(paths), params.batch_size):
            chunk = list(paths[start : start + params.batch_size])
            results: list[tuple[Path, float | None, str | None]] = [(p, None, None) for p in chunk]
            waves, ok = [], []
            for i, p in enumerate(chunk):
                try:
                    wave, _ = read_audio(p, sample_rate, max_samples=params.num_samples)
                except AudioError as exc:
                    if not skip_bad:
                        raise
                    results[i] = (p, None, str(exc))
                    continue
                waves.append(crop_or_pad(wave, params.num_samples))
                ok.append(i)
            if waves:
                scores = Detector.scores(model(torch.from_numpy(np.stack(waves)))).double().numpy()
                for i, v in zip(ok, scores, strict=True):
                    results[i] = (chunk[i], float(v), None)
            yield from results


def score_paths(
    model: nn.Module, paths: Sequence[Path], params: ScoreParams, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Log-odds (N,) float64 for the audio files ``paths`` (absolute or cwd-relative).

    ``model`` maps ``(B, params.num_samples)`` waves at ``sample_rate`` to logits ``(B, 2)`` (spoof,
    bona fide): a :class:`~sdd.models.detector.Detector` or any module from :func:`load_scorer`. A file
    that cannot be read raises :class:`~sdd.audio.io.AudioError` naming it.
    """
    return np.array([s for _, s, _ in iter_scores(model, paths, params, sample_rate)], dtype=np.float64)


def write_scores(path: Path, utt_ids: Sequence[str], scores: np.ndarray) -> None:
    """Write ``utt_id score`` lines (the official ASVspoof score-file format) atomically."""
    atomic.write_text(path, "".join(f"{u} {s:.8f}\n" for u, s in zip(utt_ids, scores, strict=True)))


def score_manifest(
    model: nn.Module, manifest: pd.DataFrame, params: ScoreParams, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Scores for a manifest (paths relative to the repo root); ``model`` as in :func:`score_paths`."""
    from sdd.core.paths import resolve

    return score_paths(model, [resolve(p) for p in manifest["path"]], params, sample_rate)


def _expand(inputs: Sequence[str]) -> tuple[list[Path], list[str], list[str]]:
    """Files to score (folders searched recursively, by suffix), missing inputs, and empty folders."""
    files: list[Path] = []
    missing: list[str] = []
    empty: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                empty.append(f"{p}: no audio files in this folder (suffixes {' '.join(AUDIO_SUFFIXES)})")
            files += found
        elif p.is_file():
            files.append(p)  # named explicitly: tried whatever its suffix
        else:
            missing.append(f"{p}: no such file or directory")
    return files, missing, empty


EXAMPLES = """\
examples:
  # one line per file: path<TAB>score (log-odds of bona fide: higher = more bona fide)
  sdd score --model models/main clip.flac other.wav

  # every audio file under a folder, with a bona fide/spoof column at the dev-EER threshold stored
  # with the model, and a progress bar on stderr
  sdd score --model models/main --decisions --progress recordings/ > scores.tsv

  # the published AASIST stores no threshold: give one for --decisions
  sdd score --model aasist:data/published/aasist --decisions --threshold 0 clips/
"""


def cli_main(argv: list[str]) -> int:
    """``sdd score --model SPEC FILE_OR_DIR...``: one ``path<TAB>score[<TAB>decision]`` line per file.

    Returns 0 when every file was scored, 1 when some could not be read (each is reported on stderr
    and the others are scored), 2 on a usage or model error (nothing is scored).
    """
    ap = argparse.ArgumentParser(
        prog="sdd score",
        description="Score audio files with a detector: one 'path<TAB>score' line per file on stdout. "
        "Any format and sample rate soundfile reads (resampled to 16 kHz), mono or multichannel "
        "(averaged); the score uses the first --num-samples samples, repeat-padded when shorter.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    forms = " | ".join([CHECKPOINT.usage] + [k.usage for k in SCORERS.values()])
    ap.add_argument("--model", required=True, help=f"the model: {forms}")
    ap.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    ap.add_argument("--num-samples", type=int, help="score the first N samples (default: the model's input)")
    batch_sizes = "; ".join(f"{p}: {k.batch_size}" for p, k in SCORERS.items())
    ap.add_argument("--batch-size", type=int, help=f"default: {CHECKPOINT.batch_size}; {batch_sizes}")
    ap.add_argument(
        "--decisions",
        action="store_true",
        help="add a third column, bonafide or spoof (bonafide when score > threshold), at the dev-EER "
        "threshold stored with the model",
    )
    ap.add_argument(
        "--threshold",
        type=float,
        help="with --decisions: decide at this score instead (a negative one as --threshold=-1.5)",
    )
    ap.add_argument(
        "--progress", action="store_true", help="progress bar on stderr even when stderr is not a terminal"
    )
    args = ap.parse_args(argv)
    try:
        kind, path = _kind(args.model)
        threshold = _decision_threshold(args, kind, path)
        files, missing, empty = _expand(args.inputs)
        if not files:
            raise ValueError("no audio files to score: " + "; ".join(missing + empty))
        model, input_samples = kind.load(path)
        params = ScoreParams(
            num_samples=input_samples if args.num_samples is None else args.num_samples,
            batch_size=kind.batch_size if args.batch_size is None else args.batch_size,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"sdd score: {exc}", file=sys.stderr)
        return 2
    for msg in missing + empty:
        print(f"sdd score: {msg}", file=sys.stderr)
    failed = _score_and_print(model, files, params, threshold, progress=args.progress) + len(missing)
    if failed:
        total = len(files) + len(missing)
        print(f"sdd score: {failed} of {total} inputs could not be scored (listed above)", file=sys.stderr)
        return 1
    return 0


def _decision_threshold(args: argparse.Namespace, kind: ScorerKind, path: str) -> float | None:
    if not args.decisions:
        if args.threshold is not None:
            raise ValueError("--threshold goes with --decisions")
        return None
    if args.threshold is not None:
        if not math.isfinite(args.threshold):
            raise ValueError(f"--threshold {args.threshold}: expected a finite score")
        return args.threshold
    threshold = kind.threshold(path)
    if threshold is None:
        if kind is CHECKPOINT:
            raise ValueError(
                f"--decisions: {Path(path) / 'config.json'} stores no decision threshold (the model was "
                f"trained before the train stage stored its dev-EER threshold); re-run its train stage, "
                f"or pass --threshold X"
            )
        raise ValueError(
            f"--decisions: {args.model}: this kind of model has no dev-EER threshold stored with it; "
            f"pass --threshold X (bona fide when score > X)"
        )
    return threshold


def _score_and_print(
    model: nn.Module, files: list[Path], params: ScoreParams, threshold: float | None, *, progress: bool
) -> int:
    """Print ``path<TAB>score[<TAB>decision]`` lines as batches finish, each unreadable file on stderr;
    returns how many could not be read."""
    from tqdm import tqdm

    bar = tqdm(
        total=len(files), unit="file", file=sys.stderr, disable=not (progress or sys.stderr.isatty())
    )
    failed = 0
    with bar:
        for path, score, error in iter_scores(model, files, params, SAMPLE_RATE, skip_bad=True):
            bar.update(1)
            if score is None:
                failed += 1
                bar.write(f"sdd score: {error}", file=sys.stderr)
                continue
            line = f"{path}\t{score:.6f}"
            if threshold is not None:
                line += "\t" + ("bonafide" if score > threshold else "spoof")
            print(line, flush=True)
    return failed
