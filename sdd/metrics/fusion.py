"""Linear logistic-regression score fusion of several detection systems, fitted on DEV scores.

The BOSARIS convention (Brümmer & de Villiers, "The BOSARIS Toolkit: Theory, Algorithms and Code for
Surviving the New DCF", arXiv:1304.2865, 2013; Pigeon, Druyts & Verlinde, "Applying logistic
regression to the fusion of the NIST'99 1-speaker submissions", Digital Signal Processing 10, 2000;
Brümmer et al., "Fusion of heterogeneous speaker recognition systems in the STBU submission for the
NIST SRE 2006", IEEE TASLP 15, 2007): the fused score of a trial with system scores ``s`` (K,) is

    llr = w . s + b

with ``(w, b)`` minimising the prior-weighted cross-entropy on the dev trials,

    P * mean_bonafide softplus(-(w . s + b + logit P)) + (1 - P) * mean_spoof softplus(w . s + b + logit P)

where ``P`` is the effective prior of bona fide. The regression's output ``w . s + b + logit P`` is the
log posterior odds at prior ``P``; the fused score is that minus the prior log-odds, a calibrated
log-likelihood ratio (higher = more bona fide), as BOSARIS's ``linear_fuser`` trained by its
``train_binary_classifier`` (and FoCal's ``train_llr_fusion`` before it) gives it.
The default ``P = 0.5`` weighs the two classes equally whatever their counts: it is the prior of the
Cllr (Brümmer & du Preez 2006) and of the evaluate stage's calibration
(:func:`sdd.metrics.fit_logistic_calibration`), which is this fit for one system at prior 0.5.

The fit is Newton's method on per-system standardised scores (pooled dev mean and standard
deviation). ``ridge`` (default 1e-6, the calibration's) adds ``ridge * |w_std|^2`` on the
standardised weights, the intercept unpenalised: without it, dev scores that some linear combination
separates perfectly have no finite optimum. ``ridge=0`` is the plain maximum-likelihood fit; it
refuses separated dev scores with a :class:`~sdd.metrics.detection.MetricsError`. Only dev scores go
into the fit: :meth:`LinearFusion.apply` is the only use of eval scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sdd.metrics.detection import MetricsError

__all__ = ["DEFAULT_PRIOR", "DEFAULT_RIDGE", "LinearFusion", "fit_linear_fusion"]

#: The effective prior of bona fide the fusion is trained at (module docstring).
DEFAULT_PRIOR = 0.5
#: L2 weight on the standardised fusion weights (module docstring).
DEFAULT_RIDGE = 1e-6


@dataclass(frozen=True)
class LinearFusion:
    """A fitted linear fusion: ``llr = weights . scores + offset``.

    Attributes:
        weights: one per fused system, in the order of the fitted score columns.
        offset: the LLR offset (the regression's intercept minus ``logit(prior)``).
        prior: the effective prior of bona fide it was trained at.
        ridge: the L2 weight on the standardised weights used in the fit.
        n_bonafide, n_spoof: dev trials per class it was fitted on.
        iterations: Newton iterations to convergence.
    """

    weights: tuple[float, ...]
    offset: float
    prior: float
    ridge: float
    n_bonafide: int
    n_spoof: int
    iterations: int

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Fused LLRs (N,) of system scores (N, K), columns in the order of :attr:`weights`."""
        x = np.asarray(scores, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.weights):
            raise MetricsError(
                f"fusion: got scores of shape {x.shape}; expected (trials, {len(self.weights)}) "
                "(one column per fused system)"
            )
        if not np.isfinite(x).all():
            raise MetricsError("fusion: non-finite scores to fuse")
        return x @ np.asarray(self.weights) + self.offset

    def to_dict(self) -> dict[str, object]:
        return {
            "weights": list(self.weights),
            "offset": self.offset,
            "prior": self.prior,
            "ridge": self.ridge,
            "n_bonafide": self.n_bonafide,
            "n_spoof": self.n_spoof,
            "iterations": self.iterations,
        }


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def fit_linear_fusion(
    dev_scores: np.ndarray,
    dev_is_bonafide: np.ndarray,
    *,
    prior: float = DEFAULT_PRIOR,
    ridge: float = DEFAULT_RIDGE,
    max_iter: int = 100,
) -> LinearFusion:
    """Fit the fusion (module docstring) on DEV trials.

    Args:
        dev_scores: (N, K) scores of K systems on the same N dev trials (never the evaluated set).
        dev_is_bonafide: (N,) True for bona fide trials.
        prior: effective prior of bona fide, in (0, 1).
        ridge: L2 weight on the standardised weights (>= 0; 0: maximum likelihood).
        max_iter: Newton iterations at most.

    Raises:
        MetricsError: bad shapes, non-finite scores, a class without trials, a system whose dev scores
            are all equal, separated dev scores with ``ridge=0``, or no convergence.
    """
    x = np.asarray(dev_scores, dtype=np.float64)
    y = np.asarray(dev_is_bonafide)
    if x.ndim != 2 or x.shape[1] < 1 or y.shape != (x.shape[0],):
        raise MetricsError(
            f"fusion: got dev scores of shape {x.shape} and labels of shape {y.shape}; expected (N, K) "
            "scores and (N,) labels"
        )
    if y.dtype != np.bool_:
        raise MetricsError(f"fusion: labels must be booleans (True = bona fide); got dtype {y.dtype}")
    if not np.isfinite(x).all():
        raise MetricsError("fusion: non-finite dev scores")
    if not 0.0 < prior < 1.0:
        raise MetricsError(f"fusion: prior {prior}; expected a probability in (0, 1)")
    if not (ridge >= 0.0 and math.isfinite(ridge)):
        raise MetricsError(f"fusion: ridge {ridge}; expected a finite number >= 0")
    n_b, n_s = int(y.sum()), int((~y).sum())
    if n_b == 0 or n_s == 0:
        raise MetricsError(f"fusion: dev trials need both classes; got {n_b} bona fide and {n_s} spoof")
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    flat = np.flatnonzero(sd == 0)
    if flat.size:
        raise MetricsError(
            f"fusion: the dev scores of system {int(flat[0])} (column {int(flat[0])}) are all equal "
            f"({x[0, flat[0]]!r}); it carries no information to fuse"
        )
    k = x.shape[1]
    design = np.hstack([(x - mu) / sd, np.ones((x.shape[0], 1))])  # (N, K+1), last column: intercept
    t = y.astype(np.float64)
    sign = 2.0 * t - 1.0
    wt = np.where(y, prior / n_b, (1.0 - prior) / n_s)  # (N,): the class priors, spread over the trials
    penalty = np.full(k + 1, 2.0 * ridge)
    penalty[-1] = 0.0  # the intercept is not penalised

    def objective(theta: np.ndarray) -> float:
        z = design @ theta
        return float(np.sum(wt * np.logaddexp(0.0, -sign * z)) + ridge * np.sum(theta[:k] ** 2))

    # start at the prior log-odds (all weights 0), where the weighted loss is that of no information
    theta = np.zeros(k + 1)
    theta[-1] = _logit(prior)
    f = objective(theta)
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        z = design @ theta
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid(z), P(bona fide), without overflow
        grad = design.T @ (wt * (p - t)) + penalty * theta
        if np.max(np.abs(grad)) < 1e-13:
            converged = True
            break
        h = wt * p * (1.0 - p)
        hess = (design * h[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-14 * np.eye(k + 1), grad)
        # backtracking; an increase within rounding (1e-13 relative) is no increase: near the optimum
        # the decrease a Newton step makes is far below the objective's last digit
        s = 1.0
        while s > 1e-12:
            cand = theta - s * step
            fc = objective(cand)
            if fc <= f + 1e-13 * abs(f):
                break
            s /= 2
        else:
            break  # no decrease along a descent direction: not converged (reported below)
        theta, f = cand, fc
    z = design @ theta
    if ridge == 0.0 and z[y].min() > z[~y].max():
        raise MetricsError(
            "fusion: a linear combination of the systems separates the dev trials perfectly, so the "
            "unregularised weights are infinite; use ridge > 0 (the default)"
        )
    if not converged or not np.isfinite(theta).all():
        raise MetricsError(
            f"fusion: Newton's method did not converge ({iterations} of at most {max_iter} iterations, "
            f"|gradient| {float(np.max(np.abs(grad))):.3g}); the dev scores may be (nearly) separated"
        )
    weights = theta[:k] / sd
    intercept = theta[-1] - float(np.sum(theta[:k] * mu / sd))
    return LinearFusion(
        weights=tuple(float(v) for v in weights),
        offset=float(intercept - _logit(prior)),
        prior=float(prior),
        ridge=float(ridge),
        n_bonafide=n_b,
        n_spoof=n_s,
        iterations=iterations,
    )
