"""SASV (spoofing-aware speaker verification) score files, for the a-DCF of the ASVspoof 5 package.

Accepted forms (whitespace separated, ``#`` lines not allowed, keys target / nontarget / spoof):

- one file of 4 columns ``spk utt score key``: the ASVspoof 5 package's "SASV score file" (its
  README; ``a_dcf.calculate_a_dcf`` reads column 3 as the score and column 4 as the key);
- a score file plus a key file (``--sasv-keys``), joined on ``(spk, utt)`` when both carry the speaker,
  else on ``utt``:

  - scores ``utt score`` or ``spk utt score``, or the package's later headed table
    (``spk filename cm-score asv-score sasv-score``, also with ``tar_spk_anon`` / ``trial_anon``),
    whose ``sasv-score`` column is the SASV score; its ``cm-score`` and ``asv-score`` columns, when
    they hold numbers (the package writes ``-`` in every row for a system without them), are kept
    for the t-EER of the CM in tandem with that ASV system (the package's Track 2 t-EER);
  - keys ``utt key`` or ``spk utt key``, or the package's headed key table
    (``spk filename cm-label asv-label``), whose ``asv-label`` column is the key.

Every key trial must be scored exactly once and no other trial may be scored; trial ids must be
unique; scores finite. Errors name the file, the counts and the first offending ids.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from sdd.evaluation.common import ASV_KEYS, SHOW, EvaluationError, check_finite, first_ids
from sdd.evaluation.protocols import align_ids
from sdd.evaluation.tables import check_values, first_line, read_table, text_of

__all__ = ["read_sasv_scores"]

_SPK = ("spk", "tar_spk_anon")
_UTT = ("filename", "trial_anon")
_KEY = ("asv-label", "asv_label")
#: The headed score table's per-system columns: output column -> header name.
_SYSTEM_COLS = {"cm_score": "cm-score", "asv_score": "asv-score"}


def _headed(path: Path, value_cols: tuple[str, ...], what: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """A headed table of the ASVspoof 5 package -> ``spk, utt, value`` (strings, value as read), plus
    the ``extra`` columns the header has, under their header names."""
    text = text_of(path, what)
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+", header=0, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as e:
        raise EvaluationError(f"{what} {path}: unreadable as a headed table ({e})") from e

    def col(names: tuple[str, ...]) -> str:
        found = [c for c in names if c in df.columns]
        if not found:
            raise EvaluationError(
                f"{what} {path}: the header has none of {list(names)}; it has {list(df.columns)}"
            )
        return found[0]

    out = pd.DataFrame({"spk": df[col(_SPK)], "utt": df[col(_UTT)], "value": df[col(value_cols)]})
    for c in extra:
        if c in df.columns:
            out[c] = df[c]
    return out


def _system_scores(df: pd.DataFrame, path: Path, what: str) -> dict[str, pd.Series]:
    """The ``cm-score`` / ``asv-score`` columns of a headed score table that hold numbers, as floats.

    A column of ``-`` in every row (the package's form for a system without it) is left out; a column
    mixing numbers and anything else is an error naming the file, the column and the first bad rows.
    """
    out = {}
    for name, header in _SYSTEM_COLS.items():
        if header not in df.columns:
            continue
        raw = df[header]
        if (raw == "-").all():
            continue
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna().to_numpy()
        if bad.any():
            raise EvaluationError(
                f"{what} {path}: {int(bad.sum())} {header} values are not numbers "
                f"({list(raw[bad].unique()[:SHOW])} at trials {first_ids(df['utt'][bad].to_numpy())}); "
                f"give a number in every row, or '-' in every row for a system without {header}"
            )
        out[name] = values.astype(np.float64)
    return out


def _read_scores(path: Path, key_file: Path | None) -> pd.DataFrame:
    """-> ``utt`` (str), ``score`` (float), and ``spk`` (str) when the file has it; ``key`` for 4 columns."""
    what = "SASV score file"
    if not path.is_file():
        raise EvaluationError(f"{what} {path}: no such file")
    first = first_line(path, what).split()
    headed = any(c in first for c in ("sasv-score", *_UTT))
    if key_file is None and len(first) != 4:
        raise EvaluationError(
            f"{what} {path}: without --sasv-keys, expected 4 columns (spk utt score key, key target/"
            f"nontarget/spoof), the first line has {len(first)}: {' '.join(first)!r}; give --sasv-keys "
            f"for a score file without keys"
        )
    if key_file is not None and len(first) == 4 and not headed:
        raise EvaluationError(
            f"{what} {path} carries its keys (4 columns spk utt score key); drop --sasv-keys {key_file} "
            f"or give a 2- or 3-column score file"
        )
    if headed:
        df = _headed(path, ("sasv-score",), what, extra=tuple(_SYSTEM_COLS.values()))
        try:
            scores = df["value"].astype(np.float64)
        except ValueError as e:
            raise EvaluationError(f"{what} {path}: a sasv-score is not a number ({e})") from e
        return pd.DataFrame(
            {"spk": df["spk"], "utt": df["utt"], "score": scores, **_system_scores(df, path, what)}
        )
    layouts = {2: ["utt", "score"], 3: ["spk", "utt", "score"], 4: ["spk", "utt", "score", "key"]}
    if len(first) not in layouts:
        raise EvaluationError(
            f"{what} {path}: expected 4 columns (spk utt score key), 2 (utt score) or 3 (spk utt score) "
            f"with --sasv-keys, or the ASVspoof 5 headed table with a sasv-score column; the first line "
            f"has {len(first)}: {' '.join(first)!r}"
        )
    return read_table(path, layouts[len(first)], what=what, float_cols=["score"])


def _read_keys(path: Path) -> pd.DataFrame:
    """-> ``utt``, ``key`` and ``spk`` when the file has it."""
    what = "SASV key file"
    if not path.is_file():
        raise EvaluationError(f"{what} {path}: no such file")
    first = first_line(path, what).split()
    if any(k in first for k in (*_KEY, *_UTT)):
        df = _headed(path, _KEY, what)
        return pd.DataFrame({"spk": df["spk"], "utt": df["utt"], "key": df["value"]})
    layouts = {2: ["utt", "key"], 3: ["spk", "utt", "key"]}
    if len(first) not in layouts:
        raise EvaluationError(
            f"{what} {path}: expected 2 columns (utt key), 3 (spk utt key) or the ASVspoof 5 headed key "
            f"table with an asv-label column; the first line has {len(first)}: {' '.join(first)!r}"
        )
    return read_table(path, layouts[len(first)], what=what)


def _trial_ids(df: pd.DataFrame, use_spk: bool) -> np.ndarray:
    if use_spk:
        return (df["spk"].astype(str) + " " + df["utt"].astype(str)).to_numpy()
    return df["utt"].astype(str).to_numpy()


def read_sasv_scores(
    scores: str | os.PathLike[str], keys: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Read SASV scores and their target / nontarget / spoof keys (module docstring for the forms).

    Args:
        scores: the SASV score file.
        keys: the key file; None when ``scores`` has the 4-column form with its keys.

    Returns:
        DataFrame with ``trial`` (``spk utt`` or ``utt``), ``asv_key`` and ``score`` (float64), plus
        ``cm_score`` and ``asv_score`` (float64) where the headed score table has them.
    """
    scores, keys = Path(scores), Path(keys) if keys is not None else None
    s = _read_scores(scores, keys)
    if keys is None:
        k = s.rename(columns={"key": "asv_key"})
        key_path = scores
        use_spk = True
    else:
        k = _read_keys(keys).rename(columns={"key": "asv_key"})
        key_path = keys
        use_spk = "spk" in s.columns and "spk" in k.columns
    check_values(k, "asv_key", ASV_KEYS, what="SASV keys", path=key_path)
    key_ids = pd.Index(_trial_ids(k, use_spk))
    score_ids = _trial_ids(s, use_spk)
    j = align_ids(key_ids, score_ids, what_keys=f"SASV keys {key_path}", what_scores=f"SASV scores {scores}")
    out = pd.DataFrame(
        {"trial": key_ids.to_numpy(), "asv_key": k["asv_key"].to_numpy(), "score": s["score"].to_numpy()[j]}
    )
    for c in [c for c in _SYSTEM_COLS if c in s.columns]:
        out[c] = s[c].to_numpy()[j]
    for c, header in {"score": None, **_SYSTEM_COLS}.items():
        if c in out.columns:
            where = f"SASV score file {scores}" + (f" ({header} column)" if header else "")
            check_finite(out[c].to_numpy(), out["trial"].to_numpy(), where)
    missing = [x for x in ASV_KEYS if not (out["asv_key"] == x).any()]
    if missing:
        counts = {x: int((out["asv_key"] == x).sum()) for x in ASV_KEYS}
        raise EvaluationError(
            f"SASV keys {key_path}: no {missing} trials (counts {counts}); the a-DCF needs target, "
            f"nontarget and spoof trials"
        )
    return out
