"""CM and ASV score files: ``trial score`` or ``utt attack key score``, and ``CM_KEY ASV_KEY SCORE``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from sdd.evaluation.common import ASV_KEYS, BONAFIDE, SPOOF, EvaluationError, check_finite
from sdd.evaluation.tables import blank_leading_comments, check_values, first_line, read_table, text_of

__all__ = ["read_asv_scores", "read_scores"]


def read_scores(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CM score file: ``trial score`` or ``utt attack key score`` (whitespace separated).

    A header line (``utt_id score``) is accepted when its last field is not a number, and leading ``#``
    lines are skipped (``sdd score``'s header). UTF-8 with or without BOM and UTF-16 with BOM are read
    (:func:`sdd.core.textfile.read_text`).

    Returns:
        DataFrame with ``utt_id`` (str) and ``score`` (float64), plus ``attack`` and ``label`` for the
        4-column form.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"score file {path}: no such file")
    text = blank_leading_comments(text_of(path, "score file"))
    first = first_line(path, "score file", text).split()
    try:
        float(first[-1])
        header = False
    except ValueError:
        header = True
    if len(first) == 2:
        df = read_table(
            path, ["utt_id", "score"], what="score file", float_cols=["score"], header=header, comments=True
        )
    elif len(first) == 4:
        names = ["utt_id", "attack", "label", "score"]
        df = read_table(path, names, what="score file", float_cols=["score"], header=header, comments=True)
        check_values(df, "label", (BONAFIDE, SPOOF), what="score file", path=path)
    else:
        hint = ""
        if len(first) == 3 and first[-1] in (BONAFIDE, SPOOF, "decision"):
            hint = " (the output of `sdd score --decisions`? score with --ids and without --decisions)"
        raise EvaluationError(
            f"score file {path}: expected 2 columns (trial score) or 4 (utt attack key score), "
            f"the first line has {len(first)}: {' '.join(first)!r}{hint}"
        )
    # NaN/inf scores are named here, with the file, not later as rows of a trial table
    check_finite(df["score"].to_numpy(), df["utt_id"].to_numpy(), f"score file {path}")
    return df


def read_asv_scores(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ASVspoof 2019 ASV scores ``CM_KEY ASV_KEY SCORE`` (ASV_KEY in target/nontarget/spoof).

    Returns:
        DataFrame with ``cm_key``, ``asv_key`` (str) and ``score`` (float64).
    """
    path = Path(path)
    df = read_table(path, ["cm_key", "asv_key", "score"], what="ASV score file", float_cols=["score"])
    check_values(df, "asv_key", ASV_KEYS, what="ASV score file", path=path)
    check_finite(df["score"].to_numpy(), df["cm_key"].to_numpy(), f"ASV score file {path}")
    return df
