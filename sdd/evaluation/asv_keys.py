"""The organisers' ASV scores of a prepared eval split, for the evaluate stage.

Where a corpus ships them (ASVspoof 2019 LA: ``ASVspoof2019_LA_asv_scores/`` for dev and eval;
ASVspoof 2021 LA: the keys' ``ASV/trial_metadata.txt`` + ``ASV/ASVTorch_Kaldi/score.txt`` and
``LA-C012-<subset>.npy``), the prepare stage copies them unchanged into ``<split>.asv/`` beside the
split's manifest ``<manifests>/<corpus>/<split>.csv``, with ``asv.json`` naming their ``format`` and
``subset`` (:func:`sdd.data.prepare.prepare_corpus`). :func:`read_asv_keys` reads them with the same
readers as ``sdd evaluate`` (:data:`ASV_FORMATS`), so the stage's min t-DCF, t-EER and 2021 LA t-DCF
table are what ``sdd evaluate`` gives on the same official files. A split without the folder has no
ASV scores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sdd.evaluation.common import EvaluationError
from sdd.evaluation.protocols import read_2021_la_tdcf
from sdd.evaluation.score_files import read_asv_scores
from sdd.evaluation.tdcf2021 import C012Table

__all__ = ["ASV_FORMATS", "AsvKeys", "asv_dir", "read_asv_keys"]


@dataclass(frozen=True)
class AsvKeys:
    """The ASV side of one eval split.

    Attributes:
        scores: ``asv_key``, ``score`` (and ``attack``, ``codec`` for 2021 LA), or None (2021 LA keys
            with the C012 file but without the ASV scores).
        c012: 2021 LA t-DCF coefficients per (attack, codec) cell, or None.
    """

    scores: pd.DataFrame | None
    c012: C012Table | None = None


def _read_2019(folder: Path, files: list[str], subset: str | None) -> AsvKeys:
    del subset
    if len(files) != 1:
        raise EvaluationError(f"{folder}/asv.json: files {files}; expected one ASVspoof 2019 ASV score file")
    return AsvKeys(read_asv_scores(folder / files[0]))


def _read_2021_la(folder: Path, files: list[str], subset: str | None) -> AsvKeys:
    del files
    asv, c012 = read_2021_la_tdcf(folder, subset)
    if asv is None and c012 is None:
        raise EvaluationError(f"{folder}: no ASV keys and no LA-C012-<subset>.npy of subset {subset!r}")
    return AsvKeys(asv, c012)


#: ``asv.json`` format -> reader ``(folder, files, subset) -> AsvKeys``.
ASV_FORMATS: dict[str, Callable[[Path, list[str], str | None], AsvKeys]] = {
    "asvspoof2019": _read_2019,
    "asvspoof2021_la": _read_2021_la,
}


def asv_dir(manifest: Path) -> Path:
    """``<split>.asv/`` beside the manifest ``<split>.csv``."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name.removesuffix(".csv") + ".asv")


def read_asv_keys(manifest: Path) -> AsvKeys | None:
    """The ASV scores prepare copied beside ``manifest``, or None when it copied none.

    Raises:
        EvaluationError: ``asv.json`` or a file is not what prepare writes (the message names the file,
            the value and what was expected).
    """
    folder = asv_dir(manifest)
    if not folder.is_dir():
        return None
    meta = folder / "asv.json"
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EvaluationError(f"{meta}: unreadable ({e}); re-run the prepare stage") from e
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt not in ASV_FORMATS:
        raise EvaluationError(f"{meta}: format {fmt!r}; expected one of {sorted(ASV_FORMATS)}")
    files, subset = doc.get("files"), doc.get("subset")
    if not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
        raise EvaluationError(f"{meta}: files {files!r}; expected a list of relative paths")
    return ASV_FORMATS[fmt](folder, files, subset)
