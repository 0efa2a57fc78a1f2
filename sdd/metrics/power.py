"""Statistical power of a paired EER comparison: the minimum detectable difference (MDD).

A comparison that is not flagged says "no difference larger than the MDD was detectable", not "no
difference". The MDD is the classical normal-approximation one (Cohen, *Statistical Power Analysis for
the Behavioral Sciences*, 2nd ed., 1988, ch. 2; Lachin, "Introduction to sample size determination and
power analysis for clinical trials", Controlled Clinical Trials 2(2):93-113, 1981): if the estimated
difference is ``d_hat ~ N(delta, se^2)``, a two-sided test at level ``alpha'`` rejects with
probability ``Phi(|delta| / se - z_{1-alpha'/2}) + Phi(-|delta| / se - z_{1-alpha'/2})``, and the first
term alone reaches ``power`` at

    MDD = (z_{1 - alpha'/2} + z_{power}) * se,

``z_q = Phi^{-1}(q)`` (``scipy.stats.norm.ppf``; at alpha' = 0.05 and power 0.8: (1.960 + 0.842) se).

``se`` comes from two sources:

- trials: ``se_bootstrap``, the standard deviation (ddof=1) of the paired bootstrap replicates of the
  difference that the comparison already drew (:func:`sdd.metrics.paired_bootstrap_eer`; bootstrap
  standard error, Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 6). With several
  seeds the replicates are of the seed-mean difference, so this is the trial-sampling SE of the
  statistic the report tests; it holds each seed's training run fixed.
- training seeds: ``se_seed``, the standard error of the seed-mean difference across seeds (see
  :func:`seed_standard_error`), available only with two or more seeds per system.

They add as variances, ``se_total = sqrt(se_bootstrap^2 + se_seed^2)``: a new study draws new trials
AND new training runs, and the two draws are independent. The spread of per-seed EERs on one fixed
set of trials also holds the seed-by-trial interaction, which the bootstrap SE holds too, so the sum
counts that part twice: ``se_total`` (and the MDD) errs on the large, conservative side. With two or
three seeds ``se_seed`` is itself rough (a 3-seed standard deviation has about 50 % relative error),
and the normal quantiles do not widen for that; read the MDD as a scale, not a sharp bound.

With one seed per system nothing measures the training variance: the MDD is that of the trials
only, and ``mdd_includes_seed_variance`` is False. Every function here is pure numpy/scipy, no I/O;
EERs, differences and SEs are fractions (not percent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sdd.metrics.detection import MetricsError

__all__ = ["comparison_power", "minimum_detectable_difference", "seed_standard_error"]

#: The power the report states its MDD at.
DEFAULT_POWER = 0.8


def minimum_detectable_difference(
    se: float | np.ndarray, alpha: float, power: float = DEFAULT_POWER
) -> float | np.ndarray:
    """``(z_{1-alpha/2} + z_power) * se``: the smallest true difference a two-sided level-``alpha`` test
    detects with probability ``power`` (module docstring; Cohen 1988, Lachin 1981).

    Args:
        se: scalar or (k,) standard errors of the estimated difference (same unit as the result).
        alpha: two-sided per-comparison level, in (0, 1) (for a Holm family: pass ``alpha / m``).
        power: target detection probability, in (0, 1).

    Returns:
        The MDD, a float for a scalar ``se``, else an array of ``se``'s shape.

    Raises:
        MetricsError: alpha or power outside (0, 1), or a negative or non-finite SE.
    """
    # scipy.stats costs ~0.8 s to import; only the report needs it, not every `import sdd.metrics`
    from scipy.stats import norm

    if not 0.0 < alpha < 1.0:
        raise MetricsError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise MetricsError(f"power must be in (0, 1), got {power}")
    s = np.asarray(se, dtype=np.float64)
    if not np.isfinite(s).all() or (s < 0).any():
        raise MetricsError(f"se must be finite and >= 0, got {s.tolist()}")
    out = (norm.ppf(1.0 - alpha / 2) + norm.ppf(power)) * s
    return float(out) if out.ndim == 0 else out


def seed_standard_error(eers_a: Sequence[float], eers_b: Sequence[float]) -> tuple[float, bool, str]:
    """Standard error, across training seeds, of ``mean_s EER(A_s) - mean_s EER(B_s)`` on fixed trials.

    - Same number of seeds ``n >= 2``: the per-seed differences ``d_s = EER(A_s) - EER(B_s)`` (row s of
      A with row s of B; rows that are the same training seed share their covariance, rows of unrelated
      seeds are independent pairs and the estimate stays unbiased): ``std(d, ddof=1) / sqrt(n)``.
    - Different numbers of seeds, both >= 2: unpaired, ``sqrt(var(A)/n_a + var(B)/n_b)`` (ddof=1).
    - A system with one seed has no measurable seed variance: only the other system's term (if it has
      two or more seeds) enters, and the result says the seed variance is not fully included. (A
      scoring-only system, published weights, truly has none; a trained one is underestimated.)

    Args:
        eers_a: (n_a,) per-seed EERs of system A (fractions), in seed order.
        eers_b: (n_b,) per-seed EERs of system B, in the same seed order.

    Returns:
        ``(se_seed, includes_seed_variance, how)``: the SE (fraction, 0.0 when nothing is measurable),
        True only when both systems have two or more seeds, and a short description of the term.

    Raises:
        MetricsError: an empty or non-finite EER list.
    """
    a = np.asarray(eers_a, dtype=np.float64).ravel()
    b = np.asarray(eers_b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise MetricsError(f"per-seed EERs must be non-empty and finite, got {a.tolist()} and {b.tolist()}")
    if a.size == b.size >= 2:
        return float(np.std(a - b, ddof=1) / np.sqrt(a.size)), True, "per-seed differences, paired by seed"
    var = sum(float(np.var(x, ddof=1)) / x.size for x in (a, b) if x.size >= 2)
    if a.size >= 2 and b.size >= 2:
        return float(np.sqrt(var)), True, "unpaired seeds: sqrt(var_a/n_a + var_b/n_b)"
    if a.size == b.size == 1:
        return 0.0, False, "not included: one seed per system"
    one = "the system" if a.size == 1 else "the reference"
    return float(np.sqrt(var)), False, f"partial: {one} has one seed, only the other's seed variance"


def comparison_power(
    diffs: np.ndarray,
    eers_a: Sequence[float],
    eers_b: Sequence[float],
    *,
    alpha: float,
    n_comparisons: int = 1,
    power: float = DEFAULT_POWER,
) -> dict[str, Any]:
    """The MDD of one comparison in a Holm family, from its bootstrap replicates and per-seed EERs.

    The level is Bonferroni's ``alpha / n_comparisons``, which is the FIRST step of Holm's step-down:
    every later step tests at a larger level, and Holm rejects whatever Bonferroni rejects, so the true
    MDD under Holm is at most this one (conservative). ``se_total = sqrt(se_bootstrap^2 + se_seed^2)``
    (module docstring); no second bootstrap is drawn.

    Args:
        diffs: (n_resamples,) bootstrap replicates of the difference (fractions), as in
            :attr:`sdd.metrics.PairedEerComparison.diffs`.
        eers_a, eers_b: (n_a,), (n_b,) per-seed EERs of the two systems (:func:`seed_standard_error`).
        alpha: family-wise error rate.
        n_comparisons: Holm family size m (>= 1).
        power: target power.

    Returns:
        ``mdd, mdd_power, mdd_alpha, mdd_includes_seed_variance, mdd_seed_term, se_bootstrap, se_seed,
        se_total`` (MDD and SEs are fractions; ``mdd_alpha`` is the per-comparison level used).

    Raises:
        MetricsError: fewer than 2 replicates, non-finite replicates, or bad alpha/power/family size.
    """
    d = np.asarray(diffs, dtype=np.float64).ravel()
    if d.size < 2 or not np.isfinite(d).all():
        raise MetricsError(f"need >= 2 finite bootstrap replicates, got {d.size}")
    if n_comparisons < 1:
        raise MetricsError(f"n_comparisons must be >= 1, got {n_comparisons}")
    if not 0.0 < alpha < 1.0:
        raise MetricsError(f"alpha must be in (0, 1), got {alpha}")
    se_boot = float(np.std(d, ddof=1))
    se_seed, includes, how = seed_standard_error(eers_a, eers_b)
    se_total = float(np.hypot(se_boot, se_seed))
    level = alpha / n_comparisons
    return {
        "mdd": float(minimum_detectable_difference(se_total, level, power)),
        "mdd_power": power,
        "mdd_alpha": level,
        "mdd_includes_seed_variance": includes,
        "mdd_seed_term": how,
        "se_bootstrap": se_boot,
        "se_seed": se_seed,
        "se_total": se_total,
    }
