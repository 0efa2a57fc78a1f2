"""Whitespace-separated tables with exact shape checks: the reader under every score and protocol file.

:func:`read_table` reads a file with exactly ``len(names)`` fields per line; any other field count or
a non-numeric score is an :class:`~sdd.evaluation.common.EvaluationError` naming the lines (found by
a slow second pass that runs on the error path only).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sdd.core.textfile import TextEncodingError, read_text
from sdd.evaluation.common import SHOW, EvaluationError, first_ids

__all__ = ["blank_leading_comments", "check_values", "diagnose_fields", "first_line", "read_table", "text_of"]


def text_of(path: Path, what: str = "") -> str:
    """The text of a user's file by :func:`sdd.core.textfile.read_text` (UTF-8 with or without BOM,
    UTF-16/32 with BOM); another encoding is an :class:`EvaluationError` naming ``what``, the file and
    the encoding found."""
    try:
        return read_text(path)
    except TextEncodingError as e:
        raise EvaluationError(f"{what} {e}" if what else str(e)) from None


def blank_leading_comments(text: str) -> str:
    """``text`` with its leading ``#`` lines (``sdd score``'s header) made blank: line numbers are kept
    and the table readers skip blank lines. A ``#`` after the first data line is left as it is."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            lines[i] = "\n"
        elif line.strip():
            break
    return "".join(lines)


def first_line(path: Path, what: str = "", text: str | None = None) -> str:
    """The first non-blank line of ``path`` (an :class:`EvaluationError` when there is none); ``text``:
    the file's text when the caller has read it already."""
    for line in (text_of(path, what) if text is None else text).splitlines():
        if line.strip():
            return line
    raise EvaluationError(f"{what} {path}: the file is empty" if what else f"{path}: the file is empty")


def diagnose_fields(
    path: Path, n_fields: int, float_cols: Sequence[int], skip_header: bool, text: str | None = None
) -> str:
    """Slow pass, run only on the error path: the lines with the wrong field count or bad numbers
    (``text``: the file's text as the caller parsed it)."""
    wrong: list[str] = []
    bad_num: list[str] = []
    n_wrong = n_bad = 0
    header_done = not skip_header
    for lineno, line in enumerate((text_of(path) if text is None else text).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if not header_done:
            header_done = True
            continue
        if len(fields) != n_fields:
            n_wrong += 1
            if len(wrong) < SHOW:
                wrong.append(f"line {lineno} has {len(fields)}")
            continue
        for c in float_cols:
            try:
                float(fields[c])
            except ValueError:
                n_bad += 1
                if len(bad_num) < SHOW:
                    bad_num.append(f"line {lineno} ({fields[0]}): {fields[c]!r}")
                break
    parts = []
    if n_wrong:
        parts.append(f"{n_wrong} lines do not have {n_fields} fields ({'; '.join(wrong)})")
    if n_bad:
        parts.append(f"{n_bad} lines have a non-numeric score ({'; '.join(bad_num)})")
    return "; ".join(parts)


def read_table(
    path: str | os.PathLike[str],
    names: Sequence[str],
    *,
    what: str,
    float_cols: Sequence[str] = (),
    header: bool = False,
    comments: bool = False,
) -> pd.DataFrame:
    """Read a whitespace-separated file with exactly ``len(names)`` fields per line.

    Columns in ``float_cols`` are float64, the rest strings. Any line with another field count or a
    non-numeric score is an :class:`EvaluationError` naming the lines. ``comments``: leading ``#``
    lines are skipped (:func:`blank_leading_comments`).
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{what} {path}: no such file")
    n = len(names)
    text = text_of(path, what)
    if comments:
        text = blank_leading_comments(text)
    first = first_line(path, what, text).split()
    if len(first) != n:
        raise EvaluationError(
            f"{what} {path}: expected {n} whitespace-separated columns ({' '.join(names)}), "
            f"the first line has {len(first)}: {' '.join(first)!r}"
        )
    float_idx = [names.index(c) for c in float_cols]
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=r"\s+",
            header=0 if header else None,
            names=list(names),
            dtype={c: (np.float64 if c in float_cols else object) for c in names},
            engine="c",
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as e:
        problem = diagnose_fields(path, n, float_idx, header, text) or f"unparseable ({e})"
        raise EvaluationError(f"{what} {path}: {problem}") from e
    if df.isna().to_numpy().any():
        # a short line (missing fields) or a literal NaN score: only the former is a shape error here;
        # NaN/inf scores are reported with their ids by the caller's finiteness check
        problem = diagnose_fields(path, n, float_idx, header, text)
        if problem:
            raise EvaluationError(f"{what} {path}: {problem}")
    return df


def check_values(df: pd.DataFrame, column: str, allowed: Sequence[str], *, what: str, path: Path) -> None:
    """An :class:`EvaluationError` when ``df[column]`` holds values outside ``allowed``."""
    bad = ~df[column].isin(list(allowed))
    if bad.any():
        vals = df.loc[bad, column].unique()
        raise EvaluationError(
            f"{what} {path}: {int(bad.sum())} rows have {column} outside {list(allowed)}: "
            f"values {first_ids(vals)}"
        )
