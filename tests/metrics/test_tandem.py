"""sdd.metrics.t_eer: invariants that need no oracle (the oracle tests are in test_asvspoof5_official)."""

from __future__ import annotations

import numpy as np
import pytest

from sdd import metrics as M


def _system(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, ...]:
    cm_b, cm_s = rng.normal(2.0, 1.0, n), rng.normal(-1.0, 1.2, 2 * n)
    tar, non, spf = rng.normal(3.0, 1.0, n // 2), rng.normal(-3.0, 1.0, n // 2), rng.normal(0.5, 1.5, 2 * n)
    return cm_b, cm_s, tar, non, spf


def test_teer_is_a_fraction_and_invariant_to_increasing_transforms(rng):
    cm_b, cm_s, tar, non, spf = _system(rng)
    base = M.t_eer(cm_b, cm_s, tar, non, spf)
    assert 0.0 < base < 0.5
    # only the order of the scores matters: an increasing map of either system leaves it unchanged
    assert M.t_eer(3 * cm_b + 1, 3 * cm_s + 1, tar, non, spf) == base
    assert M.t_eer(cm_b, cm_s, np.exp(tar), np.exp(non), np.exp(spf)) == base


def test_teer_reads_higher_as_bona_fide(rng):
    """Negated CM scores (a system scoring spoof higher) give a far worse t-EER (not 1 - t-EER: the
    tandem can still pass every trial to the ASV)."""
    cm_b, cm_s, tar, non, spf = _system(rng)
    assert M.t_eer(-cm_b, -cm_s, tar, non, spf) > M.t_eer(cm_b, cm_s, tar, non, spf) + 0.1


def test_teer_improves_with_a_better_countermeasure(rng):
    cm_b, cm_s, tar, non, spf = _system(rng)
    assert M.t_eer(cm_b + 2.0, cm_s, tar, non, spf) < M.t_eer(cm_b, cm_s, tar, non, spf)


def test_teer_accepts_presorted_cm_scores(rng):
    cm_b, cm_s, tar, non, spf = _system(rng)
    s = M.SortedScores.from_scores(cm_b, cm_s)
    assert M.t_eer(s, None, tar, non, spf) == M.t_eer(cm_b, cm_s, tar, non, spf)
    with pytest.raises(M.MetricsError, match="cm_spoof is required"):
        M.t_eer(cm_b, None, tar, non, spf)


@pytest.mark.parametrize("empty", range(5))
def test_teer_names_an_empty_or_non_finite_input(rng, empty):
    args = list(_system(rng, 20))
    args[empty] = np.array([])
    with pytest.raises(M.MetricsError, match="no scores given"):
        M.t_eer(*args)
    args[empty] = np.array([0.0, np.nan])
    with pytest.raises(M.MetricsError, match="non-finite"):
        M.t_eer(*args)


def _brute_force_teer(cm_b, cm_s, tar, non, spf) -> float:
    """The concurrent t-EER search over the full (ASV threshold x CM threshold) grid at once, from the
    definitions (independent of sdd's bracketed search): per ASV threshold in the allowed region the
    first CM threshold of least |Pmiss_tdm - Pfa_tdm| (rho = 0.5), then the first pair closest to
    Pfa_non / Pfa_spf = Pfa_cm / (1 - Pmiss_cm)."""

    def pooled(groups):  # stable sort of the pooled scores; class of each sorted position
        scores = np.concatenate(groups)
        cls = np.concatenate([np.full(g.size, i) for i, g in enumerate(groups)])
        return cls[np.argsort(scores, kind="stable")]

    def rejected_share(cls, i, size):  # (n + 1,): share of class i among the first k, k = 0..n
        return np.concatenate([[0.0], np.cumsum(cls == i) / size])

    cm_cls = pooled([cm_b, cm_s])
    pm_cm, pfa_cm = rejected_share(cm_cls, 0, cm_b.size), 1 - rejected_share(cm_cls, 1, cm_s.size)
    asv_cls = pooled([tar, non, spf])
    p = rejected_share(asv_cls, 0, tar.size)[:, None]
    a = 1 - rejected_share(asv_cls, 1, non.size)[:, None]
    b = 1 - rejected_share(asv_cls, 2, spf.size)[:, None]
    h = pm_cm + (1 - pm_cm) * p - (0.5 * (1 - pm_cm) * a + 0.5 * pfa_cm * b)
    cm_idx = np.argmin(np.abs(h), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.abs(a[:, 0] / b[:, 0] - pfa_cm[cm_idx] / (1 - pm_cm[cm_idx]))
    crit[~(p[:, 0] < 0.5 * a[:, 0] + 0.5 * b[:, 0]) | ~np.isfinite(crit)] = np.inf
    j = int(np.argmin(crit))
    assert np.isfinite(crit[j]), "undefined"
    return float(b[j, 0] * pfa_cm[cm_idx[j]])


def test_teer_equals_a_brute_force_grid_search(rng):
    for _ in range(60):
        n = rng.integers(5, 300, 5)
        dec = int(rng.integers(0, 3))  # 0 decimals: ties everywhere
        cm_b, cm_s = np.round(rng.normal(1, 1, n[0]), dec), np.round(rng.normal(-1, 1.5, n[1]), dec)
        tar, non = np.round(rng.normal(2, 1, n[2]), dec), np.round(rng.normal(-2, 1, n[3]), dec)
        spf = np.round(rng.normal(rng.normal(), 1.5, n[4]), dec)
        want = _brute_force_teer(cm_b, cm_s, tar, non, spf)
        assert M.t_eer(cm_b, cm_s, tar, non, spf, search="exhaustive") == pytest.approx(want, abs=1e-12)
        # under 3,000 thresholds the package's search does not decimate: the same point
        assert M.t_eer(cm_b, cm_s, tar, non, spf) == pytest.approx(want, abs=1e-12)


def test_teer_searches_agree_on_a_large_well_behaved_system(rng):
    """50,000 trials: the package's decimated-then-windowed search finds the exhaustive search's point."""
    cm_b, cm_s = rng.normal(2.0, 1.0, 5_000), rng.normal(-1.0, 1.2, 45_000)
    tar, non, spf = rng.normal(3.0, 1.0, 2_500), rng.normal(-3.0, 1.0, 2_500), rng.normal(0.5, 1.5, 45_000)
    curves = M.TandemCurves(cm_b, cm_s, tar, non, spf)
    assert curves.t_eer("package") == curves.t_eer("exhaustive")
    with pytest.raises(M.MetricsError, match="search='fast'"):
        curves.t_eer("fast")
