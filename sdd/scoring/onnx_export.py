"""``sdd export --format onnx``: a trained arm's scorer as one ONNX file, for use outside the repo.

The graph computes what ``sdd score`` computes after decoding (:func:`sdd.scoring.score.iter_scores`):
the first ``input_samples`` samples of each waveform, repeat-padded when shorter
(:func:`sdd.audio.crop.crop_or_pad`), then the detector, then ``logit(bona fide) - logit(spoof)``.

- Input ``waveform``: float32 ``(batch, samples)``, mono at 16 kHz. **Both axes are dynamic**: any
  batch size and any length of at least one sample; the graph itself takes the first
  ``input_samples`` samples (``train.dev_samples``, the window the stored threshold was set on) and
  tiles a shorter clip, so the analysed window is fixed and the stored threshold applies whatever the
  input's length. Decoding, channel averaging and resampling to 16 kHz stay outside the graph (any
  audio library does them; ``sdd score`` uses :mod:`sdd.audio.io`). Clips of one batch share a length:
  pad or crop them to one length first, or run them one at a time.
- Output ``log_odds``: float32 ``(batch,)``, higher = more bona fide; uncalibrated, as ``sdd score``'s
  scores: only the model's own threshold turns it into a decision.
- ``metadata_props``: the arm's full config, its backbone's architecture, the input rule, the
  dev-EER decision threshold with its rule and source, the source checkpoint's SHA-256, the versions
  that exported it, and the export check below (:func:`metadata`).

Before anything is written, ONNX Runtime runs the exported graph on synthetic check clips (longer
than the window, and shorter, tiled) and its log-odds are compared with PyTorch's ``crop_or_pad`` +
detector; a difference above :data:`TOLERANCE` is an error and nothing is written. The file is
written atomically (:mod:`sdd.core.atomic`). The graph is traced with ``torch.onnx.export``'s
``torch.export``-based exporter (onnxscript's torchlib, opset :data:`OPSET`), from the same modules
``sdd score`` loads (:func:`sdd.models.detector.load_detector` with ``lite=True``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sdd
from sdd.core import atomic
from sdd.scoring.score import CHECKPOINT, SAMPLE_RATE, SCORERS, ModelRecord, ModelSpecError

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "INPUT_NAME",
    "OPSET",
    "OUTPUT_NAME",
    "TOLERANCE",
    "ExportFormat",
    "ExportResult",
    "check_clips",
    "cli_main",
    "export_onnx",
    "metadata",
    "scorer_graph",
]

#: The ONNX opset of the exported graph (what torch's exporter emits by default, pinned here).
OPSET = 18
#: The graph's input and output names.
INPUT_NAME, OUTPUT_NAME = "waveform", "log_odds"
#: Largest absolute log-odds difference between ONNX Runtime and PyTorch that the export check accepts.
TOLERANCE = 1e-4
#: Largest weights file exported: one ONNX file is one protobuf message, which cannot exceed 2 GiB.
MAX_WEIGHT_BYTES = 1_900_000_000
#: Version of the metadata layout below (``sdd.format``).
FORMAT = "sdd-scorer-onnx/1"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and measured.

    Attributes:
        path: the ONNX file.
        size_bytes: its size.
        input_samples: the analysed window (samples at 16 kHz).
        threshold: the stored dev-EER decision threshold, or None when the checkpoint has none.
        max_abs_diff: the export check's largest |ONNX Runtime - PyTorch| log-odds difference.
        seconds: wall time of the export and its check.
    """

    path: Path
    size_bytes: int
    input_samples: int
    threshold: float | None
    max_abs_diff: float
    seconds: float


def scorer_graph(detector: nn.Module, input_samples: int) -> nn.Module:
    """The module that is exported: waveform ``(B, T)``, any ``T >= 1`` -> log-odds ``(B,)`` of its first
    ``input_samples`` samples, tiled when ``T`` is shorter (indices ``arange(input_samples) mod T``,
    which is :func:`~sdd.audio.crop.crop_or_pad` at offset 0)."""
    import torch
    from torch import nn

    from sdd.models.detector import BONAFIDE, SPOOF

    class ScorerGraph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.detector = detector
            self.input_samples = input_samples

        def forward(self, waveform: torch.Tensor) -> torch.Tensor:
            # the length as a 0-d tensor: `% T` with T a symbolic int does not convert to ONNX
            length = torch.scalar_tensor(waveform.shape[1], dtype=torch.int64)
            index = torch.arange(self.input_samples, dtype=torch.int64) % length
            logits = self.detector(waveform[:, index])
            return logits[:, BONAFIDE] - logits[:, SPOOF]

    return ScorerGraph().eval()


def check_clips(input_samples: int) -> list[np.ndarray]:
    """The export check's synthetic inputs: a batch of two clips 1.5x the window (cropped) and one of a
    third of it (tiled), a tone in noise, seeded."""
    rng = np.random.default_rng(0)

    def clips(batch: int, n: int) -> np.ndarray:
        t = np.arange(n) / SAMPLE_RATE
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400, (batch, 1)) * t)
        return (tone + 0.05 * rng.standard_normal((batch, n))).astype(np.float32)

    return [clips(2, input_samples + input_samples // 2), clips(1, max(1, input_samples // 3))]


def reference_log_odds(detector: nn.Module, waves: np.ndarray, input_samples: int) -> np.ndarray:
    """PyTorch's log-odds (B,) float64 for ``waves`` (B, T) as ``sdd score`` computes them: each cut or
    tiled to ``input_samples`` with :func:`~sdd.audio.crop.crop_or_pad`, then the detector."""
    import torch

    from sdd.audio.crop import crop_or_pad
    from sdd.models.detector import Detector

    batch = np.stack([crop_or_pad(w, input_samples) for w in waves])
    with torch.no_grad():
        return Detector.scores(detector(torch.from_numpy(batch))).double().numpy()


def metadata(
    meta: dict[str, Any], record: ModelRecord, folder: Path, input_samples: int, max_abs_diff: float
) -> dict[str, str]:
    """The ``metadata_props`` of an exported scorer (every value a string; JSON where structured).

    Args:
        meta: the checkpoint's ``config.json`` (``arm``, ``backbone_config``, ``decision_threshold``).
        record: its :class:`~sdd.scoring.score.ModelRecord` (summary, threshold and its source).
        folder: the checkpoint folder.
        input_samples: the analysed window.
        max_abs_diff: the export check's result.
    """
    import onnx
    import onnxruntime
    import torch

    from sdd.models.published_spec import sha256_file

    versions = {"sdd": sdd.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__, "opset": OPSET}  # fmt: skip
    props = {
        "sdd.format": FORMAT,
        "sdd.model": record.summary,
        "sdd.input": (
            f"{INPUT_NAME}: float32 (batch, samples), mono at {SAMPLE_RATE} Hz; batch and samples "
            f"dynamic (samples >= 1); decoding and resampling happen before the graph"
        ),
        "sdd.length": "dynamic",
        "sdd.window": (
            f"the graph scores the first {input_samples} samples of each waveform, repeat-padded "
            f"(tiled) when shorter, as `sdd score` does"
        ),
        "sdd.sample_rate": str(SAMPLE_RATE),
        "sdd.input_samples": str(input_samples),
        "sdd.output": (
            f"{OUTPUT_NAME}: float32 (batch,), logit(bona fide) - logit(spoof); higher = more bona fide; "
            f"not calibrated: compare it only with this model's threshold"
        ),
        "sdd.arm_config": json.dumps(meta["arm"], sort_keys=True, default=str),
        "sdd.backbone_config": json.dumps(meta.get("backbone_config"), sort_keys=True, default=str),
        "sdd.source": str(folder),
        "sdd.source_sha256": sha256_file(folder / "model.safetensors"),
        "sdd.export_check": (
            f"max |ONNX Runtime - PyTorch| log-odds {max_abs_diff:.3g} (tolerance {TOLERANCE:g}) on "
            f"synthetic clips longer and shorter than the window"
        ),
        "sdd.versions": json.dumps(versions, sort_keys=True),
    }
    if record.threshold is not None:
        props |= {
            "sdd.decision_threshold": repr(record.threshold),
            "sdd.decision_rule": f"bonafide if {OUTPUT_NAME} > threshold, else spoof",
            "sdd.decision_threshold_record": json.dumps(meta["decision_threshold"], sort_keys=True),
            "sdd.decision_threshold_source": record.threshold_source or "",
        }
    return props


#: Loggers of the exporter's stack -> the level kept during an export: torch's exporter logs a WARNING
#: per torchvision op it cannot register (torchvision is not installed; no detector uses it), and
#: onnxscript's optimizer and onnx_ir log each rewrite at INFO; stderr stays for what concerns the export.
_EXPORTER_LOGGERS = {"torch.onnx": logging.ERROR, "onnxscript": logging.WARNING, "onnx_ir": logging.WARNING}


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's loggers at :data:`_EXPORTER_LOGGERS`' levels for the block, then as they were,
    and Python warnings ignored in it: the tracer warns about its own internals (deprecated guards,
    LSTM weights assigned while tracing, the reference evaluator's constant folding of masks); what
    matters, the graph's output, is checked against PyTorch right after."""
    saved = {name: logging.getLogger(name).level for name in _EXPORTER_LOGGERS}
    for name, level in _EXPORTER_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _plan(spec: str, out: str) -> tuple[Path, dict[str, Any], ModelRecord, Path]:
    """Every check that needs no weights: the model's folder, record and config, and ``--out``."""
    prefix, sep, _ = spec.partition(":")
    if sep and prefix in SCORERS:
        raise ModelSpecError(
            f"--model {spec}: exports trained arms only ({CHECKPOINT.usage}), not {prefix}: weights"
        )
    out_path = Path(out)
    if out_path.suffix.lower() != ".onnx":
        raise ValueError(f"--out {out}: expected a file name ending in .onnx")
    if out_path.is_dir():
        raise ValueError(f"--out {out}: is a folder; expected a file name ending in .onnx")
    from sdd.models.detector import resolve_model_dir

    try:
        folder = resolve_model_dir(spec)
    except ValueError as exc:  # several seeds
        raise ModelSpecError(f"--model {exc}") from None
    if (folder / "published.json").is_file():
        raise ModelSpecError(
            f"--model {folder}: a scoring-only arm (published weights, published.json); sdd export "
            f"exports trained arms only ({CHECKPOINT.usage})"
        )
    record = CHECKPOINT.describe(spec)  # ModelSpecError naming what the folder holds instead
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    rate = meta["arm"]["sample_rate"]
    if rate != SAMPLE_RATE:
        raise ModelSpecError(
            f"--model {folder}: trained at {rate} Hz; the exported scorer takes {SAMPLE_RATE} Hz"
        )
    size = (folder / "model.safetensors").stat().st_size
    if size > MAX_WEIGHT_BYTES:
        raise ModelSpecError(
            f"--model {folder}: weights of {size / 1e9:.2f} GB; one ONNX file holds at most "
            f"{MAX_WEIGHT_BYTES / 1e9:.1f} GB (protobuf's 2 GiB limit)"
        )
    return folder, meta, record, out_path


def _strip_trace_records(proto: Any) -> None:
    """Drop what the exporter records on each node for debugging (the Python stack trace, with this
    checkout's file paths, and the FX node): about 0.5 MB on the demo's model, and the file then
    depends on the model only, not on where sdd is installed."""
    for node in [*proto.graph.node, *(n for f in proto.functions for n in f.node)]:
        del node.metadata_props[:]
        node.doc_string = ""


class ExportMismatch(RuntimeError):
    """ONNX Runtime's log-odds differ from PyTorch's by more than :data:`TOLERANCE` (nothing written)."""


def export_onnx(spec: str, out: str | Path) -> ExportResult:
    """Export the checkpoint ``spec`` (``models/<arm>/s<seed>``) to the ONNX file ``out`` (module docstring).

    Raises:
        ModelSpecError, ValueError: a bad ``spec`` or ``out`` (before any weights are loaded).
        ExportMismatch: the export check failed; nothing is written.
    """
    import onnx
    import onnxruntime as ort
    import torch

    from sdd.models.detector import load_detector

    folder, meta, record, out_path = _plan(spec, str(out))
    start = time.perf_counter()
    detector, arm = load_detector(folder, lite=True)
    n = int(arm["train"]["dev_samples"])
    graph = scorer_graph(detector, n)
    log.info("%s: exporting to ONNX (opset %d), input window %d samples", folder, OPSET, n)
    example = torch.from_numpy(check_clips(n)[0])
    dims = {0: torch.export.Dim("batch", min=1), 1: torch.export.Dim("samples", min=1)}
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            graph, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=OPSET,
            dynamo=True, dynamic_shapes={INPUT_NAME: dims}, optimize=True, verbose=False,
        )  # fmt: skip
    proto = program.model_proto
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    diffs = [
        np.abs(session.run([OUTPUT_NAME], {INPUT_NAME: waves})[0] - reference_log_odds(detector, waves, n))
        for waves in check_clips(n)
    ]
    diff = float(np.max(np.concatenate(diffs)))  # NaN anywhere -> NaN
    if not diff <= TOLERANCE:  # NaN fails too
        raise ExportMismatch(
            f"{folder}: ONNX Runtime's log-odds differ from PyTorch's by {diff:.3g} on the check clips "
            f"(tolerance {TOLERANCE:g}); nothing written"
        )
    _strip_trace_records(proto)
    onnx.helper.set_model_props(proto, metadata(meta, record, folder, n, diff))
    proto.doc_string = (
        f"sdd scorer ({record.summary}): {INPUT_NAME} float32 (batch, samples) at {SAMPLE_RATE} Hz, any "
        f"length; scores its first {n} samples, repeat-padded; {OUTPUT_NAME} (batch,) = logit(bona fide) "
        f"- logit(spoof). Threshold and config in metadata_props."
    )
    onnx.checker.check_model(proto)
    with atomic.atomic_path(out_path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    seconds = time.perf_counter() - start
    log.info("%s: written in %.1f s; ONNX Runtime matches PyTorch to %.2g", out_path, seconds, diff)
    return ExportResult(out_path, out_path.stat().st_size, n, record.threshold, diff, seconds)


@dataclass(frozen=True)
class ExportFormat:
    """One ``sdd export --format``: ``export(spec, out) -> ExportResult`` and its one-line help."""

    export: Callable[[str, str | Path], ExportResult]
    help: str


#: ``--format`` name -> format. A registry, not an if/elif chain.
FORMATS: dict[str, ExportFormat] = {
    "onnx": ExportFormat(
        export_onnx,
        "one .onnx file: waveform (batch, samples) at 16 kHz, any length -> log_odds (batch,); "
        "config and threshold in its metadata_props",
    ),
}

EXAMPLES = f"""\
output:
  the model file (written to a temp name, then renamed), and one line on stdout saying what it takes
  and gives, its decision threshold, and how close ONNX Runtime came to PyTorch on the check clips.
  The graph takes {INPUT_NAME} float32 (batch, samples), mono at {SAMPLE_RATE} Hz, any length (dynamic); it
  scores the first train.dev_samples samples, repeat-padded when shorter, as `sdd score` does, and
  returns {OUTPUT_NAME} (batch,) = logit(bona fide) - logit(spoof). Decode and resample before it.

examples:
  sdd export --format onnx --model models/main/s0 --out main_s0.onnx

  # then, anywhere with onnxruntime and numpy (wave: float32 samples at 16 kHz):
  #   import onnxruntime as ort
  #   s = ort.InferenceSession("main_s0.onnx")
  #   thr = float(s.get_modelmeta().custom_metadata_map["sdd.decision_threshold"])
  #   log_odds = s.run(None, {{"{INPUT_NAME}": wave[None, :]}})[0]
"""


def _parser() -> argparse.ArgumentParser:
    from sdd.core.cliargs import Parser

    ap = Parser(
        prog="sdd export",
        description="Export a trained arm's scorer for use outside the repo.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    formats = "; ".join(f"{name}: {f.help}" for name, f in FORMATS.items())
    ap.add_argument("--format", required=True, choices=sorted(FORMATS), help=formats)
    ap.add_argument("--model", required=True, help=f"the trained arm: {CHECKPOINT.usage}")
    ap.add_argument("--out", required=True, help="the file to write (.onnx)")
    return ap


def cli_main(argv: list[str]) -> int:
    """``sdd export --format onnx --model models/<arm>/s<seed> --out FILE``.

    Returns 0 when the file was written, 2 on a usage or model error (checked before any weights are
    loaded), 1 when the export check failed (nothing written).
    """
    args = _parser().parse_args(argv)
    try:
        result = FORMATS[args.format].export(args.model, args.out)
    except ExportMismatch as exc:
        print(f"sdd export: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"sdd export: {exc}", file=sys.stderr)
        return 2
    threshold = (
        f"decision threshold {result.threshold:.6f} (bonafide if {OUTPUT_NAME} > threshold)"
        if result.threshold is not None
        else "no decision threshold stored with the model"
    )
    print(
        f"{result.path}: {result.size_bytes / 1e6:.1f} MB; {INPUT_NAME} float32 (batch, samples) at "
        f"{SAMPLE_RATE} Hz, dynamic length, scored on the first {result.input_samples} samples "
        f"(repeat-padded); {OUTPUT_NAME} (batch,); {threshold}; ONNX Runtime matches PyTorch to "
        f"{result.max_abs_diff:.2g} on the check clips"
    )
    return 0
