"""The ASVspoof 2021 LA t-DCF per condition, as the official 2021 eval package computes it.

The package (github.com/asvspoof-challenge/2021, ``eval-package/main.py``, ``config.py``,
``eval_wrapper.py``) decomposes LA results over two factors: ``attack`` (a spoof-only factor:
A07..A19) and ``codec`` (a factor of both classes: none, alaw, pstn, g722, ulaw, gsm, opus), each
plus ``Pooled``. For every cell ``[attack][codec]`` it takes the t-DCF coefficients C0, C1, C2 from a
dictionary ``C012[attack][codec]`` and computes the revised min t-DCF (and the EER) of the CM trials
of that cell: the bona fide trials of the codec (all of them for ``Pooled``) against the spoofs of
the attack and the codec. The pooled min t-DCF is the cell ``[Pooled][Pooled]``.

The C012 dictionary comes, by default, from ``keys/LA/LA-C012-<subset>.npy`` (subset file names
``eval``, ``prog``, ``hidden``), a pickle written by ``np.array(dict).dump``. With
``--recompute-c012`` the package recomputes it from the ASV keys of the subset instead,
``keys/LA/ASV/trial_metadata.txt`` (``spk trial codec trans attack label trim subset``, label
target/nontarget/spoof) joined with ``keys/LA/ASV/ASVTorch_Kaldi/score.txt`` (``asv_spk trial
score``; the package joins the two by line position, we by ``(spk, trial)``, which is the same on
files in the same order and an error otherwise): for cell ``[a][c]`` the target and non-target ASV
scores of codec ``c`` and the spoof ASV scores of attack ``a`` and codec ``c`` give the ASV EER
threshold and its error rates, then ``C0 = P_tar C_miss Pmiss_asv + P_non C_fa Pfa_asv``,
``C1 = P_tar C_miss - C0``, ``C2 = P_spoof C_fa_spoof Pfa_spoof_asv`` (``get_tDCF_C012``). A cell
without data is NaN in the package; here it is left out of the output, with a warning.

:func:`read_c012_pickle` reads the package's file without executing arbitrary code (a restricted
unpickler that admits only numpy's array and scalar constructors); :func:`c012_from_asv` recomputes
it; :func:`decomposed_min_tdcf` fills the table from CM trials.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import math
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdd import metrics as M
from sdd.evaluation.common import BONAFIDE, EvaluationError

__all__ = ["POOLED", "C012Table", "c012_from_asv", "decomposed_min_tdcf", "read_c012_pickle"]

log = logging.getLogger(__name__)

POOLED = "Pooled"  # the package's tag for the pooled condition (config.g_pooled_tag)
#: ``--subset`` -> the package's C012 file (config.ConfigLA.c012_file).
C012_FILES = {"eval": "LA-C012-eval.npy", "progress": "LA-C012-prog.npy", "hidden": "LA-C012-hidden.npy"}

Coefficients = tuple[float, float, float]


@dataclass(frozen=True)
class C012Table:
    """t-DCF coefficients per cell, ``coefficients[attack][codec] = (C0, C1, C2)`` (NaN: no data).

    Attributes:
        coefficients: rows are attacks and ``Pooled``, columns codecs and ``Pooled``.
        source: where they come from, for the metrics JSON (a file name, never an absolute path).
        spoof_factor: the spoof-only factor of the rows (``attack``).
        both_factor: the factor of both classes of the columns (``codec``).
    """

    coefficients: dict[str, dict[str, Coefficients]]
    source: str
    spoof_factor: str = "attack"
    both_factor: str = "codec"

    def get(self, row: str, col: str) -> Coefficients | None:
        """The cell's (C0, C1, C2), or None when it is absent or NaN (the package's ``load_C012_value``)."""
        c = self.coefficients.get(row, {}).get(col)
        if c is None or not all(math.isfinite(x) for x in c):
            return None
        return c


# --------------------------------------------------------------------------------------------------
# The package's precomputed file, read safely
# --------------------------------------------------------------------------------------------------


def _numpy_attr(modules: tuple[str, ...], name: str) -> Callable[..., Any]:
    for m in modules:
        try:
            return getattr(importlib.import_module(m), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"numpy has no {name} in {modules}")


_MULTIARRAY = ("numpy._core.multiarray", "numpy.core.multiarray")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits numpy's array/scalar/dtype constructors (numpy 1.x and 2.x names) and ``_codecs.encode``."""

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_attr(_MULTIARRAY, "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_attr(_MULTIARRAY, "_reconstruct"),
        ("numpy._core.multiarray", "scalar"): lambda: _numpy_attr(_MULTIARRAY, "scalar"),
        ("numpy.core.multiarray", "scalar"): lambda: _numpy_attr(_MULTIARRAY, "scalar"),
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("_codecs", "encode"): lambda: _numpy_attr(("_codecs",), "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        make = self._ALLOWED.get((module, name))
        if make is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not a numpy array of numbers")
        return make()


def read_c012_pickle(path: str | os.PathLike[str]) -> C012Table:
    """Read the 2021 package's ``LA-C012-<subset>.npy`` (a dict ``[attack][codec] -> {C0, C1, C2}``).

    Raises:
        EvaluationError: the file is unreadable, holds anything but numpy numbers in that layout.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _NumpyOnlyUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise EvaluationError(f"t-DCF coefficients {path}: not the 2021 package's C012 pickle ({e})") from e
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    table: dict[str, dict[str, Coefficients]] = {}
    bad = f"t-DCF coefficients {path}: expected a dict [attack][codec] -> {{'C0', 'C1', 'C2'}} of numbers"
    if not isinstance(obj, dict):
        raise EvaluationError(f"{bad}, got {type(obj).__name__}")
    for row, cols in obj.items():
        if not isinstance(cols, dict):
            raise EvaluationError(f"{bad}; [{row}] is a {type(cols).__name__}")
        for col, cell in cols.items():
            try:
                table.setdefault(str(row), {})[str(col)] = (
                    float(cell["C0"]), float(cell["C1"]), float(cell["C2"])
                )  # fmt: skip
            except (TypeError, KeyError, ValueError) as e:
                raise EvaluationError(f"{bad}; [{row}][{col}] is {cell!r}") from e
    if POOLED not in table or POOLED not in table[POOLED]:
        raise EvaluationError(f"{bad}; it has no [{POOLED}][{POOLED}] cell")
    return C012Table(table, source=path.name)


# --------------------------------------------------------------------------------------------------
# Recomputed from the ASV keys (the package's --recompute-c012)
# --------------------------------------------------------------------------------------------------


def c012_from_asv(
    asv: pd.DataFrame, source: str, cost: M.TDCFCostModel | None = None
) -> C012Table:
    """C012 of every (attack or Pooled, codec or Pooled) cell from the ASV keys' scores of one subset.

    Args:
        asv: one row per ASV trial with ``asv_key`` (target/nontarget/spoof), ``score``, ``attack`` and
            ``codec``.
        source: description for the metrics JSON.
        cost: the t-DCF cost model; None = the package's ``config.cost_model``.
    """
    cost = M.TDCFCostModel() if cost is None else cost
    for c in ("asv_key", "score", "attack", "codec"):
        if c not in asv.columns:
            raise EvaluationError(f"ASV keys: missing column {c!r}; has {list(asv.columns)}")
    key = asv["asv_key"].to_numpy()
    score = asv["score"].to_numpy(dtype=np.float64)
    codec = asv["codec"].to_numpy()
    attack = asv["attack"].to_numpy()
    spoof = key == "spoof"
    attacks = sorted(pd.unique(attack[spoof]).tolist(), key=str)
    codecs = sorted(pd.unique(codec).tolist(), key=str)
    nan3 = (math.nan, math.nan, math.nan)
    table: dict[str, dict[str, Coefficients]] = {}
    for col in [*codecs, POOLED]:
        in_c = np.ones(key.size, dtype=bool) if col == POOLED else codec == col
        tar, non = score[in_c & (key == "target")], score[in_c & (key == "nontarget")]
        spf_c = in_c & spoof
        if tar.size == 0 or non.size == 0 or not spf_c.any():
            for row in [*attacks, POOLED]:
                table.setdefault(str(row), {})[str(col)] = nan3
            continue
        # the ASV EER threshold depends on target/non-target only: once per codec
        op = M.asv_operating_point(tar, non, score[spf_c])
        for row in [*attacks, POOLED]:
            spf = score[spf_c] if row == POOLED else score[spf_c & (attack == row)]
            if spf.size == 0:
                table.setdefault(str(row), {})[str(col)] = nan3
                continue
            cell = dataclasses.replace(
                op,
                pfa_spoof=float(np.count_nonzero(spf >= op.threshold) / spf.size),
                pmiss_spoof=float(np.count_nonzero(spf < op.threshold) / spf.size),
            )
            try:
                table.setdefault(str(row), {})[str(col)] = M.tdcf_coefficients(cell, cost)
            except M.MetricsError as e:
                if row == POOLED and col == POOLED:
                    raise
                log.warning("2021 LA t-DCF: no coefficients for [%s][%s]: %s", row, col, e)
                table.setdefault(str(row), {})[str(col)] = nan3
    return C012Table(table, source=source)


# --------------------------------------------------------------------------------------------------
# The decomposed table from CM trials
# --------------------------------------------------------------------------------------------------


def decomposed_min_tdcf(trials: pd.DataFrame, table: C012Table) -> dict[str, Any]:
    """Revised min t-DCF and EER of every (attack or Pooled, codec or Pooled) cell of the CM trials.

    Args:
        trials: the trial table of :func:`sdd.evaluation.trials.evaluate_trials` (``score``,
            ``label``, and the two factor columns).
        table: the C012 coefficients.

    Returns:
        ``{"min_tdcf": pooled, "per_attack_min_tdcf": {a: v}, "per_condition_min_tdcf": {codec: {c: v}},
        "per_attack_condition_min_tdcf": {codec: {a: {c: v}}}, "per_attack_condition": {codec: {a: {c:
        eer}}}, "tdcf_c012": source}``; cells without trials or coefficients are left out.
    """
    sf, bf = table.spoof_factor, table.both_factor
    for c in (sf, bf):
        if c not in trials.columns:
            raise EvaluationError(
                f"trial table: the 2021 LA t-DCF needs column {c!r}; has {list(trials.columns)}"
            )
    scores = trials["score"].to_numpy(dtype=np.float64)
    is_b = (trials["label"] == BONAFIDE).to_numpy()
    whole = M.SortedScores.from_scores(scores[is_b], scores[~is_b])  # one sort; cells are subsets
    rows_s = trials[sf].to_numpy()[~is_b][whole.spoof_order]  # factor values in sorted coordinates
    cols_b = trials[bf].to_numpy()[is_b][whole.bona_order]
    cols_s = trials[bf].to_numpy()[~is_b][whole.spoof_order]
    rows = sorted(pd.unique(rows_s).tolist(), key=str)
    cols = sorted(pd.unique(trials[bf].to_numpy()).tolist(), key=str)
    tdcf: dict[str, dict[str, float]] = {}
    eers: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    for r in [*rows, POOLED]:
        sel_s = np.ones(rows_s.size, dtype=bool) if r == POOLED else rows_s == r
        for c in [*cols, POOLED]:
            bm = np.ones(cols_b.size, dtype=bool) if c == POOLED else cols_b == c
            sm = sel_s if c == POOLED else sel_s & (cols_s == c)
            if not bm.any() or not sm.any():
                skipped.append(f"[{r}][{c}] (no trials)")
                continue
            s = whole.subset(bm, sm)
            eers.setdefault(str(r), {})[str(c)] = s.eer()
            coef = table.get(str(r), str(c))
            if coef is None:
                skipped.append(f"[{r}][{c}] (no C012)")
                continue
            tdcf.setdefault(str(r), {})[str(c)] = s.min_tdcf(*coef)
    if skipped:
        log.warning("2021 LA t-DCF: %d cells left out: %s", len(skipped), ", ".join(skipped[:10]))
    out: dict[str, Any] = {}
    if POOLED in tdcf.get(POOLED, {}):
        out["min_tdcf"] = tdcf[POOLED][POOLED]
    out["per_attack_min_tdcf"] = {r: v[POOLED] for r, v in tdcf.items() if r != POOLED and POOLED in v}
    out["per_condition_min_tdcf"] = {bf: {c: v for c, v in tdcf.get(POOLED, {}).items() if c != POOLED}}
    out["per_attack_condition_min_tdcf"] = {
        bf: {r: {c: v for c, v in cells.items() if c != POOLED} for r, cells in tdcf.items() if r != POOLED}
    }
    out["per_attack_condition"] = {
        bf: {r: {c: v for c, v in cells.items() if c != POOLED} for r, cells in eers.items() if r != POOLED}
    }
    out["tdcf_c012"] = table.source
    return out
