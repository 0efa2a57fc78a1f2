"""``sdd fuse``: linear logistic-regression fusion of several systems' score folders (the BOSARIS
convention, :mod:`sdd.metrics.fusion`), fitted on their DEV scores only, applied to every other score
file they share::

    sdd fuse DIR [DIR ...] --dev-protocol P --format FMT --out OUT_DIR [--dev-name dev.txt]
             [--files NAME ...] [--prior 0.5] [--ridge 1e-6]

Each ``DIR`` is one system's score folder, as the pipeline's score stage writes it
(``data/scores/<arm>/s<seed>/``: ``dev.txt`` on the training corpus's dev split and one
``<eval set id>.txt`` per eval set) or any folder of ``trial score`` files with the same names. The
fusion is fitted on the ``--dev-name`` files with the labels of ``--dev-protocol`` (a protocol of
``sdd evaluate``'s formats, or ``manifest``: a prepared manifest such as
``data/manifests/<corpus>/dev.csv``) and applied to every other ``*.txt`` file (or those ``--files``
names). ``OUT_DIR`` receives the fused LLRs under the same names (``dev.txt`` included, so it is a
score folder ``sdd evaluate`` and the pipeline read like any other) and ``fusion.json`` (the weights,
the offset, the prior, the systems, the dev trial counts). The eval files' scores never reach the fit.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdd import metrics as M
from sdd.core import atomic
from sdd.core.cliargs import Parser, finite_float
from sdd.core.stage import read_manifest
from sdd.evaluation.common import BONAFIDE, EvaluationError
from sdd.evaluation.protocols import FORMATS, Protocol, align_ids, join_scores, read_protocol
from sdd.evaluation.score_files import read_scores
from sdd.metrics.fusion import DEFAULT_PRIOR, DEFAULT_RIDGE, LinearFusion, fit_linear_fusion

__all__ = ["DEV_FILE", "FUSION_FILE", "MANIFEST_FORMAT", "cli_main", "fuse_folders", "read_dev_labels"]

log = logging.getLogger(__name__)

#: The dev score file of a pipeline score folder (the score stage's ``dev.txt``).
DEV_FILE = "dev.txt"
#: What :func:`fuse_folders` writes beside the fused scores.
FUSION_FILE = "fusion.json"
#: ``--format`` of a prepared manifest (``utt_id``, ``label``, ``attack`` columns).
MANIFEST_FORMAT = "manifest"


def read_dev_labels(path: Path, fmt: str, subset: str | None = None) -> Protocol:
    """The dev trials' labels: a protocol of :data:`sdd.evaluation.protocols.FORMATS` or a prepared
    manifest (``fmt`` :data:`MANIFEST_FORMAT`)."""
    if fmt != MANIFEST_FORMAT:
        return read_protocol(path, fmt, subset)
    try:
        manifest = read_manifest(path, required=("utt_id", "label", "attack"))
    except (FileNotFoundError, ValueError) as exc:
        raise EvaluationError(str(exc)) from exc
    return Protocol(trials=manifest[["utt_id", "label", "attack"]].copy(), source=Path(path))


def _score_files(systems: Sequence[Path], dev_name: str, files: Sequence[str] | None) -> list[str]:
    """The score files to fuse: ``files``, or every ``*.txt`` but the dev file, present in every folder."""
    if files is not None:
        names = list(dict.fromkeys(files))
    else:
        names = sorted(p.name for p in systems[0].glob("*.txt") if p.name != dev_name)
        for d in systems[1:]:
            extra = sorted({p.name for p in d.glob("*.txt")} - {*names, dev_name})
            if extra:
                raise EvaluationError(
                    f"score folder {d}: {extra} are not in {systems[0]}; every system needs the same score "
                    "files (or name the ones to fuse with --files)"
                )
    if dev_name in names:
        raise EvaluationError(f"{dev_name} is the dev file the fusion is fitted on; it is not fused as eval")
    for d in systems:
        for name in [dev_name, *names]:
            if not (d / name).is_file():
                raise EvaluationError(f"score folder {d}: no {name}; every system needs the same score files")
    return names


def _fmt(utt_ids: np.ndarray, llr: np.ndarray) -> str:
    """``utt_id score`` lines, each score as its shortest round-trip repr (read back exactly)."""
    return "".join(f"{u} {float(v)!r}\n" for u, v in zip(utt_ids, llr, strict=True))


def fuse_folders(
    systems: Sequence[Path],
    dev_labels: Protocol,
    out: Path,
    *,
    dev_name: str = DEV_FILE,
    files: Sequence[str] | None = None,
    prior: float = DEFAULT_PRIOR,
    ridge: float = DEFAULT_RIDGE,
) -> tuple[LinearFusion, dict[str, Any]]:
    """Fit the fusion of ``systems`` (score folders) on their ``dev_name`` files and ``dev_labels``,
    write the fused score files and :data:`FUSION_FILE` under ``out``; return the fusion and that
    document (module docstring).

    Raises:
        EvaluationError: a folder or file is missing, the folders' trials differ, or a score file is bad.
        MetricsError: the fit is impossible (:func:`sdd.metrics.fusion.fit_linear_fusion`).
    """
    systems = [Path(s) for s in systems]
    if not systems:
        raise EvaluationError("no score folder to fuse; name one or more")
    for d in systems:
        if not d.is_dir():
            raise EvaluationError(f"score folder {d}: no such folder")
    if len({d.resolve() for d in systems}) != len(systems):
        raise EvaluationError(f"the same score folder twice in {[str(d) for d in systems]}")
    if Path(out).resolve() in {d.resolve() for d in systems}:
        raise EvaluationError(
            f"--out {out} is one of the fused folders; writing there would overwrite its scores"
        )
    names = _score_files(systems, dev_name, files)
    # the fit: dev scores and dev labels only
    dev = [
        join_scores(dev_labels, read_scores(d / dev_name), scores_name=f"score file {d / dev_name}")
        for d in systems
    ]
    is_b = (dev[0]["label"] == BONAFIDE).to_numpy()
    fusion = fit_linear_fusion(
        np.stack([t["score"].to_numpy() for t in dev], axis=1), is_b, prior=prior, ridge=ridge
    )
    dev_llr = fusion.apply(np.stack([t["score"].to_numpy() for t in dev], axis=1))
    outputs = {dev_name: _fmt(dev[0]["utt_id"].to_numpy(), dev_llr)}
    # the application: every other file, trials aligned on the first system's
    for name in names:
        first = read_scores(systems[0] / name)
        keys = pd.Index(first["utt_id"])
        cols = [first["score"].to_numpy()]
        for d in systems[1:]:
            other = read_scores(d / name)
            j = align_ids(keys, other["utt_id"].to_numpy(), what_keys=f"score file {systems[0] / name}",
                          what_scores=f"score file {d / name}")  # fmt: skip
            cols.append(other["score"].to_numpy()[j])
        outputs[name] = _fmt(keys.to_numpy(), fusion.apply(np.stack(cols, axis=1)))
    doc = {
        "method": "linear logistic regression fusion (BOSARIS), fitted on the dev scores only; "
        "scores are log-likelihood ratios: weights . scores + offset",
        "systems": [str(d) for d in systems],
        "dev": {"file": dev_name, "labels": str(dev_labels.source), "n_bonafide": fusion.n_bonafide,
                "n_spoof": fusion.n_spoof, "cllr_fused": M.cllr(dev_llr[is_b], dev_llr[~is_b]),
                "eer_fused": M.eer(dev_llr[is_b], dev_llr[~is_b])},
        "files": names,
        **fusion.to_dict(),
    }  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in outputs.items():
        atomic.write_text(out / name, text)
    atomic.write_json(out / FUSION_FILE, doc, indent=1, sort_keys=False, allow_nan=False)
    return fusion, doc


EXAMPLES = """\
examples:
  # the pipeline's main and attm arms, seed 0: fitted on their dev.txt, applied to every eval set
  sdd fuse data/scores/main/s0 data/scores/attm/s0 --dev-protocol data/manifests/demo/dev.csv \\
      --format manifest --out fused/main+attm/s0
  sdd evaluate --scores fused/main+attm/s0/demo__eval.txt --protocol ... --format ... --out m.json

  # folders of ASVspoof 2019 LA score files (dev.txt, eval.txt in each)
  sdd fuse sysA sysB sysC --dev-protocol LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.dev.trl.txt \\
      --format asvspoof2019 --out fused --files eval.txt
"""


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="sdd fuse",
        description="Fuse the score folders of several systems by linear logistic regression (BOSARIS), "
        "fitted on their dev scores only, into calibrated log-likelihood ratios on every other score file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("systems", nargs="+", type=Path, metavar="DIR", help="one score folder per system")
    p.add_argument("--dev-protocol", required=True, type=Path, help="labels of the dev trials")
    p.add_argument(
        "--format",
        required=True,
        choices=sorted([*FORMATS, MANIFEST_FORMAT]),
        help=f"format of --dev-protocol (`{MANIFEST_FORMAT}`: a prepared manifest CSV)",
    )
    p.add_argument("--out", required=True, type=Path, help="folder for the fused score files and fusion.json")
    p.add_argument(
        "--dev-name", default=DEV_FILE, help=f"the dev score file in each folder (default {DEV_FILE})"
    )
    p.add_argument(
        "--files", nargs="+", help="score files to fuse (default: every other *.txt of the folders)"
    )
    p.add_argument("--subset", default=None, help="ASVspoof 2021 subset of --dev-protocol")
    p.add_argument(
        "--prior",
        type=finite_float,
        default=DEFAULT_PRIOR,
        help=f"effective prior of bona fide the regression is weighted at (default {DEFAULT_PRIOR})",
    )
    p.add_argument(
        "--ridge",
        type=finite_float,
        default=DEFAULT_RIDGE,
        help=f"L2 weight on the standardised weights (default {DEFAULT_RIDGE:g}; 0: maximum likelihood)",
    )
    return p


def cli_main(argv: list[str]) -> int:
    """``sdd fuse``: write the fused folder; errors print one line to stderr and return 2."""
    args = _parser().parse_args(argv)
    try:
        if args.out.exists() and not args.out.is_dir():
            raise EvaluationError(f"--out {args.out} is a file; expected a folder for the fused scores")
        labels = read_dev_labels(args.dev_protocol, args.format, args.subset)
        fusion, doc = fuse_folders(args.systems, labels, args.out, dev_name=args.dev_name, files=args.files,
                                   prior=args.prior, ridge=args.ridge)  # fmt: skip
    except (EvaluationError, M.MetricsError, OSError) as e:
        print(f"sdd fuse: error: {e}", file=sys.stderr)
        return 2
    weights = ", ".join(f"{d}: {w:.6g}" for d, w in zip(doc["systems"], fusion.weights, strict=True))
    print(f"fused {len(args.systems)} systems ({weights}; offset {fusion.offset:.6g}) on "
          f"{len(doc['files'])} score files -> {args.out}")  # fmt: skip
    return 0
