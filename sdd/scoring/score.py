"""Scoring: a detector -> a score per utterance, ``logit(bona fide) - logit(spoof)`` (higher = more bona
fide; log-odds only in form: nothing calibrates them, so only a threshold of the same model, such as
its stored dev-EER threshold, turns a score into a decision).

Each utterance is read at 16 kHz (resampled when the file has another rate) and scored under one of
two input rules (``score.input``, :data:`sdd.core.sections.INPUT_RULES`):

- ``first_n_samples``: its first ``num_samples`` samples, repeat-padded when shorter (AASIST's
  evaluation protocol, 64,600 samples by default), so every batch has one shape;
- ``whole_utterance``: the whole utterance, neither cut nor padded. Utterances of different lengths
  are never padded to a common one: each batch of files is split into groups of equal length, one
  forward pass per group (one utterance per pass when all lengths differ), so no padding can change a
  score.

Under both rules batched scoring equals per-item scoring.

:func:`load_scorer` turns a model spec into a module mapping waves ``(B, T)`` to logits ``(B, 2)``
(column 0 spoof, column 1 bona fide) and its input length. Specs are kinds in :data:`SCORERS`:

- ``models/<arm>`` (no prefix): a checkpoint written by the train stage;
- ``aasist:<path>``: the published AASIST or AASIST-L (``<path>`` a ``.pth`` with its ``.conf``
  beside it, or a folder holding one of each; see :mod:`sdd.models.published`).

``sdd score`` (:func:`cli_main`) scores files and folders for any user: any format and rate soundfile
reads, decoded only as far as the input needs (bounded memory on long files), a progress bar on
stderr, a ``#`` header saying what the scores are, a ``bonafide``/``spoof`` column with ``--decisions``
at the dev-EER threshold stored with a checkpoint (its source printed in the header) or
``--threshold``, trial ids instead of paths with ``--ids`` (the output feeds ``sdd evaluate``), and
warnings on stderr for a model trained on the demo corpus and for inputs :mod:`sdd.audio.quality`
flags; an unreadable file is reported on stderr and the others are still scored. Every argument and
the model's record are checked before the weights are loaded (:func:`_plan`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sdd.core import atomic
from sdd.core.sections import INPUT_RULES, ScoreParams

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

log = logging.getLogger(__name__)

__all__ = [
    "SAMPLE_RATE",
    "SCORERS",
    "SCORE_DECIMALS",
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
#: Decimals of a score in a score file (:func:`write_scores`).
SCORE_DECIMALS = 8


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


#: ``sdd score --num-samples`` upper bound: one minute at :data:`SAMPLE_RATE`. Memory and time grow
#: with the input length (attention layers quadratically); no model here was trained or selected on
#: inputs near this long.
MAX_NUM_SAMPLES = 60 * SAMPLE_RATE
#: ``sdd score --batch-size`` upper bound.
MAX_BATCH_SIZE = 256
#: The corpus name of the built-in synthetic demo corpus (``params.yaml``'s ``corpora.demo``): a model
#: trained on it gets a notice that its scores on real speech mean nothing.
DEMO_CORPUS = "demo"


class ModelSpecError(ValueError):
    """``--model`` names no scorer (missing, not a trained arm, unknown kind); the message says which."""


@dataclass(frozen=True)
class ModelRecord:
    """What ``sdd score`` says about a model, read from its files before any weights are loaded.

    Attributes:
        summary: one phrase for the output's header (arm, seed, training corpus).
        corpus: the corpus it was trained on (a name), or None when unknown.
        input_samples: its input length when the record says (None: known once loaded).
        threshold: the decision threshold stored with it (its dev EER threshold), or None.
        threshold_source: where ``threshold`` comes from, for the header, or None.
    """

    summary: str
    corpus: str | None = None
    input_samples: int | None = None
    threshold: float | None = None
    threshold_source: str | None = None


def _aasist_record(path: str) -> ModelRecord:
    del path
    return ModelRecord("published AASIST weights, trained by their authors on ASVspoof 2019 LA train",
                       corpus="ASVspoof 2019 LA")  # fmt: skip


def _arm_config(path: str) -> tuple[Path, dict]:
    """The folder and the parsed ``config.json`` of a train-stage checkpoint; a :class:`ModelSpecError`
    naming what the folder holds instead (a backbone, a scoring-only arm, several seeds, nothing)."""
    import json

    from sdd.core.textfile import TextEncodingError, read_text
    from sdd.models.detector import resolve_model_dir

    expected = "expected a trained arm's folder written by the train stage (models/<arm>/s<seed>)"
    given = Path(path)
    if not given.exists():
        raise ModelSpecError(f"--model {path}: no such file or directory; {expected}")
    try:
        folder = resolve_model_dir(given)
    except ValueError as exc:
        raise ModelSpecError(f"--model {exc}") from None
    record = folder / "published.json"
    if record.is_file():
        raise ModelSpecError(
            f"--model {folder}: a scoring-only arm (published weights, {record.name}); score its weights "
            f"with --model <the spec in {record}>, e.g. aasist:<path>"
        )
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise ModelSpecError(f"--model {folder}: no config.json; {expected}")
    try:
        meta = json.loads(read_text(cfg_path))
    except (TextEncodingError, json.JSONDecodeError) as exc:
        raise ModelSpecError(
            f"--model {folder}: config.json is not readable JSON ({exc}); {expected}"
        ) from None
    arm = meta.get("arm") if isinstance(meta, dict) else None
    if not isinstance(arm, dict):
        what = "a backbone's config (no 'arm' record)" if isinstance(meta, dict) else "not a JSON object"
        raise ModelSpecError(f"--model {folder}: not a trained arm: its config.json is {what}; {expected}")
    missing = [k for k in ("sample_rate", "train", "model") if k not in arm]
    if missing or not isinstance(arm["train"], dict) or not isinstance(arm["train"].get("dev_samples"), int):
        raise ModelSpecError(
            f"--model {folder}: config.json's arm record lacks {missing or ['train.dev_samples']}; {expected}"
        )
    if not (folder / "model.safetensors").is_file():
        raise ModelSpecError(f"--model {folder}: no model.safetensors beside config.json; {expected}")
    return folder, meta


def _checkpoint_record(path: str) -> ModelRecord:
    """A trained arm's record: arm, seed, training corpus, input length, and the dev-EER threshold the
    train stage stored (``decision_threshold``), with where it came from."""
    folder, meta = _arm_config(path)
    arm = meta["arm"]
    corpus = arm.get("corpus")
    n = int(arm["train"]["dev_samples"])
    summary = f"arm {arm.get('name', '?')}, seed {arm.get('seed', '?')}, trained on corpus {corpus or '?'}"
    rec = meta.get("decision_threshold")
    threshold = source = None
    if rec is not None:
        try:
            threshold = float(rec["threshold"])
        except (TypeError, KeyError, ValueError):
            raise ModelSpecError(
                f"--model {folder}: config.json's decision_threshold is {rec!r}; expected "
                f"{{'threshold': <number>, ...}}"
            ) from None
        eer = rec.get("dev_eer")
        eer_text = f"{100 * float(eer):.2f}%" if isinstance(eer, int | float) else "?"
        source = (
            f"the EER threshold of corpus {corpus or '?'}'s dev split (dev EER {eer_text}), first {n} "
            f"samples, stored in {folder / 'config.json'}"
        )
    return ModelRecord(summary, corpus, n, threshold, source)


@dataclass(frozen=True)
class ScorerKind:
    """One kind of model spec.

    Attributes:
        load: ``path -> (module in eval mode, input samples)``.
        batch_size: ``sdd score``'s default batch size (AASIST's activations take about 190 MB per
            64,600-sample clip).
        usage: the spec's form, for help and error messages.
        describe: ``path -> ModelRecord``, from the model's files without loading its weights (a
            :class:`ModelSpecError` when the path holds no model of this kind); its ``threshold`` is
            the decision threshold stored with the model, None when this kind stores none.
    """

    load: Callable[[str], tuple[nn.Module, int]]
    batch_size: int
    usage: str
    describe: Callable[[str], ModelRecord]


#: Spec prefix -> kind. A spec without a known prefix is a train-stage checkpoint (:data:`CHECKPOINT`).
SCORERS: dict[str, ScorerKind] = {
    "aasist": ScorerKind(
        _load_aasist, 8, "aasist:<AASIST.pth, or a folder holding one .pth and its .conf>", _aasist_record
    ),
}
CHECKPOINT = ScorerKind(
    _load_checkpoint,
    ScoreParams.batch_size,
    "models/<arm>/s<seed> (written by the train stage)",
    _checkpoint_record,
)


def _kind(spec: str) -> tuple[ScorerKind, str]:
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in SCORERS:
        if not rest:
            raise ModelSpecError(f"--model {spec}: no path after {prefix}:; expected {SCORERS[prefix].usage}")
        return SCORERS[prefix], rest
    if sep and not Path(spec).exists():
        forms = [CHECKPOINT.usage] + [k.usage for k in SCORERS.values()]
        raise ModelSpecError(f"--model {spec}: unknown model kind {prefix!r}; expected {' or '.join(forms)}")
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
    on_warning: Callable[[Path, list[str]], None] | None = None,
) -> Iterator[tuple[Path, float | None, str | None]]:
    """Score audio files batch by batch: ``(path, score, None)`` per file, in order.

    Each file is read at ``sample_rate`` (resampled, channels averaged). Under ``first_n_samples`` it
    is read only as far as its first ``params.num_samples`` samples need
    (:func:`sdd.audio.io.read_audio`'s ``max_samples``), then repeat-padded when shorter; memory is
    bounded by the batch, whatever the files' lengths. Under ``whole_utterance`` (``params.whole``) it
    is read whole and scored as it is: the batch is split into groups of equal length and each group is
    one forward pass, so no utterance is padded, cut or mixed with another length; memory grows with
    the batch's longest files, and an utterance the model cannot take whole (too short for its
    convolutions, too long for memory) is an :class:`~sdd.audio.io.AudioError` naming it and its
    length (with ``skip_bad``, its reason).

    Args:
        model: maps ``(B, T)`` waves at ``sample_rate`` to logits ``(B, 2)`` (spoof, bona fide), ``T``
            the input length (``params.num_samples``, or each utterance's own length): a
            :class:`~sdd.models.detector.Detector` or any module from :func:`load_scorer`.
        paths: audio files (absolute or cwd-relative).
        params: input rule and length, batch size, torch threads.
        sample_rate: the model's input rate.
        skip_bad: a file that cannot be read yields ``(path, None, reason)`` and the others are still
            scored; otherwise its :class:`~sdd.audio.io.AudioError` is raised.
        on_warning: called ``(path, messages)`` for each file the checks of :mod:`sdd.audio.quality`
            flag (too short for the input, silent, clipped, channels cancelling), before its score is
            yielded; the samples scored are the same with or without it.
    """
    import torch

    from sdd.audio.crop import crop_or_pad
    from sdd.audio.io import AudioError, mixdown, read_frames
    from sdd.audio.quality import ClipView, clip_warnings
    from sdd.models.detector import Detector

    torch.set_num_threads(params.threads)
    n = params.num_samples  # None: whole utterances
    with torch.no_grad():
        for start in range(0, len(paths), params.batch_size):
            chunk = list(paths[start : start + params.batch_size])
            results: list[tuple[Path, float | None, str | None]] = [(p, None, None) for p in chunk]
            # input length -> (indices in chunk, waves): one forward pass per length, never padded
            groups: dict[int, tuple[list[int], list[np.ndarray]]] = {}
            for i, p in enumerate(chunk):
                try:
                    frames, file_rate = read_frames(p, sample_rate, max_samples=n)
                except AudioError as exc:
                    if not skip_bad:
                        raise
                    results[i] = (p, None, str(exc))
                    continue
                wave, _ = mixdown(frames, file_rate, sample_rate, max_samples=n)
                if on_warning is not None:
                    view = ClipView(frames, file_rate, wave, wave.size if n is None else n, sample_rate)
                    if messages := clip_warnings(view):
                        on_warning(p, messages)
                x = wave if n is None else crop_or_pad(wave, n)
                idx, xs = groups.setdefault(x.size, ([], []))
                idx.append(i)
                xs.append(x)
            for idx, xs in groups.values():
                try:
                    logits = model(torch.from_numpy(np.stack(xs)))
                except RuntimeError as exc:
                    if n is not None:
                        raise
                    # a whole utterance too short for the model's convolutions, or too long for memory
                    size = xs[0].size
                    why = (f"the model fails on this input scored whole, {size} samples at {sample_rate} Hz "
                           f"({size / sample_rate:.3f} s): {str(exc).splitlines()[0]}")  # fmt: skip
                    if not skip_bad:
                        raise AudioError(f"{chunk[idx[0]]}: {why}") from exc
                    for i in idx:
                        results[i] = (chunk[i], None, f"{chunk[i]}: {why}")
                    continue
                scores = Detector.scores(logits).double().numpy()
                for i, v in zip(idx, scores, strict=True):
                    results[i] = (chunk[i], float(v), None)
            yield from results


def score_paths(
    model: nn.Module, paths: Sequence[Path], params: ScoreParams, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Log-odds (N,) float64 for the audio files ``paths`` (absolute or cwd-relative).

    ``model`` maps ``(B, T)`` waves at ``sample_rate`` to logits ``(B, 2)`` (spoof, bona fide): a
    :class:`~sdd.models.detector.Detector` or any module from :func:`load_scorer`; ``params`` as in
    :func:`iter_scores`. A file that cannot be read raises :class:`~sdd.audio.io.AudioError` naming it.
    """
    return np.array([s for _, s, _ in iter_scores(model, paths, params, sample_rate)], dtype=np.float64)


def write_scores(path: Path, utt_ids: Sequence[str], scores: np.ndarray) -> None:
    """Write ``utt_id score`` lines (the official ASVspoof score-file format) atomically."""
    atomic.write_text(
        path, "".join(f"{u} {s:.{SCORE_DECIMALS}f}\n" for u, s in zip(utt_ids, scores, strict=True))
    )


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


EXAMPLES = f"""\
output:
  a header line '# sdd score: model=..., ...' saying what the scores are and, with --decisions, a
  second '# threshold: ...' line saying where the threshold comes from; then one line per file:
  path<TAB>score[<TAB>decision] (--ids: trial id = file name without suffix, instead of the path).
  A score is logit(bona fide) - logit(spoof) of the model's output layer: higher = more bona fide;
  not calibrated log-odds (only the threshold of the same model turns it into a decision). Warnings
  on stderr: a notice when the model was trained on the synthetic demo corpus, and per file when it
  is too short for the model's input (repeat-padded), digitally silent, clipped, or a stereo file
  whose channels cancel when mixed down.

examples:
  sdd score --model models/main/s0 clip.flac other.wav

  # every audio file under a folder, with a bonafide/spoof column at the dev-EER threshold stored
  # with the model, and a progress bar on stderr
  sdd score --model models/main/s0 --decisions --progress recordings/ > scores.tsv

  # trial ids (file stems) for `sdd evaluate` (it skips the '#' header line)
  sdd score --model models/main/s0 --ids LA/ASVspoof2019_LA_eval/flac/ > scores.txt
  sdd evaluate --scores scores.txt --format asvspoof2019 --out metrics.json \\
      --protocol LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt

  # the published AASIST stores no threshold: give one for --decisions
  sdd score --model aasist:data/published/aasist --decisions --threshold 0 clips/

  # whole utterances, neither cut nor padded (the stored threshold was set on the first N samples:
  # --decisions then needs --threshold)
  sdd score --model models/main/s0 --input whole_utterance --ids eval_clips/ > scores.txt

limits: --num-samples 1 to {MAX_NUM_SAMPLES:,} (one minute at 16 kHz); --batch-size 1 to {MAX_BATCH_SIZE}.
"""


@dataclass(frozen=True)
class _Plan:
    """Everything ``sdd score`` checked before loading the model."""

    kind: ScorerKind
    path: str
    record: ModelRecord
    threshold: float | None
    threshold_source: str | None
    files: list[Path]
    missing: list[str]
    empty: list[str]


def _parser() -> argparse.ArgumentParser:
    from sdd.core.cliargs import Parser, finite_float, int_in

    ap = Parser(
        prog="sdd score",
        description="Score audio files with a detector: a header line, then one 'path<TAB>score' line "
        "per file on stdout. Any format and sample rate soundfile reads (resampled to 16 kHz), mono or "
        "multichannel (averaged); the score uses the first --num-samples samples, repeat-padded when "
        "shorter, or with --input whole_utterance the whole file, neither cut nor padded.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    forms = " | ".join([CHECKPOINT.usage] + [k.usage for k in SCORERS.values()])
    ap.add_argument("--model", required=True, help=f"the model: {forms}")
    ap.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    ap.add_argument(
        "--input",
        choices=list(INPUT_RULES),
        default="first_n_samples",
        help="what of each file is scored: "
        + "; ".join(f"{k}: {v.replace('score.num_samples', '--num-samples')}" for k, v in INPUT_RULES.items())
        + " (default: first_n_samples)",
    )
    ap.add_argument(
        "--num-samples",
        type=int_in(1, MAX_NUM_SAMPLES),
        help=f"score the first N samples (default: the model's input; at most {MAX_NUM_SAMPLES:,}); "
        "with --input first_n_samples only",
    )
    batch_sizes = "; ".join(f"{p}: {k.batch_size}" for p, k in SCORERS.items())
    ap.add_argument(
        "--batch-size",
        type=int_in(1, MAX_BATCH_SIZE),
        help=f"default: {CHECKPOINT.batch_size}; {batch_sizes}; at most {MAX_BATCH_SIZE}",
    )
    ap.add_argument(
        "--ids",
        action="store_true",
        help="first column: the trial id (file name without its suffix, as in ASVspoof protocols) "
        "instead of the path, so the output feeds `sdd evaluate --scores`",
    )
    ap.add_argument(
        "--decisions",
        action="store_true",
        help="add a third column, bonafide or spoof (bonafide when score > threshold), at the dev-EER "
        "threshold stored with the model",
    )
    ap.add_argument(
        "--threshold",
        type=finite_float,
        help="with --decisions: decide at this score instead (a negative one as --threshold=-1.5)",
    )
    ap.add_argument(
        "--progress", action="store_true", help="progress bar on stderr even when stderr is not a terminal"
    )
    return ap


def _plan(args: argparse.Namespace) -> _Plan:
    """Every check that needs no weights: the model's record, the threshold, the inputs, the ids."""
    kind, path = _kind(args.model)
    if args.threshold is not None and not args.decisions:
        raise ValueError("--threshold goes with --decisions")
    if args.input == "whole_utterance" and args.num_samples is not None:
        raise ValueError(
            f"--num-samples {args.num_samples} with --input whole_utterance: whole utterances are neither "
            "cut nor padded; drop --num-samples, or use --input first_n_samples"
        )
    record = kind.describe(path)
    threshold, source = _decision_threshold(args, kind, path, record)
    files, missing, empty = _expand(args.inputs)
    if not files:
        raise ValueError("no audio files to score: " + "; ".join(missing + empty))
    if args.ids:
        by_id: dict[str, Path] = {}
        for f in files:
            if f.stem in by_id:
                raise ValueError(
                    f"--ids: {by_id[f.stem]} and {f} have the same trial id {f.stem!r} (the file name "
                    f"without its suffix); score them separately or drop --ids"
                )
            by_id[f.stem] = f
    return _Plan(kind, path, record, threshold, source, files, missing, empty)


def cli_main(argv: list[str]) -> int:
    """``sdd score --model SPEC FILE_OR_DIR...``: a ``#`` header, then one ``path<TAB>score[<TAB>decision]``
    line per file (``--ids``: the file's stem instead of its path).

    Every argument, the model's record and the inputs are checked before the weights are loaded.
    Returns 0 when every file was scored, 1 when some could not be read (each is reported on stderr
    and the others are scored), 2 on a usage or model error (nothing is scored).
    """
    args = _parser().parse_args(argv)
    try:
        plan = _plan(args)
        model, input_samples = plan.kind.load(plan.path)
        whole = args.input == "whole_utterance"
        params = ScoreParams(
            input=args.input,
            num_samples=None if whole else input_samples if args.num_samples is None else args.num_samples,
            batch_size=plan.kind.batch_size if args.batch_size is None else args.batch_size,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"sdd score: {exc}", file=sys.stderr)
        return 2
    if plan.record.corpus == DEMO_CORPUS:
        print(
            f"sdd score: notice: {args.model} was trained on the synthetic demo corpus only (corpus "
            f"{DEMO_CORPUS!r}): a pipeline check, not a detector; its scores on real speech mean nothing",
            file=sys.stderr,
        )
    for msg in plan.missing + plan.empty:
        print(f"sdd score: {msg}", file=sys.stderr)
    print(_header(args, plan, params), flush=True)
    failed = _score_and_print(model, plan.files, params, plan.threshold, progress=args.progress, ids=args.ids)
    failed += len(plan.missing)
    if failed:
        total = len(plan.files) + len(plan.missing)
        print(f"sdd score: {failed} of {total} inputs could not be scored (listed above)", file=sys.stderr)
        return 1
    return 0


def _header(args: argparse.Namespace, plan: _Plan, params: ScoreParams) -> str:
    """The ``#`` line(s) above the scores: what a score is, the model, its input, and the threshold."""
    columns = ["trial_id" if args.ids else "path", "score"] + (["decision"] if args.decisions else [])
    lines = [
        f"# sdd score: model={args.model} ({plan.record.summary}); input = {_input_phrase(params)}; "
        f"score = logit(bona fide) - logit(spoof), higher = more bona fide; not calibrated log-odds: "
        f"compare it only with a threshold of this model; columns: {' '.join(columns)}"
    ]
    if plan.threshold is not None:
        lines.append(
            f"# threshold: {plan.threshold:.6f} ({plan.threshold_source}); decision = bonafide if score > "
            f"threshold, else spoof"
        )
    return "\n".join(lines)


def _input_phrase(params: ScoreParams) -> str:
    """The header's input rule, which :func:`sdd.evaluation.convention.input_rule_of_score_file` parses
    back: ``the first N samples at R Hz, repeat-padded`` or ``whole utterances at R Hz, neither cut nor
    padded``."""
    if params.whole:
        return f"whole utterances at {SAMPLE_RATE} Hz, neither cut nor padded"
    return f"the first {params.num_samples} samples at {SAMPLE_RATE} Hz, repeat-padded"


def _decision_threshold(
    args: argparse.Namespace, kind: ScorerKind, path: str, record: ModelRecord
) -> tuple[float | None, str | None]:
    """The threshold of ``--decisions`` and where it comes from (None, None without ``--decisions``)."""
    if not args.decisions:
        return None, None
    if args.threshold is not None:
        return args.threshold, "given with --threshold"
    if record.threshold is None:
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
    if args.input == "whole_utterance" and record.input_samples is not None:
        raise ValueError(
            f"--decisions with --input whole_utterance: the stored threshold was set on the first "
            f"{record.input_samples} samples, so it does not apply to scores of whole utterances; drop "
            f"--input whole_utterance, or give --threshold X"
        )
    if args.num_samples is not None and record.input_samples not in (None, args.num_samples):
        raise ValueError(
            f"--decisions with --num-samples {args.num_samples}: the stored threshold was set on the first "
            f"{record.input_samples} samples, so it does not apply to scores of {args.num_samples}; drop "
            f"--num-samples, or give --threshold X"
        )
    return record.threshold, record.threshold_source


def _score_and_print(
    model: nn.Module,
    files: list[Path],
    params: ScoreParams,
    threshold: float | None,
    *,
    progress: bool,
    ids: bool = False,
) -> int:
    """Print ``path<TAB>score[<TAB>decision]`` lines as batches finish (``ids``: the file stem first),
    each unreadable file and each warning of :mod:`sdd.audio.quality` on stderr; returns how many could
    not be read."""
    from tqdm import tqdm

    bar = tqdm(total=len(files), unit="file", file=sys.stderr, disable=not (progress or sys.stderr.isatty()))

    def warn(path: Path, messages: list[str]) -> None:
        for msg in messages:
            bar.write(f"sdd score: warning: {path}: {msg}", file=sys.stderr)

    failed = 0
    with bar:
        for path, score, error in iter_scores(
            model, files, params, SAMPLE_RATE, skip_bad=True, on_warning=warn
        ):
            bar.update(1)
            if score is None:
                failed += 1
                bar.write(f"sdd score: {error}", file=sys.stderr)
                continue
            line = f"{path.stem if ids else path}\t{score:.6f}"
            if threshold is not None:
                line += "\t" + ("bonafide" if score > threshold else "spoof")
            print(line, flush=True)
    return failed
