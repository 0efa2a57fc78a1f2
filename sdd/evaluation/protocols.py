"""Protocols and keys of the official formats, and joining a score file to one.

:data:`FORMATS` is a registry of named formats (``asvspoof2019``: 5-column 2019 LA CM protocol;
``asvspoof2021``: 2021 LA (8 columns) or DF (13 columns) ``trial_metadata.txt``, with the LA keys'
own ASV scores and t-DCF coefficients per condition when present (:mod:`.tdcf2021`); ``itw``:
In-the-Wild ``meta.csv``; ``asvspoof5``: 10 columns), each read into a :class:`Protocol`.
:func:`join_scores` checks that every trial is scored exactly once and nothing else is, and returns
the trial table of :func:`sdd.evaluation.trials.evaluate_trials`.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sdd.evaluation.asvspoof5_protocol import check_unique_ids, read_asvspoof5_trials
from sdd.evaluation.asvspoof5_protocol import label_trials as _finish
from sdd.evaluation.common import ASV_KEYS, BONAFIDE, NO_ATTACK, SPOOF, EvaluationError, first_ids
from sdd.evaluation.tables import check_values, first_line, read_table, text_of
from sdd.evaluation.tdcf2021 import C012_FILES, C012Table, c012_from_asv, read_c012_pickle

__all__ = ["FORMATS", "Protocol", "ProtocolFormat", "align_ids", "join_scores", "read_protocol"]

log = logging.getLogger(__name__)


@dataclass
class Protocol:
    """Labels of every trial of a protocol file, and what to evaluate.

    Attributes:
        trials: one row per trial of the WHOLE file: ``utt_id, label, attack, speaker`` + conditions.
        keep: (N,) bool, trials of the selected subset (2021 ``eval``/``progress``/``hidden``); None =
            all. Score files are checked against the whole file, then reduced to the subset.
        condition_columns: factors present in both classes (per-condition EER within the condition).
        spoof_condition_columns: spoof-only factors (all bona fide vs that group's spoofs).
        asv: ASV scores (``asv_key``, ``score``, 2021 LA also ``attack``, ``codec``) shipped with the
            keys, or None.
        c012: 2021 LA: the t-DCF coefficients per (attack, codec) cell (:mod:`.tdcf2021`), or None.
        source: the file read.
    """

    trials: pd.DataFrame
    source: Path
    keep: np.ndarray | None = None
    condition_columns: tuple[str, ...] = ()
    spoof_condition_columns: tuple[str, ...] = ()
    asv: pd.DataFrame | None = None
    c012: C012Table | None = None


def _read_2019(path: Path, subset: str | None) -> Protocol:
    del subset  # one split per file
    names = ["speaker", "utt_id", "unused", "attack", "label"]
    df = read_table(path, names, what="ASVspoof 2019 protocol (SPEAKER FILE - SYSTEM KEY)")
    return Protocol(trials=_finish(df.drop(columns="unused"), path, "ASVspoof 2019 protocol"), source=path)


_LA21 = ["speaker", "utt_id", "codec", "trans", "attack", "label", "trim", "subset"]
_DF21 = [
    "speaker", "utt_id", "compr", "source", "attack", "label", "trim", "subset",
    "vocoder", "task", "team", "gender_pair", "language",
]  # fmt: skip


def _keys_file(path: Path) -> tuple[Path, Path | None]:
    """The CM ``trial_metadata.txt`` and the track's keys folder (holding ``ASV/``), from a file or dir."""
    if path.is_file():
        return path, path.parent.parent
    if not path.is_dir():
        raise EvaluationError(f"ASVspoof 2021 keys {path}: no such file or directory")
    candidates = [path / sub / "CM" / "trial_metadata.txt" for sub in (".", "LA", "DF")]
    found = [c for c in candidates if c.is_file()]
    if len(found) != 1:
        raise EvaluationError(
            f"ASVspoof 2021 keys {path}: expected exactly one of {[str(c) for c in candidates]}, "
            f"found {[str(c) for c in found]}; pass the track folder (keys/LA or keys/DF) or the file"
        )
    return found[0], found[0].parent.parent


def _read_2021(path: Path, subset: str | None) -> Protocol:
    cm_file, track_dir = _keys_file(path)
    n = len(first_line(cm_file, "ASVspoof 2021 keys").split())
    if n == len(_LA21):
        names, conds, spoof_conds, track = _LA21, ("codec", "trans"), (), "LA"
    elif n == len(_DF21):
        names, conds, spoof_conds, track = _DF21, ("compr",), ("vocoder",), "DF"
    else:
        raise EvaluationError(
            f"ASVspoof 2021 keys {cm_file}: expected 8 columns (LA: {' '.join(_LA21)}) "
            f"or 13 (DF: {' '.join(_DF21)}), the first line has {n}"
        )
    what = f"ASVspoof 2021 {track} keys"
    df = _finish(read_table(cm_file, names, what=what), cm_file, what)
    keep = None
    if subset is not None:
        present = sorted(df["subset"].unique())
        if subset not in present:
            raise EvaluationError(
                f"ASVspoof 2021 keys {cm_file}: subset {subset!r} not in the keys; present: {present}"
            )
        keep = (df["subset"] == subset).to_numpy()
    asv = c012 = None
    if track == "LA" and track_dir is not None:
        asv, c012 = _read_2021_la_tdcf(track_dir, subset)
    return Protocol(
        trials=df,
        source=cm_file,
        keep=keep,
        condition_columns=conds,
        spoof_condition_columns=spoof_conds,
        asv=asv,
        c012=c012,
    )


def _read_2021_la_tdcf(track_dir: Path, subset: str | None) -> tuple[pd.DataFrame | None, C012Table | None]:
    """What the 2021 package reads for the LA t-DCF (see :mod:`.tdcf2021`): the ASV keys of the subset
    and the C012 table, from ``LA-C012-<subset>.npy`` when present (its default), else recomputed from
    the ASV keys (its ``--recompute-c012``); both present: the file wins and a disagreement is logged."""
    meta = track_dir / "ASV" / "trial_metadata.txt"
    score = track_dir / "ASV" / "ASVTorch_Kaldi" / "score.txt"
    asv = _read_2021_asv(meta, score, subset) if meta.is_file() and score.is_file() else None
    recomputed = None
    if asv is not None:
        where = (
            "recomputed from ASV/trial_metadata.txt + ASV/ASVTorch_Kaldi/score.txt "
            f"(subset {subset or 'all'})"
        )
        recomputed = c012_from_asv(asv, where)
    npy = track_dir / C012_FILES[subset] if subset in C012_FILES else None
    if npy is None or not npy.is_file():
        return asv, recomputed
    table = read_c012_pickle(npy)
    if recomputed is not None:
        differ = [
            f"[{r}][{c}]"
            for r, cols in table.coefficients.items()
            for c, v in cols.items()
            if (w := recomputed.get(r, c)) is not None and not np.allclose(v, w, rtol=1e-9, atol=1e-12)
        ]
        if differ:
            log.warning(
                "%s: %d cells differ from the C012 recomputed from the ASV keys (e.g. %s); using the file, "
                "as the 2021 package does by default",
                npy, len(differ), ", ".join(differ[:5]),
            )  # fmt: skip
    return asv, table


def _read_2021_asv(meta: Path, score: Path, subset: str | None) -> pd.DataFrame:
    """2021 LA ASV keys (8 columns, label target/nontarget/spoof) joined with ``asv_spk trial score``.

    Returns ``asv_key, score, attack, codec`` of the subset's ASV trials. The 2021 package joins the
    two files by line position; we join on ``(spk, trial)`` (the same on files in the same order)."""
    m = read_table(meta, _LA21, what="ASVspoof 2021 ASV keys")
    check_values(m, "label", ASV_KEYS, what="ASVspoof 2021 ASV keys", path=meta)
    s = read_table(
        score, ["speaker", "utt_id", "score"], what="ASVspoof 2021 ASV scores", float_cols=["score"]
    )
    mk = m["speaker"] + " " + m["utt_id"]
    sk = s["speaker"] + " " + s["utt_id"]
    j = align_ids(
        pd.Index(mk), sk.to_numpy(), what_keys=f"ASV keys {meta}", what_scores=f"ASV scores {score}"
    )
    out = pd.DataFrame(
        {
            "asv_key": m["label"].to_numpy(),
            "score": s["score"].to_numpy()[j],
            "attack": m["attack"].to_numpy(),
            "codec": m["codec"].to_numpy(),
        }
    )
    if subset is not None:
        out = out[(m["subset"] == subset).to_numpy()]
    return out.reset_index(drop=True)


def _read_itw(path: Path, subset: str | None) -> Protocol:
    del subset
    if not path.is_file():
        raise EvaluationError(f"In-the-Wild meta.csv {path}: no such file")
    text = text_of(path, "In-the-Wild meta.csv")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as e:
        raise EvaluationError(
            f"In-the-Wild meta.csv {path}: not a CSV with header file,speaker,label ({e})"
        ) from e
    if list(df.columns) != ["file", "speaker", "label"]:
        raise EvaluationError(
            f"In-the-Wild meta.csv {path}: expected header file,speaker,label, got {list(df.columns)}"
        )
    labels = df["label"].map({"bona-fide": BONAFIDE, "spoof": SPOOF})
    if labels.isna().any():
        bad = df.loc[labels.isna(), "label"].unique()
        raise EvaluationError(
            f"In-the-Wild meta.csv {path}: labels must be bona-fide/spoof, got {first_ids(bad)}"
        )
    utt = df["file"].str.replace(r"\.[^./]+$", "", regex=True).str.rsplit("/", n=1).str[-1]
    attack = np.where(labels == SPOOF, SPOOF, NO_ATTACK)
    trials = pd.DataFrame({"utt_id": utt, "speaker": df["speaker"], "label": labels, "attack": attack})
    return Protocol(trials=trials, source=path)


def _read_asvspoof5(path: Path, subset: str | None) -> Protocol:
    del subset
    return Protocol(trials=read_asvspoof5_trials(path), source=path, condition_columns=("codec",))


@dataclass(frozen=True)
class ProtocolFormat:
    """A named protocol format: its reader ``(path, subset) -> Protocol`` and a one-line description."""

    read: Callable[[Path, str | None], Protocol]
    description: str
    has_subsets: bool = False


FORMATS: dict[str, ProtocolFormat] = {
    "asvspoof2019": ProtocolFormat(_read_2019, "2019 LA CM protocol, 5 columns SPEAKER FILE - SYSTEM KEY"),
    "asvspoof2021": ProtocolFormat(
        _read_2021, "2021 LA (8 columns) or DF (13 columns) keys: trial_metadata.txt or its keys folder", True
    ),
    "itw": ProtocolFormat(_read_itw, "In-the-Wild meta.csv (file,speaker,label; trial id = file stem)"),
    "asvspoof5": ProtocolFormat(_read_asvspoof5, "ASVspoof 5 protocol, 10 columns"),
}


def read_protocol(path: str | os.PathLike[str], fmt: str, subset: str | None = None) -> Protocol:
    """Read a protocol/keys file of a registered format (see :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise EvaluationError(f"unknown protocol format {fmt!r}; expected one of {sorted(FORMATS)}")
    p = FORMATS[fmt].read(Path(path), subset if FORMATS[fmt].has_subsets else None)
    check_unique_ids(p.trials["utt_id"], p.source)
    return p


# --------------------------------------------------------------------------------------------------
# Joining scores to a protocol
# --------------------------------------------------------------------------------------------------


def align_ids(keys: pd.Index, score_ids: np.ndarray, *, what_keys: str, what_scores: str) -> np.ndarray:
    """Indices ``j`` with ``score_ids[j]`` equal to ``keys`` (one score per key, nothing extra)."""
    if not keys.is_unique:
        dup = keys[keys.duplicated()].unique()
        raise EvaluationError(f"{what_keys}: {dup.size} duplicated trial ids, e.g. {first_ids(dup)}")
    sid = pd.Index(score_ids)
    if not sid.is_unique:
        dup = sid[sid.duplicated()].unique()
        raise EvaluationError(
            f"{what_scores}: {dup.size} trial ids scored more than once, e.g. {first_ids(dup)}"
        )
    if len(sid) == len(keys) and np.array_equal(sid.to_numpy(), keys.to_numpy()):
        return np.arange(len(keys))  # same order: the common case, no hashing
    pos = keys.get_indexer(sid)  # key position of every score
    extra = pos < 0
    missing = np.ones(len(keys), dtype=bool)
    missing[pos[~extra]] = False
    if extra.any() or missing.any():
        parts = []
        if missing.any():
            parts.append(
                f"{int(missing.sum())} trials of the protocol have no score (e.g. {first_ids(keys[missing])})"
            )
        if extra.any():
            parts.append(
                f"{int(extra.sum())} scored trials are not in the protocol (e.g. {first_ids(sid[extra])})"
            )
        raise EvaluationError(f"{what_scores} vs {what_keys}: " + "; ".join(parts))
    j = np.empty(len(keys), dtype=np.int64)
    j[pos] = np.arange(len(sid))
    return j


def join_scores(protocol: Protocol, scores: pd.DataFrame, *, scores_name: str = "score file") -> pd.DataFrame:
    """The trial table of :func:`evaluate_trials`: protocol rows (subset kept) with their scores.

    Every protocol trial must be scored exactly once and no other id may be scored; with a subset
    selected (2021), the score file may cover either the whole keys file or exactly the subset. A
    4-column score file's labels must agree with the protocol.
    """
    prot = protocol.trials
    keep = protocol.keep
    if keep is not None and len(scores) == int(keep.sum()) and len(scores) != len(prot):
        prot, keep = prot[keep].reset_index(drop=True), None  # a score file of the subset only
    j = align_ids(pd.Index(prot["utt_id"]), scores["utt_id"].to_numpy(),
                  what_keys=f"protocol {protocol.source}", what_scores=scores_name)  # fmt: skip
    out = prot.copy()
    out["score"] = scores["score"].to_numpy()[j]
    if "label" in scores.columns:
        lab = scores["label"].to_numpy()[j]
        bad = lab != out["label"].to_numpy()
        if bad.any():
            raise EvaluationError(
                f"{scores_name}: {int(bad.sum())} trials labelled differently from protocol "
                f"{protocol.source}, e.g. {first_ids(out['utt_id'].to_numpy()[bad])}"
            )
    if keep is not None:
        out = out[keep]
    return out.reset_index(drop=True)
