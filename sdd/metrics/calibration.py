"""Logistic calibration of scores into log-likelihood ratios, fitted on DEV scores.

Brümmer & du Preez, "Application-independent evaluation of speaker detection", Computer Speech &
Language 20 (2006): affine logistic calibration ``a * s + b`` minimising the prior-weighted
(0.5/0.5) cross-entropy, so the output is a log-likelihood ratio.
"""

from __future__ import annotations

import numpy as np

from sdd.metrics.detection import as_scores

__all__ = ["apply_calibration", "fit_logistic_calibration"]


def fit_logistic_calibration(
    bonafide_scores: np.ndarray, spoof_scores: np.ndarray, *, ridge: float = 1e-6, max_iter: int = 100
) -> tuple[float, float]:
    """Affine calibration ``llr = a * score + b`` fitted by prior-weighted logistic regression.

    Minimises ``0.5 mean softplus(-(a s_b + b)) + 0.5 mean softplus(a s_s + b)`` (the Cllr
    objective, in nats) by Newton's method on standardised scores, so the output is an LLR at the
    0.5/0.5 training prior (Brümmer & du Preez 2006). Deliberate difference: a tiny ridge on the slope
    keeps the fit finite on perfectly separated scores, where the unregularised optimum is at infinity.

    Args:
        bonafide_scores: (N_b,) DEV scores of bona fide trials (never the evaluated set).
        spoof_scores: (N_s,) DEV scores of spoof trials.
        ridge: L2 weight on the standardised slope.
        max_iter: Newton iterations.

    Returns:
        ``(a, b)`` in the units of the raw scores.
    """
    bona = as_scores(bonafide_scores, "bona fide dev scores")
    spoof = as_scores(spoof_scores, "spoof dev scores")
    pooled = np.concatenate([bona, spoof])
    mu = float(pooled.mean())
    sd = float(pooled.std()) or 1.0
    x = (pooled - mu) / sd  # (N,)
    y = np.concatenate([np.ones(bona.size), np.zeros(spoof.size)])
    wt = np.concatenate([np.full(bona.size, 0.5 / bona.size), np.full(spoof.size, 0.5 / spoof.size)])
    sign = 2 * y - 1

    def objective(theta: np.ndarray) -> float:
        z = theta[0] * x + theta[1]
        return float(np.sum(wt * np.logaddexp(0.0, -sign * z)) + ridge * theta[0] ** 2)

    theta = np.zeros(2)
    f = objective(theta)
    for _ in range(max_iter):
        z = theta[0] * x + theta[1]
        p = 1.0 / (1.0 + np.exp(-z))  # P(bona fide)
        r = wt * (p - y)
        grad = np.array([np.sum(r * x) + 2 * ridge * theta[0], np.sum(r)])
        h = wt * p * (1 - p)
        hess = np.array([[np.sum(h * x * x) + 2 * ridge, np.sum(h * x)], [np.sum(h * x), np.sum(h)]])
        step = np.linalg.solve(hess + 1e-12 * np.eye(2), grad)
        t = 1.0
        while t > 1e-10:
            cand = theta - t * step
            fc = objective(cand)
            if fc <= f:
                break
            t /= 2
        if t <= 1e-10:
            break
        converged = abs(f - fc) < 1e-14
        theta, f = cand, fc
        if converged:
            break
    a = theta[0] / sd
    b = theta[1] - theta[0] * mu / sd
    return float(a), float(b)


def apply_calibration(scores: np.ndarray, calibration: tuple[float, float]) -> np.ndarray:
    """``a * scores + b``: raw scores (N,) to calibrated LLRs (N,)."""
    a, b = calibration
    return a * np.asarray(scores, dtype=np.float64) + b
