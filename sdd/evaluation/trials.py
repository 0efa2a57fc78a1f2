"""Metric assembly: a table of trials in, a JSON-serialisable dict of metrics out.

:func:`evaluate_trials` is THE function the pipeline calls (the evaluate stage through
:mod:`.eval_sets`, ``sdd evaluate`` through :mod:`.cli`): a table of trials (``utt_id, score, label,
attack`` plus condition columns) in, a dict of metrics (fractions, not percent) out, every threshold
sweep read from one sort per class (:class:`sdd.metrics.SortedScores`). Bad input never yields a
silently wrong number: missing columns, duplicated ids, unknown labels and non-finite scores raise
:class:`~sdd.evaluation.common.EvaluationError`. This module never imports torch.

Conventions (data.md): per-attack EER = all bona fide vs that attack's spoofs; per-condition EER =
both classes within the condition (2021 LA codec/transmission, DF compression), as the 2021 eval
package; spoof-only factors (DF vocoder family) = all bona fide vs that group's spoofs, also as the
2021 package (its ``factor_type == 'spoof'``). Deliberate difference from the 2021 package: the
2021 LA t-DCF uses one pooled ASV operating point computed from the keys' ASV scores of the chosen
subset (the package's pooled entry of its precomputed ``LA-C012-<subset>.npy``, which we do not
unpickle); per-condition t-DCFs are not reported.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sdd import metrics as M
from sdd.evaluation.common import ASV_KEYS, BONAFIDE, SPOOF, EvaluationError, check_finite, first_ids
from sdd.evaluation.tdcf2021 import C012Table, decomposed_min_tdcf

__all__ = ["evaluate_trials", "fit_calibration", "validate_trials"]

log = logging.getLogger(__name__)


def fit_calibration(bonafide_scores: np.ndarray, spoof_scores: np.ndarray) -> tuple[float, float]:
    """Logistic calibration ``(a, b)`` fitted on DEV scores.

    See :func:`sdd.metrics.fit_logistic_calibration`; apply as ``a * score + b`` (an LLR).
    """
    return M.fit_logistic_calibration(bonafide_scores, spoof_scores)


def validate_trials(trials: pd.DataFrame, columns: Sequence[str]) -> None:
    """An :class:`EvaluationError` unless ``trials`` has the columns, unique ids, both labels and finite
    scores :func:`evaluate_trials` needs (``columns``: the condition columns)."""
    missing = [c for c in ("utt_id", "score", "label", "attack", *columns) if c not in trials.columns]
    if missing:
        raise EvaluationError(f"trial table: missing columns {missing}; has {list(trials.columns)}")
    ids = trials["utt_id"]
    if not pd.Index(ids).is_unique:
        dup = ids[ids.duplicated()].unique()
        raise EvaluationError(f"trial table: {dup.size} duplicated utt_id, e.g. {first_ids(dup)}")
    lab = trials["label"]
    bad = ~lab.isin([BONAFIDE, SPOOF])
    if bad.any():
        raise EvaluationError(
            f"trial table: {int(bad.sum())} labels not 'bonafide'/'spoof' "
            f"(values {first_ids(lab[bad].unique())}), e.g. {first_ids(ids[bad].to_numpy())}"
        )
    try:
        scores = trials["score"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise EvaluationError(f"trial table: scores are not numbers ({e})") from e
    check_finite(scores, ids.to_numpy(), "trial table")
    n_b = int((lab == BONAFIDE).sum())
    if n_b == 0 or n_b == len(trials):
        raise EvaluationError(
            f"trial table: need both classes, got {n_b} bona fide and {len(trials) - n_b} spoof trials"
        )
    for c in ("attack", *columns):
        na = trials[c].isna()
        if na.any():
            raise EvaluationError(
                f"trial table: {int(na.sum())} rows without {c!r}, e.g. {first_ids(ids[na].to_numpy())}"
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
    ci_block: str | None = None,
    c012: C012Table | None = None,
    sasv_scores: pd.DataFrame | None = None,
) -> dict:
    """All metrics of one score set, each threshold sweep read from ONE sort per class.

    Args:
        trials: one row per trial: ``utt_id``, ``score`` (float, higher = more bona fide), ``label``
            ('bonafide'/'spoof'), ``attack`` ('-' for bona fide) and every condition column.
        asv_scores: ASV scores with ``asv_key`` (target/nontarget/spoof) and ``score``; enables
            ``min_tdcf`` (revised 2021 form), ``min_tdcf_legacy`` (2019 form), ``asv_operating_point``
            and ``t_eer`` / ``t_eer_exhaustive`` (the tandem EER of these CM scores with that ASV
            system by the ASVspoof 5 package's search / over every threshold, :func:`sdd.metrics.t_eer`).
        condition_columns: factors of both classes; ``per_condition[col][value]`` = EER of the bona
            fide and spoof trials of that value.
        ci: add ``eer_ci95`` [lo, hi], stratified utterance bootstrap (or blocked, ``ci_block``).
        n_resamples: bootstrap replicates.
        seed: bootstrap seed.
        calibration: ``(a, b)`` fitted on DEV scores (:func:`fit_calibration`); adds
            ``act_dcf_calibrated`` and ``cllr_calibrated`` on ``a * score + b``.
        spoof_condition_columns: spoof-only factors (DF vocoder family);
            ``per_spoof_condition[col][value]`` = EER of all bona fide vs that value's spoofs.
        ci_block: a column of block ids (``speaker``): the interval resamples whole blocks, within
            each class (:func:`sdd.metrics.bootstrap_eer`), and ``eer_ci95_blocked_by`` names it.
        c012: 2021 LA t-DCF coefficients per (attack, codec) cell; adds ``per_attack_min_tdcf``,
            ``per_condition_min_tdcf``, ``per_attack_condition_min_tdcf``, ``per_attack_condition`` and
            ``tdcf_c012`` (the source), and its pooled cell gives ``min_tdcf``.
        sasv_scores: SASV scores with ``asv_key`` (target/nontarget/spoof) and ``score``
            (:func:`sdd.evaluation.sasv.read_sasv_scores`); adds ``a_dcf`` (ASVspoof 5 cost model)
            and ``sasv_trials`` (counts per key), and ``sasv_t_eer`` (and ``sasv_t_eer_exhaustive``)
            when it also has ``cm_score`` and ``asv_score`` (the ASVspoof 5 package's Track 2 t-EER:
            bona fide = target + non-target).

    Returns:
        JSON-serialisable dict of plain floats/ints (fractions, not percent): ``eer, min_dcf, act_dcf,
        cllr, per_attack, n_bonafide, n_spoof`` and, where applicable, ``min_tdcf, min_tdcf_legacy,
        asv_operating_point, t_eer, t_eer_exhaustive, per_condition, per_spoof_condition, eer_ci95,
        eer_ci95_blocked_by, act_dcf_calibrated, cllr_calibrated, calibration, a_dcf, sasv_trials,
        sasv_t_eer, sasv_t_eer_exhaustive`` and the 2021 LA decomposition above.
    """
    validate_trials(trials, (*condition_columns, *spoof_condition_columns, *([ci_block] if ci_block else [])))
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
    if out["eer"] > 0.5 and np.ptp(scores) > 0:
        log.warning(
            "EER is %.1f%% (> 50%%): the scores look INVERTED (higher should mean more bona fide); "
            "if this system scores spoof higher, negate its scores. Metrics are reported as given.",
            100 * out["eer"],
        )
    if asv_scores is not None:
        for c in ("asv_key", "score"):
            if c not in asv_scores.columns:
                raise EvaluationError(f"ASV scores: missing column {c!r}; has {list(asv_scores.columns)}")
        key = asv_scores["asv_key"].to_numpy()
        asv = asv_scores["score"].to_numpy(dtype=np.float64)
        check_finite(asv, key, "ASV scores")
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
        _put_teer(out, "t_eer", s, None, groups, "these CM scores with the ASV scores")
    if c012 is not None:
        table = decomposed_min_tdcf(trials, c012)
        if "min_tdcf" in out and "min_tdcf" in table and not math.isclose(
            out["min_tdcf"], table["min_tdcf"], rel_tol=1e-9, abs_tol=1e-12
        ):
            log.warning(
                "min t-DCF %.6f from the pooled ASV operating point differs from %.6f with the pooled "
                "coefficients of %s; reporting the latter, as the 2021 package does",
                out["min_tdcf"], table["min_tdcf"], c012.source,
            )  # fmt: skip
        out.update(table)
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
        groups = {}
        if ci_block is not None:
            blk = trials[ci_block].to_numpy()
            groups = {"bonafide_groups": blk[is_b], "spoof_groups": blk[~is_b]}
        ci95 = M.eer_confidence_interval(s, n_resamples=n_resamples, seed=seed, level=0.95, **groups)
        out["eer_ci95"] = list(ci95)
        if ci_block is not None:
            out["eer_ci95_blocked_by"] = ci_block
    elif ci_block is not None:
        raise EvaluationError(f"ci_block={ci_block!r} sets how the interval resamples; it needs ci=True")
    if calibration is not None:
        a, b = (float(x) for x in calibration)
        if not (math.isfinite(a) and math.isfinite(b)):
            raise EvaluationError(f"calibration (a, b)={calibration} must be finite")
        out["act_dcf_calibrated"] = M.act_dcf(a * bona + b, a * spoof + b)
        out["cllr_calibrated"] = M.cllr(a * bona + b, a * spoof + b)
        out["calibration"] = {"a": a, "b": b}
    if sasv_scores is not None:
        for c in ("asv_key", "score"):
            if c not in sasv_scores.columns:
                raise EvaluationError(f"SASV scores: missing column {c!r}; has {list(sasv_scores.columns)}")
        key = sasv_scores["asv_key"].to_numpy()
        sv = sasv_scores["score"].to_numpy(dtype=np.float64)
        check_finite(sv, key, "SASV scores")
        groups = {k: sv[key == k] for k in ASV_KEYS}
        empty = [k for k, v in groups.items() if v.size == 0]
        if empty:
            raise EvaluationError(
                f"SASV scores: no {empty} trials; the a-DCF needs target, nontarget and spoof trials"
            )
        out["a_dcf"] = M.a_dcf(groups["target"], groups["nontarget"], groups["spoof"])
        out["sasv_trials"] = {k: int(v.size) for k, v in groups.items()}
        if {"cm_score", "asv_score"} <= set(sasv_scores.columns):
            cm = sasv_scores["cm_score"].to_numpy(dtype=np.float64)
            asv = sasv_scores["asv_score"].to_numpy(dtype=np.float64)
            check_finite(cm, key, "SASV CM scores")
            check_finite(asv, key, "SASV ASV scores")
            bona = key != "spoof"
            asv_groups = {k: asv[key == k] for k in ASV_KEYS}
            what = "the SASV table's CM and ASV scores"
            _put_teer(out, "sasv_t_eer", cm[bona], cm[~bona], asv_groups, what)
    return out


def _put_teer(
    out: dict,
    name: str,
    cm_bona: np.ndarray | M.SortedScores,
    cm_spoof: np.ndarray | None,
    asv: dict[str, np.ndarray],
    what: str,
) -> None:
    """``out[name]`` = the t-EER by the ASVspoof 5 package's search and ``out[name + "_exhaustive"]`` by
    the search over every threshold; a warning and no entry where one is undefined (degenerate scores),
    and a warning where the two differ (the package's decimated grid missed the concurrent point)."""
    curves = M.TandemCurves(cm_bona, cm_spoof, asv["target"], asv["nontarget"], asv["spoof"])
    for search, key in (("package", name), ("exhaustive", f"{name}_exhaustive")):
        try:
            out[key] = curves.t_eer(search)
        except M.MetricsError as e:
            log.warning("no %s for %s: %s", key, what, e)
    if name in out and f"{name}_exhaustive" in out and out[name] != out[f"{name}_exhaustive"]:
        log.warning(
            "%s %.6f (the ASVspoof 5 package's decimated search, as it reports) differs from %.6f over "
            "every threshold pair (%s_exhaustive) for %s",
            name, out[name], out[f"{name}_exhaustive"], name, what,
        )  # fmt: skip
