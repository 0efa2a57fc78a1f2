"""sdd.metrics.paired: the paired (and speaker-blocked) bootstrap of an EER difference, and Holm.

Oracles: the official ASVspoof ``compute_eer`` written out (concatenate, stable sort, first argmin of
|frr - far|) on explicitly resampled score arrays; Holm's procedure on a textbook example; invariants
(identical systems, symmetry, seed averaging, determinism).
"""

from __future__ import annotations

import numpy as np
import pytest

from sdd import metrics as M
from sdd.metrics import paired


def official_eer(bona: np.ndarray, spoof: np.ndarray) -> float:
    scores = np.concatenate([bona, spoof])
    labels = np.concatenate([np.ones(bona.size), np.zeros(spoof.size)])
    labels = labels[np.argsort(scores, kind="mergesort")]
    tar = np.cumsum(labels)
    non = spoof.size - (np.arange(1, scores.size + 1) - tar)
    frr = np.concatenate([[0], tar / bona.size])
    far = np.concatenate([[1], non / spoof.size])
    i = np.argmin(np.abs(frr - far))
    return float(np.mean((frr[i], far[i])))


P = M.paired_bootstrap_eer


def _two_systems(rng, n_b=60, n_s=140, ties=True):
    lab = np.zeros(n_b + n_s, dtype=bool)
    lab[rng.permutation(lab.size)[:n_b]] = True  # classes interleaved, not bona fide first
    if ties:
        a = np.where(lab, rng.integers(0, 15, lab.size), rng.integers(-5, 10, lab.size)).astype(float)
        b = np.where(lab, rng.integers(-2, 12, lab.size), rng.integers(-5, 10, lab.size)).astype(float)
    else:
        a = np.where(lab, rng.normal(1.5, 1, lab.size), rng.normal(0, 1, lab.size))
        b = a + rng.normal(0, 1, lab.size)
    return a, b, lab


def test_replicates_equal_explicit_resamples_with_the_official_eer(rng):
    a, b, lab = _two_systems(rng)  # many ties on purpose
    res = M.paired_bootstrap_eer(a, b, lab, n_resamples=60, seed=5)
    # the documented draw: bona fide trials with replacement to their count, then spoofs to theirs
    bi, si = np.flatnonzero(lab), np.flatnonzero(~lab)
    g = np.random.default_rng(5)
    for r in range(60):
        pb = bi[g.integers(0, bi.size, bi.size, dtype=np.int32)]
        ps = si[g.integers(0, si.size, si.size, dtype=np.int32)]
        want = official_eer(a[pb], a[ps]) - official_eer(b[pb], b[ps])
        assert res.diffs[r] == pytest.approx(want, abs=1e-12), r
    assert res.diff == pytest.approx(official_eer(a[lab], a[~lab]) - official_eer(b[lab], b[~lab]), abs=1e-15)


def test_blocked_replicates_resample_whole_speakers(rng):
    a, b, lab = _two_systems(rng)
    spk = rng.integers(0, 9, lab.size)  # unequal speaker sizes, both classes per speaker
    spk[lab & (spk == 8)] = 7  # speaker 8 holds spoofs only: a one-class block is fine
    res = M.paired_bootstrap_eer(a, b, lab, blocks=spk, n_resamples=40, seed=2)
    assert res.n_blocks == 9 and res.n_redrawn == 0
    g = np.random.default_rng(2)
    for r in range(40):
        drawn = g.integers(0, 9, 9)
        # every trial of a drawn speaker, bona fide and spoof together, once per draw
        idx = np.concatenate([np.flatnonzero(spk == k) for k in drawn])
        assert idx.size == sum(int((spk == k).sum()) for k in drawn)
        la = lab[idx]
        want = official_eer(a[idx][la], a[idx][~la]) - official_eer(b[idx][la], b[idx][~la])
        assert res.diffs[r] == pytest.approx(want, abs=1e-12), r


def test_blocked_replicates_missing_a_class_are_redrawn(rng, monkeypatch):
    # 2 speakers with bona fide trials among 12: some replicates draw none and are drawn again
    n = 240
    spk = np.repeat(np.arange(12), n // 12)
    lab = np.isin(spk, (0, 1)) & (np.arange(n) % 2 == 0)
    a = np.where(lab, rng.normal(1, 1, n), rng.normal(0, 1, n))
    res = M.paired_bootstrap_eer(a, a + rng.normal(0, 0.5, n), lab, blocks=spk, n_resamples=200, seed=0)
    assert res.n_redrawn > 0 and np.isfinite(res.diffs).all()
    # the redraw loop is bounded (a replicate misses a class with probability <= (1 - 1/blocks)^blocks
    # < 0.37, so the bound is never met in practice); with no redraw allowed it is met at once
    monkeypatch.setattr(paired, "_MAX_REDRAW_ROUNDS", 0)
    with pytest.raises(M.MetricsError, match="keep missing a class.*2 of 12 blocks hold bona fide"):
        M.paired_bootstrap_eer(a, a, lab, blocks=spk, n_resamples=200, seed=0)


def test_identical_systems_give_zero_difference_and_even_odds(rng):
    a, _, lab = _two_systems(rng, ties=False)
    for blocks in (None, rng.integers(0, 10, lab.size)):
        res = M.paired_bootstrap_eer(a, a.copy(), lab, blocks=blocks, n_resamples=300, seed=1)
        assert res.diff == 0.0 and res.ci[0] <= 0.0 <= res.ci[1]
        assert res.p_a_better == 0.5 and res.p_value == 1.0


def test_a_dominated_arm_loses(rng):
    n = 3000
    lab = rng.random(n) < 0.2
    a = np.where(lab, rng.normal(2.0, 1, n), rng.normal(0, 1, n))
    b = a + rng.normal(0, 1.5, n)  # noise that hurts: B is A made worse
    res = M.paired_bootstrap_eer(a, b, lab, n_resamples=400, seed=0)
    assert res.diff < 0 and res.ci[1] < 0
    assert res.p_a_better > 0.99 and res.p_value < 0.01
    back = M.paired_bootstrap_eer(b, a, lab, n_resamples=400, seed=0)
    np.testing.assert_array_equal(back.diffs, -res.diffs)  # paired: swapping is a sign flip
    assert back.p_a_better == pytest.approx(1 - res.p_a_better)


def test_seeds_are_averaged_per_replicate(rng):
    a1, b, lab = _two_systems(rng, ties=False)
    a2 = a1 + rng.normal(0, 0.7, lab.size)
    both = M.paired_bootstrap_eer(np.stack([a1, a2]), b, lab, n_resamples=100, seed=4)
    r1 = M.paired_bootstrap_eer(a1, b, lab, n_resamples=100, seed=4)
    r2 = M.paired_bootstrap_eer(a2, b, lab, n_resamples=100, seed=4)
    # the draws depend on the seed and the class sizes only, so they are shared by all four runs
    np.testing.assert_allclose(both.diffs, (r1.diffs + r2.diffs) / 2, atol=1e-15)
    assert both.eer_a == pytest.approx((M.eer(a1[lab], a1[~lab]) + M.eer(a2[lab], a2[~lab])) / 2)
    assert both.n_seeds_a == 2 and both.n_seeds_b == 1
    same = M.paired_bootstrap_eer(np.stack([a1, a1, a1]), b, lab, n_resamples=100, seed=4)
    np.testing.assert_allclose(same.diffs, r1.diffs, atol=1e-15)


def test_deterministic_given_the_seed(rng, monkeypatch):
    a, b, lab = _two_systems(rng, ties=False)
    spk = rng.integers(0, 10, lab.size)
    for blocks in (None, spk):
        r1 = M.paired_bootstrap_eer(a, b, lab, blocks=blocks, n_resamples=150, seed=9)
        r2 = M.paired_bootstrap_eer(a, b, lab, blocks=blocks, n_resamples=150, seed=9)
        r3 = M.paired_bootstrap_eer(a, b, lab, blocks=blocks, n_resamples=150, seed=10)
        np.testing.assert_array_equal(r1.diffs, r2.diffs)
        assert r1 == r2 and r1.ci != r3.ci
        with monkeypatch.context() as m:  # replicates processed 7 at a time instead of all at once
            m.setattr(paired, "_CHUNK_ELEMENTS", 7 * max(lab.size, 10))
            chunked = M.paired_bootstrap_eer(a, b, lab, blocks=blocks, n_resamples=150, seed=9)
        np.testing.assert_array_equal(chunked.diffs, r1.diffs)
    d = r1.to_dict()
    assert d["method"] == "paired block bootstrap" and d["n_blocks"] == 10 and "diffs" not in d


def test_speaker_effects_widen_the_blocked_interval(rng):
    spk = np.repeat(np.arange(12), 60)
    lab = np.tile(np.arange(60) < 20, 12)
    off = rng.normal(0, 1.0, (2, 12))  # per-speaker offsets that differ between the systems
    a = np.where(lab, 1.5, 0.0) + off[0][spk] + rng.normal(0, 0.5, spk.size)
    b = np.where(lab, 1.5, 0.0) + off[1][spk] + rng.normal(0, 0.5, spk.size)
    utt = M.paired_bootstrap_eer(a, b, lab, n_resamples=300, seed=0)
    blk = M.paired_bootstrap_eer(a, b, lab, blocks=spk, n_resamples=300, seed=0)
    assert blk.diffs.std() > utt.diffs.std()


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda a, lab: P(a, a[:-1], lab), "scores_b: 199 trials per seed, expected 200"),
        (lambda a, lab: P(np.where(lab, np.nan, a), a, lab), "scores_a: 60 non-finite"),
        (lambda a, lab: P(a, a, np.ones_like(lab)), "need both classes, got 200 bona fide"),
        (lambda a, lab: P(a, a, lab.astype(int) * 2), "bool or 0/1"),
        (lambda a, lab: P(a, a, lab, blocks=lab[:5]), r"blocks: expected shape \(200,\)"),
        (lambda a, lab: P(a, a, lab, n_resamples=0), "n_resamples must be >= 1"),
        (lambda a, lab: P(a, a, lab, level=95), "level must be in"),
        (lambda a, lab: P(np.zeros((2, 2, 200)), a, lab), "expected shape"),
    ],
)
def test_bad_input_is_one_clear_error(rng, call, pattern):
    a, _, lab = _two_systems(rng)
    with pytest.raises(M.MetricsError, match=pattern):
        call(a, lab)


# ---- Holm ----


def test_holm_textbook_example():
    # Holm (1979) as taught (e.g. Wikipedia, "Holm-Bonferroni method"): p = .01, .04, .03, .005, alpha
    # .05: sorted .005 < .05/4, .01 < .05/3, then .03 > .05/2 stops: H1 (.01) and H4 (.005) rejected.
    adj = M.holm_adjust([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02])
    assert (adj <= 0.05).tolist() == [True, False, False, True]
    np.testing.assert_allclose(M.holm_adjust([0.5, 0.6]), [1.0, 1.0])  # capped, monotone
    assert M.holm_adjust([]).size == 0
    with pytest.raises(M.MetricsError, match="in \\[0, 1\\]"):
        M.holm_adjust([0.2, 1.5])


def _fake(p: float, diffs: np.ndarray) -> M.PairedEerComparison:
    return M.PairedEerComparison(
        eer_a=0.1, eer_b=0.1, diff=float(np.mean(diffs)), ci=(0.0, 0.0), level=0.95, p_a_better=0.5,
        p_value=p, n_resamples=diffs.size, seed=0, n_seeds_a=1, n_seeds_b=1, n_blocks=None, n_redrawn=0,
        diffs=diffs, eers_a=(0.1,), eers_b=(0.1,),
    )  # fmt: skip


def test_compare_to_reference_steps_down_on_holm_levels(rng):
    # replicates centred below 0 with different spreads: the per-rank level decides what is flagged
    base = rng.standard_normal(10_000)
    comps = {
        "tight": _fake(0.001, -0.05 + 0.01 * base),  # excludes 0 even at 1 - 0.05/3
        "loose": _fake(0.04, -0.05 + 0.024 * base),  # excludes 0 at 95 % (its level: ranked last)
        "none": _fake(0.03, -0.05 + 0.001 * base),  # excludes 0 at any level
    }
    rows = {r["arm"]: r for r in M.compare_to_reference(comps, reference="main", alpha=0.05)}
    assert [r["arm"] for r in M.compare_to_reference(comps)] == ["tight", "loose", "none"]
    assert {k: r["holm_rank"] for k, r in rows.items()} == {"tight": 1, "none": 2, "loose": 3}
    assert rows["tight"]["holm_alpha"] == pytest.approx(0.05 / 3)
    assert rows["none"]["holm_alpha"] == pytest.approx(0.05 / 2)
    assert rows["loose"]["holm_alpha"] == pytest.approx(0.05)
    lo, hi = np.quantile(comps["tight"].diffs, [0.05 / 6, 1 - 0.05 / 6])
    assert (rows["tight"]["holm_ci_lo"], rows["tight"]["holm_ci_hi"]) == pytest.approx((lo, hi), abs=1e-15)
    assert rows["tight"]["significant"] and rows["none"]["significant"]
    assert rows["loose"]["holm_ci_hi"] < 0 and rows["loose"]["significant"]
    np.testing.assert_allclose([rows[k]["p_holm"] for k in comps], M.holm_adjust([0.001, 0.04, 0.03]))
    # step-down: once a comparison is not flagged, no later (larger p) one is
    comps["none"] = _fake(0.03, -0.05 + 0.05 * base)  # now its interval at 1 - 0.05/2 contains 0
    rows = {r["arm"]: r for r in M.compare_to_reference(comps)}
    assert rows["tight"]["significant"] and not rows["none"]["significant"]
    assert not rows["loose"]["significant"]  # even if its own interval excluded 0


def test_compare_to_reference_on_real_bootstraps(rng):
    n = 2000
    lab = rng.random(n) < 0.3
    ref = np.where(lab, rng.normal(1.5, 1, n), rng.normal(0, 1, n))
    arms = {
        "better": np.where(lab, ref + 0.8, ref),  # bona fide pushed up: lower EER
        "same": ref.copy(),
        "worse": ref + rng.normal(0, 1.5, n),
    }
    comps = {k: M.paired_bootstrap_eer(v, ref, lab, n_resamples=300, seed=0) for k, v in arms.items()}
    rows = {r["arm"]: r for r in M.compare_to_reference(comps, reference="ref")}
    assert rows["better"]["significant"] and rows["better"]["diff"] < 0 and rows["better"]["p_better"] > 0.99
    assert rows["worse"]["significant"] and rows["worse"]["diff"] > 0 and rows["worse"]["p_better"] < 0.01
    assert not rows["same"]["significant"] and rows["same"]["p_value"] == 1.0
    assert all(r["reference"] == "ref" for r in rows.values())
