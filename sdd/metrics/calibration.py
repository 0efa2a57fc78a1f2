"""Logistic calibration of scores into log-likelihood ratios, fitted on DEV scores.

Brümmer & du Preez, "Application-independent evaluation of speaker detection", Computer Speech &
Language 20 (2006): affine logistic calibration ``a * s + b`` minimising the prior-weighted
(0.5/0.5) cross-entropy, so the output is a log-likelihood ratio.
"""

from __future__ import annotations

import numpy as np

from sdd.metrics.detection import as_scores
from sdd.metrics.fusion import DEFAULT_RIDGE, fit_linear_fusion

__all__ = ["apply_calibration", "fit_logistic_calibration"]


def fit_logistic_calibration(
    bonafide_scores: np.ndarray,
    spoof_scores: np.ndarray,
    *,
    ridge: float = DEFAULT_RIDGE,
    max_iter: int = 100,
) -> tuple[float, float]:
    """Affine calibration ``llr = a * score + b`` fitted by prior-weighted logistic regression.

    Minimises ``0.5 mean softplus(-(a s_b + b)) + 0.5 mean softplus(a s_s + b)`` (the Cllr
    objective, in nats), so the output is an LLR at the 0.5/0.5 training prior (Brümmer & du Preez
    2006). It is the linear fusion of one system (:func:`sdd.metrics.fusion.fit_linear_fusion`, the
    one Newton solver of both) at prior 0.5. Deliberate difference: a tiny ridge on the slope keeps the
    fit finite on perfectly separated scores, where the unregularised optimum is at infinity.

    Args:
        bonafide_scores: (N_b,) DEV scores of bona fide trials (never the evaluated set).
        spoof_scores: (N_s,) DEV scores of spoof trials.
        ridge: L2 weight on the standardised slope.
        max_iter: Newton iterations at most.

    Returns:
        ``(a, b)`` in the units of the raw scores; ``(0.0, 0.0)`` (every LLR 0: no evidence) when all
        dev scores are equal, where the fit has nothing to scale.
    """
    bona = as_scores(bonafide_scores, "bona fide dev scores")
    spoof = as_scores(spoof_scores, "spoof dev scores")
    pooled = np.concatenate([bona, spoof])  # (N,)
    if np.all(pooled == pooled[0]):
        return 0.0, 0.0
    is_bonafide = np.concatenate([np.ones(bona.size, bool), np.zeros(spoof.size, bool)])
    fused = fit_linear_fusion(pooled[:, None], is_bonafide, prior=0.5, ridge=ridge, max_iter=max_iter)
    return fused.weights[0], fused.offset


def apply_calibration(scores: np.ndarray, calibration: tuple[float, float]) -> np.ndarray:
    """``a * scores + b``: raw scores (N,) to calibrated LLRs (N,)."""
    a, b = calibration
    return a * np.asarray(scores, dtype=np.float64) + b
