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
