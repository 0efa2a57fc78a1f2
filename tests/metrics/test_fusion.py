"""Linear logistic-regression fusion (sdd.metrics.fusion) against an independent logistic regression
(scikit-learn's, on the same scores and class weights), and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sdd import metrics as M
from sdd.metrics.fusion import DEFAULT_RIDGE, fit_linear_fusion


def _systems(rng: np.random.Generator, n_b: int = 300, n_s: int = 900) -> tuple[np.ndarray, np.ndarray]:
    """Three systems on the same trials: two informative at different scales and offsets, one noise."""
    y = np.r_[np.ones(n_b, bool), np.zeros(n_s, bool)]
    latent = np.where(y, 1.5, 0.0)
    x = np.c_[
        3.0 * (latent + rng.normal(size=y.size)) + 2.0,
        0.5 * (latent + rng.normal(size=y.size)) - 1.0,
        rng.normal(size=y.size),
    ]
    return x, y


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sklearn(x: np.ndarray, y: np.ndarray, prior: float, C: float) -> LogisticRegression:
    """scikit-learn's logistic regression with BOSARIS's class weights (prior / N per class).
    ``C=np.inf`` is its unpenalised fit (what ``penalty=None`` was before scikit-learn 1.8)."""
    sw = np.where(y, prior / y.sum(), (1 - prior) / (~y).sum())
    model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    return model.fit(x, y.astype(int), sample_weight=sw)


@pytest.mark.parametrize("prior", [0.5, 0.1, 0.9])
def test_unregularised_fusion_equals_sklearn(rng, prior):
    x, y = _systems(rng)
    fused = fit_linear_fusion(x, y, prior=prior, ridge=0.0)
    ref = _sklearn(x, y, prior, np.inf)
    np.testing.assert_allclose(fused.weights, ref.coef_[0], rtol=1e-8, atol=1e-10)
    # the output is the regression's log-odds minus the prior log-odds: an LLR
    assert fused.offset == pytest.approx(ref.intercept_[0] - _logit(prior), abs=1e-9)
    new = rng.normal(size=(50, 3)) * 3  # any trials, e.g. eval
    np.testing.assert_allclose(fused.apply(new), ref.decision_function(new) - _logit(prior), atol=1e-8)


def test_default_ridge_equals_sklearn_l2_on_standardised_scores(rng):
    """ridge * |w_std|^2 + weighted loss == sklearn's 0.5 |w|^2 / C + loss with C = 1 / (2 ridge)."""
    x, y = _systems(rng)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    fused = fit_linear_fusion(x, y, ridge=0.01)  # large enough to move the weights measurably
    ref = _sklearn((x - mu) / sd, y, 0.5, 1 / (2 * 0.01))
    np.testing.assert_allclose(fused.weights, ref.coef_[0] / sd, rtol=1e-8)
    np.testing.assert_allclose(fused.apply(x), ref.decision_function((x - mu) / sd), atol=1e-8)
    assert not np.allclose(fused.weights, fit_linear_fusion(x, y, ridge=0.0).weights, rtol=1e-4)
    assert fit_linear_fusion(x, y).ridge == DEFAULT_RIDGE


def test_fusing_one_system_keeps_the_eer(rng):
    # (the calibration is this fit for one system: fit_logistic_calibration calls fit_linear_fusion)
    x, y = _systems(rng)
    one = fit_linear_fusion(x[:, :1], y)
    assert one.weights[0] > 0, "an informative system keeps its polarity"
    ev = rng.normal(size=(400, 1)) + np.r_[np.ones(100), np.zeros(300)][:, None]
    is_b = np.r_[np.ones(100, bool), np.zeros(300, bool)]
    llr = one.apply(ev)
    assert M.eer(llr[is_b], llr[~is_b]) == M.eer(ev[is_b, 0], ev[~is_b, 0])  # a monotone map


def test_fusion_beats_or_matches_each_system_on_dev_cllr(rng):
    """The fit minimises the dev Cllr over a family that contains each calibrated system alone."""
    x, y = _systems(rng)
    llr = fit_linear_fusion(x, y).apply(x)
    fused = M.cllr(llr[y], llr[~y])
    for k in range(3):
        single = fit_linear_fusion(x[:, [k]], y).apply(x[:, [k]])
        assert fused <= M.cllr(single[y], single[~y]) + 1e-12


def test_a_duplicated_system_fuses_to_the_system_alone(rng):
    """Only the sum of two copies' weights is identified: it is the system's own weight."""
    x, y = _systems(rng)
    both = fit_linear_fusion(np.c_[x[:, 0], x[:, 0]], y, ridge=0.0)
    one = fit_linear_fusion(x[:, :1], y, ridge=0.0)
    assert sum(both.weights) == pytest.approx(one.weights[0], rel=1e-8)
    np.testing.assert_allclose(both.apply(np.c_[x[:, 0], x[:, 0]]), one.apply(x[:, :1]), atol=1e-8)


def test_separated_dev_scores_need_the_ridge(rng):
    y = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    x = np.c_[np.where(y, 1.0, -1.0) + 0.1 * rng.normal(size=100), rng.normal(size=100)]
    with pytest.raises(M.MetricsError, match="separates the dev trials perfectly"):
        fit_linear_fusion(x, y, ridge=0.0)
    fused = fit_linear_fusion(x, y)
    assert all(math.isfinite(w) for w in fused.weights) and fused.weights[0] > 0


@pytest.mark.parametrize(
    ("x", "y", "kw", "match"),
    [
        (np.ones((4, 2)), np.array([True, False, True, False]), {}, "all equal"),
        (np.zeros((4, 2)) + np.arange(4)[:, None], np.ones(4, bool), {}, "both classes"),
        (np.arange(8.0).reshape(4, 2), np.array([1, 0, 1, 0]), {}, "booleans"),
        (np.arange(8.0).reshape(4, 2), np.array([True, False, True]), {}, "shape"),
        (
            np.array([[0.0, 1], [np.nan, 2], [1, 0], [2, 2]]),
            np.array([True, False, True, False]),
            {},
            "finite",
        ),
        (np.arange(8.0).reshape(4, 2), np.array([True, False, True, False]), {"prior": 1.0}, "prior"),
        (np.arange(8.0).reshape(4, 2), np.array([True, False, True, False]), {"ridge": -1.0}, "ridge"),
    ],
)
def test_bad_input_is_one_clear_error(x, y, kw, match):
    with pytest.raises(M.MetricsError, match=match):
        fit_linear_fusion(x, y, **kw)


def test_apply_checks_the_columns(rng):
    x, y = _systems(rng)
    fused = fit_linear_fusion(x, y)
    with pytest.raises(M.MetricsError, match=r"expected \(trials, 3\)"):
        fused.apply(x[:, :2])
