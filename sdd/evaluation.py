"""Scoring files, protocols and the metrics JSON: the ``evaluate`` stage and ``sdd evaluate``.

:func:`evaluate_trials` is THE function the pipeline calls: a table of trials (``utt_id, score,
label, attack`` plus condition columns) in, a JSON-serialisable dict of metrics out (fractions, not
percent). :func:`cli_main` implements the CONTRACT command

    sdd evaluate --scores S --protocol P [--asv-scores A] --format FMT --out OUT.json [--ci]

reading the official formats (data.md): CM score files ``trial score`` (2021 checker, our
``score`` stage) or ``utt attack key score``; protocols/keys of ASVspoof 2019 LA (5 columns), 2021 LA
(8-column ``trial_metadata.txt``) and DF (13 columns), In-the-Wild ``meta.csv``, ASVspoof 5 (10
columns); ASV score files ``CM_KEY ASV_KEY SCORE`` (2019) and, for 2021 LA, the keys' own
``ASV/trial_metadata.txt`` + ``ASV/ASVTorch_Kaldi/score.txt``.

Bad input never yields a silently wrong number: trials missing from or extra to the protocol,
duplicated ids, non-finite scores and files of the wrong shape raise :class:`EvaluationError` (a
``ValueError``) naming the file, the counts and the first offending ids. This module never imports
torch (``sdd evaluate`` starts in well under a second).

Conventions (data.md): per-attack EER = all bona fide vs that attack's spoofs; per-condition EER =
both classes within the condition (2021 LA codec/transmission, DF compression), as the 2021 eval
package; spoof-only factors (DF vocoder family) = all bona fide vs that group's spoofs, also as the
2021 package (its ``factor_type == 'spoof'``). Deliberate difference from the 2021 package: the
2021 LA t-DCF uses one pooled ASV operating point computed from the keys' ASV scores of the chosen
subset (the package's pooled entry of its precomputed ``LA-C012-<subset>.npy``, which we do not
unpickle); per-condition t-DCFs are not reported.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sdd import atomic
from sdd import metrics as M

__all__ = [
    "FORMATS",
    "EvaluationError",
    "Protocol",
    "cli_main",
    "evaluate_trials",
    "fit_calibration",
    "join_scores",
    "read_asv_scores",
    "read_protocol",
    "read_scores",
]

log = logging.getLogger(__name__)

BONAFIDE = "bonafide"
SPOOF = "spoof"
NO_ATTACK = "-"
ASV_KEYS = ("target", "nontarget", "spoof")
_SHOW = 5  # how many offending ids an error message lists


class EvaluationError(ValueError):
    """A score file, protocol or trial table that would give a wrong number; names file, counts, ids."""


def _first(ids: Sequence[str] | np.ndarray | pd.Series, n: int = _SHOW) -> str:
    items = [str(x) for x in list(ids[:n])]
    return ", ".join(items) + (", ..." if len(ids) > n else "")


# --------------------------------------------------------------------------------------------------
# Whitespace tables with exact shape checks
# --------------------------------------------------------------------------------------------------


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return line
    raise EvaluationError(f"{path}: the file is empty")


def _diagnose_fields(path: Path, n_fields: int, float_cols: Sequence[int], skip_header: bool) -> str:
    """Slow pass, run only on the error path: the lines with the wrong field count or bad numbers."""
    wrong: list[str] = []
    bad_num: list[str] = []
    n_wrong = n_bad = 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if skip_header and lineno == 1:
                continue
            fields = line.split()
            if not fields:
                continue
            if len(fields) != n_fields:
                n_wrong += 1
                if len(wrong) < _SHOW:
                    wrong.append(f"line {lineno} has {len(fields)}")
                continue
            for c in float_cols:
                try:
                    float(fields[c])
                except ValueError:
                    n_bad += 1
                    if len(bad_num) < _SHOW:
                        bad_num.append(f"line {lineno} ({fields[0]}): {fields[c]!r}")
                    break
    parts = []
    if n_wrong:
        parts.append(f"{n_wrong} lines do not have {n_fields} fields ({'; '.join(wrong)})")
    if n_bad:
        parts.append(f"{n_bad} lines have a non-numeric score ({'; '.join(bad_num)})")
    return "; ".join(parts)


def _read_table(
    path: str | os.PathLike[str],
    names: Sequence[str],
    *,
    what: str,
    float_cols: Sequence[str] = (),
    header: bool = False,
) -> pd.DataFrame:
    """Read a whitespace-separated file with exactly ``len(names)`` fields per line.

    Columns in ``float_cols`` are float64, the rest strings. Any line with another field count or a
    non-numeric score is an :class:`EvaluationError` naming the lines.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{what} {path}: no such file")
    n = len(names)
    first = _first_line(path).split()
    if len(first) != n:
        raise EvaluationError(
            f"{what} {path}: expected {n} whitespace-separated columns ({' '.join(names)}), "
            f"the first line has {len(first)}: {' '.join(first)!r}"
        )
    float_idx = [names.index(c) for c in float_cols]
    try:
        df = pd.read_csv(
            path,
            sep=r"\s+",
            header=0 if header else None,
            names=list(names),
            dtype={c: (np.float64 if c in float_cols else object) for c in names},
            engine="c",
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as e:
        problem = _diagnose_fields(path, n, float_idx, header) or f"unparseable ({e})"
        raise EvaluationError(f"{what} {path}: {problem}") from e
    if df.isna().to_numpy().any():
        # a short line (missing fields) or a literal NaN score: only the former is a shape error here;
        # NaN/inf scores are reported with their ids by the caller's finiteness check
        problem = _diagnose_fields(path, n, float_idx, header)
        if problem:
            raise EvaluationError(f"{what} {path}: {problem}")
    return df


def _check_values(df: pd.DataFrame, column: str, allowed: Sequence[str], *, what: str, path: Path) -> None:
    bad = ~df[column].isin(list(allowed))
    if bad.any():
        vals = df.loc[bad, column].unique()
        raise EvaluationError(
            f"{what} {path}: {int(bad.sum())} rows have {column} outside {list(allowed)}: "
            f"values {_first(vals)}"
        )


# --------------------------------------------------------------------------------------------------
# Score files
# --------------------------------------------------------------------------------------------------


def read_scores(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CM score file: ``trial score`` or ``utt attack key score`` (whitespace separated).

    A header line (``utt_id score``) is accepted when its last field is not a number.

    Returns:
        DataFrame with ``utt_id`` (str) and ``score`` (float64), plus ``attack`` and ``label`` for the
        4-column form.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"score file {path}: no such file")
    first = _first_line(path).split()
    try:
        float(first[-1])
        header = False
    except ValueError:
        header = True
    if len(first) == 2:
        df = _read_table(path, ["utt_id", "score"], what="score file", float_cols=["score"], header=header)
    elif len(first) == 4:
        names = ["utt_id", "attack", "label", "score"]
        df = _read_table(path, names, what="score file", float_cols=["score"], header=header)
        _check_values(df, "label", (BONAFIDE, SPOOF), what="score file", path=path)
    else:
        raise EvaluationError(
            f"score file {path}: expected 2 columns (trial score) or 4 (utt attack key score), "
            f"the first line has {len(first)}: {' '.join(first)!r}"
        )
    return df


def read_asv_scores(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ASVspoof 2019 ASV scores ``CM_KEY ASV_KEY SCORE`` (ASV_KEY in target/nontarget/spoof).

    Returns:
        DataFrame with ``cm_key``, ``asv_key`` (str) and ``score`` (float64).
    """
    path = Path(path)
    df = _read_table(path, ["cm_key", "asv_key", "score"], what="ASV score file", float_cols=["score"])
    _check_values(df, "asv_key", ASV_KEYS, what="ASV score file", path=path)
    _check_finite(df["score"].to_numpy(), df["cm_key"].to_numpy(), f"ASV score file {path}")
    return df


def _check_finite(scores: np.ndarray, ids: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(scores)
    if bad.any():
        n_bad = int(bad.sum())
        raise EvaluationError(f"{what}: {n_bad} non-finite scores (NaN/inf), e.g. {_first(ids[bad])}")


# --------------------------------------------------------------------------------------------------
# Protocols (registry of named formats)
# --------------------------------------------------------------------------------------------------


@dataclass
class Protocol:
    """Labels of every trial of a protocol file, and what to evaluate.

    Attributes:
        trials: one row per trial of the WHOLE file: ``utt_id, label, attack, speaker`` + conditions.
        keep: (N,) bool, trials of the selected subset (2021 ``eval``/``progress``/``hidden``); None =
            all. Score files are checked against the whole file, then reduced to the subset.
        condition_columns: factors present in both classes (per-condition EER within the condition).
        spoof_condition_columns: spoof-only factors (all bona fide vs that group's spoofs).
        asv: ASV scores (``asv_key``, ``score``) shipped with the keys, or None.
        source: the file read.
    """

    trials: pd.DataFrame
    source: Path
    keep: np.ndarray | None = None
    condition_columns: tuple[str, ...] = ()
    spoof_condition_columns: tuple[str, ...] = ()
    asv: pd.DataFrame | None = None


def _finish(df: pd.DataFrame, path: Path, what: str) -> pd.DataFrame:
    _check_values(df, "label", (BONAFIDE, SPOOF), what=what, path=path)
    df["attack"] = df["attack"].where(df["label"] == SPOOF, NO_ATTACK)
    return df


def _read_2019(path: Path, subset: str | None) -> Protocol:
    del subset  # one split per file
    names = ["speaker", "utt_id", "unused", "attack", "label"]
    df = _read_table(path, names, what="ASVspoof 2019 protocol (SPEAKER FILE - SYSTEM KEY)")
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
    n = len(_first_line(cm_file).split())
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
    df = _finish(_read_table(cm_file, names, what=what), cm_file, what)
    keep = None
    if subset is not None:
        present = sorted(df["subset"].unique())
        if subset not in present:
            raise EvaluationError(
                f"ASVspoof 2021 keys {cm_file}: subset {subset!r} not in the keys; present: {present}"
            )
        keep = (df["subset"] == subset).to_numpy()
    asv = None
    if track == "LA" and track_dir is not None:
        meta = track_dir / "ASV" / "trial_metadata.txt"
        score = track_dir / "ASV" / "ASVTorch_Kaldi" / "score.txt"
        if meta.is_file() and score.is_file():
            asv = _read_2021_asv(meta, score, subset)
    return Protocol(
        trials=df,
        source=cm_file,
        keep=keep,
        condition_columns=conds,
        spoof_condition_columns=spoof_conds,
        asv=asv,
    )


def _read_2021_asv(meta: Path, score: Path, subset: str | None) -> pd.DataFrame:
    """2021 LA ASV keys (8 columns, label target/nontarget/spoof) joined with ``asv_spk trial score``."""
    m = _read_table(meta, _LA21, what="ASVspoof 2021 ASV keys")
    _check_values(m, "label", ASV_KEYS, what="ASVspoof 2021 ASV keys", path=meta)
    s = _read_table(
        score, ["speaker", "utt_id", "score"], what="ASVspoof 2021 ASV scores", float_cols=["score"]
    )
    mk = m["speaker"] + " " + m["utt_id"]
    sk = s["speaker"] + " " + s["utt_id"]
    j = _align(pd.Index(mk), sk.to_numpy(), what_keys=f"ASV keys {meta}", what_scores=f"ASV scores {score}")
    out = pd.DataFrame({"asv_key": m["label"].to_numpy(), "score": s["score"].to_numpy()[j]})
    if subset is not None:
        out = out[(m["subset"] == subset).to_numpy()]
    return out.reset_index(drop=True)


def _read_itw(path: Path, subset: str | None) -> Protocol:
    del subset
    if not path.is_file():
        raise EvaluationError(f"In-the-Wild meta.csv {path}: no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
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
            f"In-the-Wild meta.csv {path}: labels must be bona-fide/spoof, got {_first(bad)}"
        )
    utt = df["file"].str.replace(r"\.[^./]+$", "", regex=True).str.rsplit("/", n=1).str[-1]
    attack = np.where(labels == SPOOF, SPOOF, NO_ATTACK)
    trials = pd.DataFrame({"utt_id": utt, "speaker": df["speaker"], "label": labels, "attack": attack})
    return Protocol(trials=trials, source=path)


_ASV5 = [
    "speaker", "utt_id", "gender", "codec", "codec_q", "codec_seed",
    "attack_tag", "attack", "label", "unused",
]  # fmt: skip


def _read_asvspoof5(path: Path, subset: str | None) -> Protocol:
    del subset
    df = _read_table(path, _ASV5, what="ASVspoof 5 protocol")
    df = _finish(df.drop(columns="unused"), path, "ASVspoof 5 protocol")
    return Protocol(trials=df, source=path, condition_columns=("codec",))


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
    ids = p.trials["utt_id"]
    if not pd.Index(ids).is_unique:
        dup = ids[ids.duplicated()].unique()
        raise EvaluationError(f"protocol {p.source}: {dup.size} duplicated trial ids, e.g. {_first(dup)}")
    return p


# --------------------------------------------------------------------------------------------------
# Joining scores to a protocol
# --------------------------------------------------------------------------------------------------


def _align(keys: pd.Index, score_ids: np.ndarray, *, what_keys: str, what_scores: str) -> np.ndarray:
    """Indices ``j`` with ``score_ids[j]`` equal to ``keys`` (one score per key, nothing extra)."""
    if not keys.is_unique:
        dup = keys[keys.duplicated()].unique()
        raise EvaluationError(f"{what_keys}: {dup.size} duplicated trial ids, e.g. {_first(dup)}")
    sid = pd.Index(score_ids)
    if not sid.is_unique:
        dup = sid[sid.duplicated()].unique()
        raise EvaluationError(
            f"{what_scores}: {dup.size} trial ids scored more than once, e.g. {_first(dup)}"
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
                f"{int(missing.sum())} trials of the protocol have no score (e.g. {_first(keys[missing])})"
            )
        if extra.any():
            parts.append(
                f"{int(extra.sum())} scored trials are not in the protocol (e.g. {_first(sid[extra])})"
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
    j = _align(pd.Index(prot["utt_id"]), scores["utt_id"].to_numpy(), what_keys=f"protocol {protocol.source}",
               what_scores=scores_name)  # fmt: skip
    out = prot.copy()
    out["score"] = scores["score"].to_numpy()[j]
    if "label" in scores.columns:
        lab = scores["label"].to_numpy()[j]
        bad = lab != out["label"].to_numpy()
        if bad.any():
            raise EvaluationError(
                f"{scores_name}: {int(bad.sum())} trials labelled differently from protocol "
                f"{protocol.source}, e.g. {_first(out['utt_id'].to_numpy()[bad])}"
            )
    if keep is not None:
        out = out[keep]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# The metrics
# --------------------------------------------------------------------------------------------------


def fit_calibration(bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> tuple[float, float]:
    """Logistic calibration ``(a, b)`` fitted on DEV scores.

    See :func:`sdd.metrics.fit_logistic_calibration`; apply as ``a * score + b`` (an LLR).
    """
    return M.fit_logistic_calibration(bonafide_scores, spoof_scores)


def _validate_trials(trials: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in ("utt_id", "score", "label", "attack", *columns) if c not in trials.columns]
    if missing:
        raise EvaluationError(f"trial table: missing columns {missing}; has {list(trials.columns)}")
    ids = trials["utt_id"]
    if not pd.Index(ids).is_unique:
        dup = ids[ids.duplicated()].unique()
        raise EvaluationError(f"trial table: {dup.size} duplicated utt_id, e.g. {_first(dup)}")
    lab = trials["label"]
    bad = ~lab.isin([BONAFIDE, SPOOF])
    if bad.any():
        raise EvaluationError(
            f"trial table: {int(bad.sum())} labels not 'bonafide'/'spoof' "
            f"(values {_first(lab[bad].unique())}), e.g. {_first(ids[bad].to_numpy())}"
        )
    try:
        scores = trials["score"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise EvaluationError(f"trial table: scores are not numbers ({e})") from e
    _check_finite(scores, ids.to_numpy(), "trial table")
    n_b = int((lab == BONAFIDE).sum())
    if n_b == 0 or n_b == len(trials):
        raise EvaluationError(
            f"trial table: need both classes, got {n_b} bona fide and {len(trials) - n_b} spoof trials"
        )
    for c in ("attack", *columns):
        na = trials[c].isna()
        if na.any():
            raise EvaluationError(
                f"trial table: {int(na.sum())} rows without {c!r}, e.g. {_first(ids[na].to_numpy())}"
            )


def _group_eers(
    s: M.SortedScores, bona_vals: np.ndarray | None, spoof_vals: np.ndarray, *, what: str
) -> dict[str, float]:
    """EER per value: spoofs of that value vs the bona fide of that value (or all when bona_vals is None)."""
    out: dict[str, float] = {}
    for v in sorted(pd.unique(spoof_vals).tolist(), key=str):
        sm = spoof_vals == v
        if bona_vals is None:
            out[str(v)] = s.subset(slice(None), sm).eer()
            continue
        bm = bona_vals == v
        if not bm.any():
            log.warning("%s=%s has spoof trials but no bona fide trial: no EER for it", what, v)
            continue
        out[str(v)] = s.subset(bm, sm).eer()
    if bona_vals is not None:
        for v in sorted(set(pd.unique(bona_vals).tolist()) - set(pd.unique(spoof_vals).tolist()), key=str):
            log.warning("%s=%s has bona fide trials but no spoof trial: no EER for it", what, v)
    return out


def evaluate_trials(
    trials: pd.DataFrame,
    *,
    asv_scores: pd.DataFrame | None = None,
    condition_columns: Sequence[str] = (),
    ci: bool = False,
    n_resamples: int = 1000,
    seed: int = 0,
    calibration: tuple[float, float] | None = None,
    spoof_condition_columns: Sequence[str] = (),
) -> dict:
    """All metrics of one score set, each threshold sweep read from ONE sort per class.

    Args:
        trials: one row per trial: ``utt_id``, ``score`` (float, higher = more bona fide), ``label``
            ('bonafide'/'spoof'), ``attack`` ('-' for bona fide) and every condition column.
        asv_scores: ASV scores with ``asv_key`` (target/nontarget/spoof) and ``score``; enables
            ``min_tdcf`` (revised 2021 form), ``min_tdcf_legacy`` (2019 form) and ``asv_operating_point``.
        condition_columns: factors of both classes; ``per_condition[col][value]`` = EER of the bona
            fide and spoof trials of that value.
        ci: add ``eer_ci95`` [lo, hi], stratified utterance bootstrap.
        n_resamples: bootstrap replicates.
        seed: bootstrap seed.
        calibration: ``(a, b)`` fitted on DEV scores (:func:`fit_calibration`); adds
            ``act_dcf_calibrated`` and ``cllr_calibrated`` on ``a * score + b``.
        spoof_condition_columns: spoof-only factors (DF vocoder family);
            ``per_spoof_condition[col][value]`` = EER of all bona fide vs that value's spoofs.

    Returns:
        JSON-serialisable dict of plain floats/ints (fractions, not percent): ``eer, min_dcf, act_dcf,
        cllr, per_attack, n_bonafide, n_spoof`` and, where applicable, ``min_tdcf, min_tdcf_legacy,
        asv_operating_point, per_condition, per_spoof_condition, eer_ci95, act_dcf_calibrated,
        cllr_calibrated, calibration``.
    """
    _validate_trials(trials, (*condition_columns, *spoof_condition_columns))
    scores = trials["score"].to_numpy(dtype=np.float64)
    is_b = (trials["label"] == BONAFIDE).to_numpy()
    bona, spoof = scores[is_b], scores[~is_b]
    if np.ptp(scores) == 0:
        log.warning(
            "ALL %d SCORES ARE EQUAL (%r): the model is broken; the metrics below are what the official "
            "definitions give for constant scores (EER 1.0 by its tie handling), not a measurement",
            scores.size,
            float(scores[0]),
        )
    elif np.unique(scores).size < 3:
        log.warning(
            "only %d distinct scores: these look like hard decisions, not soft scores", np.unique(scores).size
        )
    s = M.SortedScores.from_scores(bona, spoof)
    out: dict = {"eer": s.eer()}
    if asv_scores is not None:
        for c in ("asv_key", "score"):
            if c not in asv_scores.columns:
                raise EvaluationError(f"ASV scores: missing column {c!r}; has {list(asv_scores.columns)}")
        key = asv_scores["asv_key"].to_numpy()
        asv = asv_scores["score"].to_numpy(dtype=np.float64)
        _check_finite(asv, key, "ASV scores")
        groups = {k: asv[key == k] for k in ASV_KEYS}
        empty = [k for k, v in groups.items() if v.size == 0]
        if empty:
            raise EvaluationError(
                f"ASV scores: no {empty} trials; the t-DCF needs target, nontarget and spoof scores"
            )
        op = M.asv_operating_point(groups["target"], groups["nontarget"], groups["spoof"])
        out["min_tdcf"] = M.min_tdcf(s, None, op)
        out["min_tdcf_legacy"] = M.min_tdcf_legacy(s, None, op)
        out["asv_operating_point"] = op.to_dict()
    out["min_dcf"] = s.min_dcf()
    out["act_dcf"] = M.act_dcf(bona, spoof)
    out["cllr"] = M.cllr(bona, spoof)
    spoof_sorted = lambda col: trials[col].to_numpy()[~is_b][s.spoof_order]  # noqa: E731
    bona_sorted = lambda col: trials[col].to_numpy()[is_b][s.bona_order]  # noqa: E731
    out["per_attack"] = _group_eers(s, None, spoof_sorted("attack"), what="attack")
    if condition_columns:
        out["per_condition"] = {
            c: _group_eers(s, bona_sorted(c), spoof_sorted(c), what=c) for c in condition_columns
        }
    if spoof_condition_columns:
        out["per_spoof_condition"] = {
            c: _group_eers(s, None, spoof_sorted(c), what=c) for c in spoof_condition_columns
        }
    out["n_bonafide"] = int(bona.size)
    out["n_spoof"] = int(spoof.size)
    if ci:
        out["eer_ci95"] = list(M.eer_confidence_interval(s, n_resamples=n_resamples, seed=seed, level=0.95))
    if calibration is not None:
        a, b = (float(x) for x in calibration)
        if not (math.isfinite(a) and math.isfinite(b)):
            raise EvaluationError(f"calibration (a, b)={calibration} must be finite")
        out["act_dcf_calibrated"] = M.act_dcf(a * bona + b, a * spoof + b)
        out["cllr_calibrated"] = M.cllr(a * bona + b, a * spoof + b)
        out["calibration"] = {"a": a, "b": b}
    return out


# --------------------------------------------------------------------------------------------------
# sdd evaluate
# --------------------------------------------------------------------------------------------------




def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sdd evaluate",
        description="Metrics JSON (fractions) from a CM score file and a protocol: EER, min t-DCF "
        "(revised and legacy, with ASV scores), ASVspoof 5 minDCF/actDCF/Cllr, per-attack and "
        "per-condition EER.",
    )
    p.add_argument(
        "--scores", required=True, type=Path, help="CM scores: 'trial score' or 'utt attack key score'"
    )
    p.add_argument(
        "--protocol", required=True, type=Path, help="protocol / keys file (2021: file or keys folder)"
    )
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="protocol format")
    p.add_argument("--out", required=True, type=Path, help="metrics JSON to write (atomically)")
    p.add_argument("--asv-scores", type=Path, help="ASV scores 'CM_KEY ASV_KEY SCORE' for the t-DCF")
    p.add_argument("--subset", default="eval", help="ASVspoof 2021 subset: eval (default), progress, hidden")
    p.add_argument("--ci", action="store_true", help="add eer_ci95, a stratified bootstrap 95%% interval")
    p.add_argument("--n-resamples", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--dev-scores", type=Path, help="DEV scores to fit a logistic calibration on")
    p.add_argument("--dev-protocol", type=Path, help="protocol of --dev-scores (same --format)")
    return p


def cli_main(argv: list[str]) -> int:
    """``sdd evaluate``: write the metrics JSON; errors print one line to stderr and return 2."""
    args = _parser().parse_args(argv)
    try:
        if (args.dev_scores is None) != (args.dev_protocol is None):
            raise EvaluationError("--dev-scores and --dev-protocol go together")
        if args.n_resamples < 1:
            raise EvaluationError(f"--n-resamples must be >= 1, got {args.n_resamples}")
        protocol = read_protocol(args.protocol, args.format, args.subset)
        trials = join_scores(protocol, read_scores(args.scores), scores_name=f"score file {args.scores}")
        asv = read_asv_scores(args.asv_scores) if args.asv_scores is not None else protocol.asv
        calibration = None
        if args.dev_scores is not None:
            dev_p = read_protocol(args.dev_protocol, args.format, args.subset)
            dev_name = f"dev score file {args.dev_scores}"
            dev = join_scores(dev_p, read_scores(args.dev_scores), scores_name=dev_name)
            _validate_trials(dev, ())
            is_b = (dev["label"] == BONAFIDE).to_numpy()
            calibration = fit_calibration(dev["score"].to_numpy()[is_b], dev["score"].to_numpy()[~is_b])
        result = evaluate_trials(
            trials,
            asv_scores=asv,
            condition_columns=protocol.condition_columns,
            spoof_condition_columns=protocol.spoof_condition_columns,
            ci=args.ci,
            n_resamples=args.n_resamples,
            seed=args.seed,
            calibration=calibration,
        )
        atomic.write_json(args.out, result, indent=1, sort_keys=False, allow_nan=False)
    except (EvaluationError, M.MetricsError, OSError) as e:
        print(f"sdd evaluate: error: {e}", file=sys.stderr)
        return 2
    log.info(
        "eer=%.6f n_bonafide=%d n_spoof=%d -> %s",
        result["eer"],
        result["n_bonafide"],
        result["n_spoof"],
        args.out,
    )
    return 0
