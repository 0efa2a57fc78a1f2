"""Class-balanced L2-regularised logistic regression (Cox, JRSS-B 1958), fitted by L-BFGS.

Shared by the hand-feature baseline (:mod:`sdd.audit.baseline`), the shortcut audit
(:mod:`sdd.audit.shortcuts`)
and the layer-wise probes (:mod:`sdd.probing.probes`). Pure numpy + scipy, no I/O. The fit is
deterministic: L-BFGS from a given start (zeros by default) draws no random numbers.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

__all__ = ["class_weights", "fit_logistic"]


def class_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights ``1 / (2 n_class(i))``: each class weighs one half, the weights sum to 1.

    Args:
        y: (N,) 1 for the positive (bona fide) class, 0 otherwise; both classes must occur.
    """
    y = np.asarray(y, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"fit_logistic needs both classes, got {n_pos} positive and {n_neg} negative rows")
    return np.where(y == 1, 0.5 / n_pos, 0.5 / n_neg)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-2, init: tuple[np.ndarray, float] | None = None
) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression by L-BFGS.

    Minimises sum_i w_i log(1 + exp(-s_i (x_i . beta + b))) + l2 / 2 |beta|^2 with s_i = +-1 and
    weights w_i = 1 / (2 n_class(i)) (both classes weigh one half); the intercept is not penalised.

    Args:
        x: (N, D) standardised features.
        y: (N,) 1 for the positive (bona fide) class, 0 otherwise; both classes must occur.
        l2: penalty strength.
        init: ``(beta, b)`` to start from (a warm start along a regularisation path); zeros if None.
            The problem is strictly convex for ``l2 > 0``, so the start changes only the iterations.

    Returns:
        ``(beta, b)``: (D,) weights and the intercept.
    """
    weight = class_weights(y)
    sign = 2 * np.asarray(y, dtype=np.float64) - 1
    d = x.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        beta, b = theta[:d], theta[d]
        margin = sign * (x @ beta + b)
        value = np.sum(weight * np.logaddexp(0.0, -margin)) + 0.5 * l2 * beta @ beta
        coef = -weight * sign / (1 + np.exp(margin))  # d loss / d logit
        grad = np.concatenate([x.T @ coef + l2 * beta, [coef.sum()]])
        return float(value), grad

    theta0 = np.zeros(d + 1) if init is None else np.concatenate([init[0], [init[1]]]).astype(np.float64)
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return result.x[:d], float(result.x[d])
