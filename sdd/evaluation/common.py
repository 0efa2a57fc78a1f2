"""The vocabulary of evaluation: class labels, ASV keys, the error type and id listing in messages.

Shared by the file readers (:mod:`.tables`, :mod:`.score_files`, :mod:`.protocols`) and the metric
assembly (:mod:`.trials`); imports nothing from ``sdd``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "ASV_KEYS",
    "BONAFIDE",
    "NO_ATTACK",
    "SHOW",
    "SPOOF",
    "EvaluationError",
    "check_finite",
    "first_ids",
]

BONAFIDE = "bonafide"
SPOOF = "spoof"
NO_ATTACK = "-"
ASV_KEYS = ("target", "nontarget", "spoof")
SHOW = 5  # how many offending ids an error message lists


class EvaluationError(ValueError):
    """A score file, protocol or trial table that would give a wrong number; names file, counts, ids."""


def first_ids(ids: Sequence[str] | np.ndarray | pd.Series, n: int = SHOW) -> str:
    """The first ``n`` ids as ``a, b, c, ...`` for an error message."""
    items = [str(x) for x in list(ids[:n])]
    return ", ".join(items) + (", ..." if len(ids) > n else "")


def check_finite(scores: np.ndarray, ids: np.ndarray, what: str) -> None:
    """An :class:`EvaluationError` naming the first ids with NaN/inf scores, if any."""
    bad = ~np.isfinite(scores)
    if bad.any():
        n_bad = int(bad.sum())
        raise EvaluationError(f"{what}: {n_bad} non-finite scores (NaN/inf), e.g. {first_ids(ids[bad])}")

