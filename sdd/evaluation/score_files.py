"""CM and ASV score files: ``trial score`` or ``utt attack key score``, and ``CM_KEY ASV_KEY SCORE``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from sdd.evaluation.common import ASV_KEYS, BONAFIDE, SPOOF, EvaluationError, check_finite
from sdd.evaluation.tables import check_values, first_line, read_table

__all__ = ["read_asv_scores", "read_scores"]


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
    first = first_line(path).split()
    try:
        float(first[-1])
        header = False
    except ValueError:
        header = True
    if len(first) == 2:
        df = read_table(path, ["utt_id", "score"], what="score file", float_cols=["score"], header=header)
    elif len(first) == 4:
        names = ["utt_id", "attack", "label", "score"]
        df = read_table(path, names, what="score file", float_cols=["score"], header=header)
        check_values(df, "label", (BONAFIDE, SPOOF), what="score file", path=path)
    else:
        raise EvaluationError(
            f"score file {path}: expected 2 columns (trial score) or 4 (utt attack key score), "
            f"the first line has {len(first)}: {' '.join(first)!r}"
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

