"""sdd.metrics: official definitions (EER ties, t-DCF both forms, ASVspoof 5), bootstrap, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdd import metrics as M
from sdd.metrics.bootstrap import _eer_from_run_weights, _runs
from tests.helpers.oracles import a_dcf_package

# ---- the official algorithms, written out independently (concatenate + stable sort per metric) ----


def official_det(bona: np.ndarray, spoof: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.concatenate([bona, spoof])
    labels = np.concatenate([np.ones(bona.size), np.zeros(spoof.size)])
    idx = np.argsort(scores, kind="mergesort")
    labels = labels[idx]
    tar = np.cumsum(labels)
    non = spoof.size - (np.arange(1, scores.size + 1) - tar)
    frr = np.concatenate([[0], tar / bona.size])
    far = np.concatenate([[1], non / spoof.size])
    thr = np.concatenate([[scores[idx[0]] - 0.001], scores[idx]])
    return frr, far, thr


def official_eer(bona: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    frr, far, thr = official_det(bona, spoof)
    i = np.argmin(np.abs(frr - far))
    return float(np.mean((frr[i], far[i]))), float(thr[i])


def official_tdcf_revised(bona, spoof, c0, c1, c2) -> float:
    frr, far, _ = official_det(bona, spoof)
    return float(np.min((c0 + c1 * frr + c2 * far) / (c0 + min(c1, c2))))


def official_min_dcf(bona, spoof, p_spoof=0.05, c_miss=1.0, c_fa=10.0) -> float:
    frr, far, _ = official_det(bona, spoof)
    best = math.inf
    p_t = 1 - p_spoof
    for i in range(len(frr)):
        best = min(best, c_miss * frr[i] * p_t + c_fa * far[i] * (1 - p_t))
    return best / min(c_miss * p_t, c_fa * (1 - p_t))


ASV = M.AsvOperatingPoint(
    eer=0.0246, threshold=-5.68, pfa=0.0246, pmiss=0.0246, pfa_spoof=0.76, pmiss_spoof=0.24
)


# ---- EER / DET ----


def test_det_curve_equals_official_with_ties(rng):
    bona = rng.integers(0, 20, 300).astype(float)
    spoof = rng.integers(-5, 12, 700).astype(float)
    for got, want in zip(M.det_curve(bona, spoof), official_det(bona, spoof), strict=True):
        np.testing.assert_array_equal(got, want)
    assert M.eer(bona, spoof) == official_eer(bona, spoof)[0]
    assert M.eer_threshold(bona, spoof) == official_eer(bona, spoof)[1]


def test_eer_threshold_decisions_give_the_eer_rates(rng):
    bona, spoof = rng.normal(1, 1, 300), rng.normal(-1, 1, 700)  # no ties
    frr, far, _ = official_det(bona, spoof)
    i = np.argmin(np.abs(frr - far))
    thr = M.eer_threshold(bona, spoof)
    assert np.mean(bona <= thr) == frr[i] and np.mean(spoof > thr) == far[i]


def test_eer_hand_computed():
    # pooled order 0.1s 0.2b 0.5s 0.6b 0.7s 0.9b: after 3 rejections frr = far = 1/3
    assert M.eer([0.2, 0.6, 0.9], [0.1, 0.5, 0.7]) == pytest.approx(1 / 3, abs=1e-15)


def test_perfect_separation_and_reversed():
    assert M.eer([2.0, 3.0, 4.0], [-1.0, 0.0, 1.0]) == 0.0
    # reversed: every bona fide below every spoof; the official sweep crosses at frr = far = 1
    assert M.eer([-1.0, 0.0], [2.0, 3.0, 4.0]) == 1.0
    low, high = np.array([-1.0, 0.0]), np.array([2.0, 3.0, 4.0])
    assert M.eer(low, high) == official_eer(low, high)[0]


def test_constant_scores_follow_official_tie_rule():
    # bona fide sorts first among ties: frr reaches 1 while far is still 1
    assert M.eer([0.5] * 4, [0.5] * 9) == 1.0
    assert M.eer([1.0, 1.0], [1.0, 2.0]) == official_eer(np.array([1.0, 1.0]), np.array([1.0, 2.0]))[0]


def test_rejects_bad_scores():
    with pytest.raises(M.MetricsError, match="non-finite"):
        M.eer([0.1, np.nan], [0.0])
    with pytest.raises(M.MetricsError, match="no scores"):
        M.eer([], [0.0])


# ---- t-DCF ----


def test_tdcf_coefficients_and_forms(rng):
    c0, c1, c2 = M.tdcf_coefficients(ASV)
    assert c0 == pytest.approx(0.9405 * 0.0246 + 0.0095 * 10 * 0.0246)
    assert c1 == pytest.approx(0.9405 - c0)
    assert c2 == pytest.approx(0.05 * 10 * 0.76)
    bona = rng.normal(2, 1, 400)
    spoof = rng.normal(-1, 1.5, 900)
    want = official_tdcf_revised(bona, spoof, c0, c1, c2)
    assert M.min_tdcf(bona, spoof, ASV) == pytest.approx(want, abs=1e-15)
    frr, far, _ = official_det(bona, spoof)
    l1 = 0.9405 * (1 - 0.0246) - 0.0095 * 10 * 0.0246
    l2 = 10 * 0.05 * (1 - 0.24)
    want = np.min((l1 * frr + l2 * far) / min(l1, l2))
    assert M.min_tdcf_legacy(bona, spoof, ASV) == pytest.approx(want, abs=1e-15)


def test_tdcf_perfect_separation():
    c0, c1, c2 = M.tdcf_coefficients(ASV)
    assert M.min_tdcf([3.0, 4.0], [0.0, 1.0], ASV) == pytest.approx(c0 / (c0 + min(c1, c2)))
    assert M.min_tdcf_legacy([3.0, 4.0], [0.0, 1.0], ASV) == 0.0


def test_asv_operating_point_hand_computed():
    op = M.asv_operating_point([1.0, 2.0, 3.0, 4.0], [-2.0, -1.0, 0.0, 1.5], [-3.0, 0.5, 2.5, 5.0])
    # official compute_eer: pooled -2n -1n 0n 1t 1.5n 2t 3t 4t; frr=far=1/4 after 4 rejections -> thr = 1.0
    assert op.threshold == 1.0 and op.eer == 0.25
    assert (op.pmiss, op.pfa, op.pfa_spoof, op.pmiss_spoof) == (0.0, 0.25, 0.5, 0.5)


def test_cost_model_validation():
    with pytest.raises(M.MetricsError, match="sum to 1"):
        M.TDCFCostModel(p_spoof=0.5)


# ---- property test: strictly increasing transforms change nothing ----


@settings(max_examples=60, deadline=None)
@given(
    bona=st.lists(st.integers(-30, 30), min_size=1, max_size=40),
    spoof=st.lists(st.integers(-30, 30), min_size=1, max_size=40),
    transform=st.sampled_from(["exp", "cube", "affine"]),
)
def test_invariant_to_increasing_transforms(bona, spoof, transform):
    f = {
        "exp": lambda x: np.exp(x / 7.0),
        "cube": lambda x: x**3 + x,
        "affine": lambda x: 3.5 * x - 11.0,
    }[transform]
    b, s = np.asarray(bona, float), np.asarray(spoof, float)
    assert M.eer(f(b), f(s)) == M.eer(b, s)
    assert M.min_tdcf(f(b), f(s), ASV) == M.min_tdcf(b, s, ASV)
    assert M.min_tdcf_legacy(f(b), f(s), ASV) == M.min_tdcf_legacy(b, s, ASV)
    assert M.eer(b, s) == official_eer(b, s)[0]


# ---- ASVspoof 5 ----


def test_min_dcf_matches_official_loop(rng):
    bona = rng.normal(1, 1, 200)
    spoof = rng.normal(-1, 1, 300)
    assert M.min_dcf(bona, spoof) == pytest.approx(official_min_dcf(bona, spoof), abs=1e-12)


def test_act_dcf_hand_computed():
    # threshold -ln(1.9) = -0.6419: bona 0 kept, -1 missed; spoof 0 accepted, -1 rejected
    assert M.act_dcf([0.0, -1.0], [-1.0, 0.0]) == pytest.approx((0.95 * 0.5 + 0.5 * 0.5) / 0.5)
    assert M.act_dcf([5.0], [-5.0]) == 0.0


def test_cllr_values():
    assert M.cllr([0.0], [0.0]) == pytest.approx(1.0)
    assert M.cllr([50.0], [-50.0]) < 1e-20
    assert math.isfinite(M.cllr([-1000.0], [1000.0]))


def test_a_dcf_defaults_are_the_asvspoof5_package_cost_model():
    cost = M.ADCFCostModel()
    assert (cost.p_tar, cost.p_non, cost.p_spoof) == (0.9, 0.05, 0.05)
    assert (cost.c_miss, cost.c_fa_asv, cost.c_fa_cm) == (1.0, 10.0, 20.0)


def test_a_dcf_crafted_cases():
    assert M.a_dcf([5.0, 6.0], [-1.0, 0.0], [-3.0, -2.0]) == 0.0
    # all three classes tied: best is accept-all or reject-all, i.e. 1.0 after normalisation
    assert M.a_dcf([0.0], [0.0], [0.0]) == pytest.approx(1.0)
    # one nontarget above the only target, spoof below: best threshold accepts target + nontarget:
    # C_fa_asv P_non / min(C_fa_asv P_non + C_fa_cm P_spf, C_miss P_tar) = 0.5 / min(1.5, 0.9)
    assert M.a_dcf([3.0], [4.0], [0.0]) == pytest.approx(0.5 / 0.9)
    # crafted with ties across the three classes; value from the package's formula by hand:
    # thresholds just above 1 reject one target (0.9/2) and accept one spoof (1.0/2): 0.95 / 0.9
    got = M.a_dcf([1.0, 5.0], [0.0, 0.5], [1.0, 0.2])
    assert got == pytest.approx(a_dcf_package([1.0, 5.0], [0.0, 0.5], [1.0, 0.2]))


def test_a_dcf_equals_the_package_formula(rng):
    for trial in range(200):
        n = rng.integers(1, 30, 3)
        # integer scores: many ties between classes, where the tie order matters
        trg, non, spf = (rng.integers(-4, 8, k).astype(float) for k in n)
        want = a_dcf_package(trg, non, spf)
        assert M.a_dcf(trg, non, spf) == pytest.approx(want, abs=1e-12), trial
        custom = M.ADCFCostModel(p_tar=0.8, p_non=0.1, p_spoof=0.1, c_miss=2.0, c_fa_asv=5.0, c_fa_cm=7.0)
        want = a_dcf_package(trg, non, spf, 0.1, 0.1, 0.8, 2.0, 5.0, 7.0)
        assert M.a_dcf(trg, non, spf, custom) == pytest.approx(want, abs=1e-12), trial


# ---- bootstrap ----


def test_bootstrap_replicate_equals_explicit_resample(rng):
    bona = rng.integers(0, 15, 60).astype(float)  # many ties on purpose
    spoof = rng.integers(-5, 10, 90).astype(float)
    s = M.SortedScores.from_scores(bona, spoof)
    starts, lengths, run_is_bona = _runs(s.is_bona)
    run_of_pos = np.repeat(np.arange(lengths.size), lengths)
    for _ in range(200):
        ib = rng.integers(0, bona.size, bona.size)
        isp = rng.integers(0, spoof.size, spoof.size)
        cb = np.bincount(ib, minlength=bona.size)  # draws per ORIGINAL trial
        cs = np.bincount(isp, minlength=spoof.size)
        pos_w = np.zeros(s.is_bona.size)
        pos_w[s.is_bona] = cb[s.bona_order]
        pos_w[~s.is_bona] = cs[s.spoof_order]
        w = np.bincount(run_of_pos, weights=pos_w, minlength=lengths.size)
        got = _eer_from_run_weights(w[None, :], run_is_bona)[0]
        assert got == pytest.approx(official_eer(bona[ib], spoof[isp])[0], abs=1e-12)


def test_bootstrap_ci_deterministic_and_contains_point(rng):
    bona = rng.normal(2, 1, 500)
    spoof = rng.normal(0, 1, 2000)
    point = M.eer(bona, spoof)
    ci1 = M.eer_confidence_interval(bona, spoof, n_resamples=300, seed=7)
    ci2 = M.eer_confidence_interval(bona, spoof, n_resamples=300, seed=7)
    ci3 = M.eer_confidence_interval(bona, spoof, n_resamples=300, seed=8)
    assert ci1 == ci2 and ci1 != ci3
    assert ci1[0] < point < ci1[1]
    assert 0.01 < ci1[1] - ci1[0] < 0.1


def test_speaker_blocked_bootstrap_is_wider_for_speaker_effects(rng):
    # strong per-speaker offsets: resampling speakers must show more spread than utterances
    spk_b = np.repeat(np.arange(10), 40)
    spk_s = np.repeat(np.arange(10), 80)
    off = rng.normal(0, 1.0, 10)
    bona = 1.5 + off[spk_b] + rng.normal(0, 0.5, spk_b.size)
    spoof = off[spk_s] + rng.normal(0, 0.5, spk_s.size)
    s = M.SortedScores.from_scores(bona, spoof)
    utt = M.bootstrap_eer(s, 300, np.random.default_rng(0))
    blk = M.bootstrap_eer(s, 300, np.random.default_rng(0), bonafide_groups=spk_b, spoof_groups=spk_s)
    assert blk.std() > utt.std()
    again = M.bootstrap_eer(s, 300, np.random.default_rng(0), bonafide_groups=spk_b, spoof_groups=spk_s)
    np.testing.assert_array_equal(blk, again)
    with pytest.raises(M.MetricsError, match="both classes"):
        M.bootstrap_eer(s, 3, np.random.default_rng(0), bonafide_groups=spk_b)


# ---- calibration ----


def test_logistic_calibration_recovers_llr(rng):
    # x ~ N(+1, 1) vs N(-1, 1) has LLR 2x; the raw score is (x - 3) / 2, so LLR = 4 s + 6
    x_b, x_s = rng.normal(1, 1, 20000), rng.normal(-1, 1, 20000)
    a, b = M.fit_logistic_calibration((x_b - 3) / 2, (x_s - 3) / 2)
    assert a == pytest.approx(4.0, rel=0.05) and b == pytest.approx(6.0, rel=0.05)
    raw_b, raw_s = (x_b - 3) / 2, (x_s - 3) / 2
    cal_b, cal_s = M.apply_calibration(raw_b, (a, b)), M.apply_calibration(raw_s, (a, b))
    assert M.cllr(cal_b, cal_s) < M.cllr(raw_b, raw_s)
    assert M.act_dcf(cal_b, cal_s) < M.act_dcf(raw_b, raw_s)


def test_calibration_of_constant_dev_scores_gives_no_evidence():
    assert M.fit_logistic_calibration([1.5, 1.5], [1.5]) == (0.0, 0.0)


def test_calibration_finite_on_separated_scores():
    a, b = M.fit_logistic_calibration([2.0, 3.0], [-1.0, 0.0])
    assert math.isfinite(a) and math.isfinite(b) and a > 0
