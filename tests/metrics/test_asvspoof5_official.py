"""sdd.metrics against the ASVspoof 5 organisers' own evaluation package, imported from ../shared.

Oracles: the package's ``calculate_metrics.calculate_minDCF_EER_CLLR_actDCF`` (Track 1) and
``calculate_aDCF_tdcf_tEER`` (Track 2, its t-EER), and the ``calculate_modules`` functions they call
(``compute_eer``, ``compute_mindcf``, ``compute_actDCF``, ``calculate_CLLR``,
``compute_teer_accelerated``, ``compute_teer``), unmodified. Data: crafted cases (ties, scores on the
actDCF threshold, separable and inverted classes, single trials) and the organisers' sample ASV + CM
system scores of ``Tool-score-fusion/dev_scores_label.csv``. Tolerance 1e-6 (the package's t-EER is in
percent, ours a fraction: compared after dividing by 100). Every test skips without ../shared.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sdd import metrics as M
from tests.helpers.oracles import decimation_trap

TOL = 1e-6
P_SPOOF, C_MISS, C_FA = 0.05, 1.0, 10.0  # the package's Track 1 cost model (calculate_metrics.py)


def package_track1(pkg, bona: np.ndarray, spoof: np.ndarray) -> dict[str, float]:
    """The package's Track 1 numbers, through its own top-level function (no file written)."""
    scores = np.concatenate([bona, spoof])
    keys = np.array(["bonafide"] * bona.size + ["spoof"] * spoof.size)
    min_dcf, eer, cllr, act_dcf = pkg.metrics.calculate_minDCF_EER_CLLR_actDCF(
        scores, keys, output_file=None, printout=False
    )
    return {"min_dcf": min_dcf, "eer": eer, "cllr": cllr, "act_dcf": act_dcf}


def ours_track1(bona: np.ndarray, spoof: np.ndarray) -> dict[str, float]:
    return {
        "min_dcf": M.min_dcf(bona, spoof),
        "eer": M.eer(bona, spoof),
        "cllr": M.cllr(bona, spoof),
        "act_dcf": M.act_dcf(bona, spoof),
    }


def package_teer(pkg, cm_bona, cm_spoof, tar, non, spf) -> float:
    """``compute_teer_accelerated`` on the package's own curves, as a fraction."""
    m = pkg.modules
    pmiss_asv, pfa_non, pfa_spf, tau_asv = m.compute_Pmiss_Pfa_Pspoof_curves(tar, non, spf)
    pmiss_cm, pfa_cm, tau_cm = m.compute_det_curve(cm_bona, cm_spoof)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = m.compute_teer_accelerated(pmiss_cm, pfa_cm, tau_cm, pmiss_asv, pfa_non, pfa_spf, tau_asv)
    return float(pct) / 100


# the actDCF threshold of the Track 1 cost model: -ln(C_miss (1 - P_spoof) / (C_fa P_spoof))
ACT_THR = -math.log(C_MISS * (1 - P_SPOOF) / (C_FA * P_SPOOF))

CRAFTED_CM = {
    "ties across classes": ([0.0, 1.0, 1.0, 2.0], [1.0, 1.0, -1.0]),
    "on the actDCF threshold": ([ACT_THR, ACT_THR, 3.0], [ACT_THR, -2.0, ACT_THR - 1e-9]),
    "separable": ([2.0, 3.0, 4.0], [-1.0, 0.0, 1.0]),
    "inverted": ([-1.0, 0.0, 1.0], [2.0, 3.0, 4.0]),
    "one trial each": ([0.3], [-0.3]),
    "all equal": ([0.5, 0.5], [0.5, 0.5, 0.5]),
    "large LLRs": ([700.0, -650.0, 30.0], [-700.0, 600.0, -30.0]),
}


@pytest.mark.parametrize("case", list(CRAFTED_CM))
def test_track1_metrics_equal_the_package_on_crafted_cases(asvspoof5_package, case):
    bona, spoof = (np.array(x) for x in CRAFTED_CM[case])
    want = package_track1(asvspoof5_package, bona, spoof)
    got = ours_track1(bona, spoof)
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=TOL), (case, name)


def test_track1_metrics_equal_the_package_on_random_scores_with_ties(asvspoof5_package, rng):
    for _ in range(40):
        n_b, n_s = rng.integers(1, 200, 2)
        decimals = int(rng.integers(0, 3))  # 0 decimals: many ties within and across classes
        bona = np.round(rng.normal(1.0, 2.0, n_b), decimals)
        spoof = np.round(rng.normal(-1.0, 2.5, n_s), decimals)
        want = package_track1(asvspoof5_package, bona, spoof)
        got = ours_track1(bona, spoof)
        for name in want:
            assert got[name] == pytest.approx(want[name], abs=TOL), name


def test_track1_metrics_equal_the_package_on_the_organisers_sample_scores(
    asvspoof5_package, asvspoof5_dev_scores
):
    cm = {k: v[1] for k, v in asvspoof5_dev_scores.items()}
    bona, spoof = np.concatenate([cm["target"], cm["nontarget"]]), cm["spoof"]
    want = package_track1(asvspoof5_package, bona, spoof)
    got = ours_track1(bona, spoof)
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=TOL), name
    # the numbers themselves, so a change in the sample file or in both implementations shows
    assert got["eer"] == pytest.approx(0.0061973, abs=TOL)
    assert 0 < got["min_dcf"] < got["act_dcf"] < 1


def test_cllr_stays_finite_where_the_package_overflows(asvspoof5_package):
    """The one documented difference: log1p(exp(-x)) is inf beyond |x| ~ 709, logaddexp is not."""
    bona, spoof = np.array([-800.0, 5.0]), np.array([-5.0])
    with np.errstate(over="ignore"):
        assert math.isinf(asvspoof5_package.modules.calculate_CLLR(bona, spoof))
    small = math.log1p(math.exp(-5.0))  # log(1 + e^-5): the well-scored bona fide and spoof trials
    assert M.cllr(bona, spoof) == pytest.approx(0.5 * ((800.0 + small) / 2 + small) / math.log(2), abs=TOL)


# ---- t-EER ----


def test_teer_equals_the_package_on_the_organisers_sample_scores(asvspoof5_package, asvspoof5_dev_scores):
    """Against the package's Track 2 entry point (its t-EER is compute_teer_accelerated, in percent)."""
    d = asvspoof5_dev_scores
    keys = np.concatenate([np.full(d[k][0].size, k) for k in ("target", "nontarget", "spoof")])
    asv = np.concatenate([d[k][0] for k in ("target", "nontarget", "spoof")])
    cm = np.concatenate([d[k][1] for k in ("target", "nontarget", "spoof")])
    cm_keys = np.where(keys == "spoof", "spoof", "bonafide")
    with np.errstate(divide="ignore", invalid="ignore"):
        _, _, teer_pct = asvspoof5_package.metrics.calculate_aDCF_tdcf_tEER(
            cm, asv, cm + asv, cm_keys, keys, output_file=None, printout=False
        )
    got = M.t_eer(
        np.concatenate([d["target"][1], d["nontarget"][1]]),
        d["spoof"][1],
        d["target"][0],
        d["nontarget"][0],
        d["spoof"][0],
    )
    assert got == pytest.approx(teer_pct / 100, abs=TOL)
    assert got == pytest.approx(0.019896988, abs=TOL)  # 1.99 % in the package's percent
    # here the package's decimated search finds the point of its full search (checked once: 2.6 s)
    asv = (d[k][0] for k in ("target", "nontarget", "spoof"))
    cm_b = np.concatenate([d["target"][1], d["nontarget"][1]])
    assert M.t_eer(cm_b, d["spoof"][1], *asv, search="exhaustive") == got


def test_teer_equals_the_package_on_random_crafted_cases(asvspoof5_package, rng):
    """Small sets (the package's accelerated search is then its exhaustive one), heavy ties, ASV
    spoof scores anywhere between non-target and target; sets where the package fails are skipped
    here and covered by the next test."""
    compared = 0
    for _ in range(150):
        n = rng.integers(1, 60, 5)
        dec = int(rng.integers(0, 3))
        draw = lambda size, mu, sd, dec=dec: np.round(rng.normal(mu, sd, size), dec)  # noqa: E731
        cm_b, cm_s = draw(n[0], 1.0, 1.0), draw(n[1], -1.0, 1.5)
        tar, non, spf = draw(n[2], 2.0, 1.0), draw(n[3], -2.0, 1.0), draw(n[4], rng.normal(), 1.5)
        try:
            want = package_teer(asvspoof5_package, cm_b, cm_s, tar, non, spf)
        except UnboundLocalError:  # the package's search found no point
            with pytest.raises(M.MetricsError, match="t-EER undefined"):
                M.t_eer(cm_b, cm_s, tar, non, spf)
            continue
        assert M.t_eer(cm_b, cm_s, tar, non, spf) == pytest.approx(want, abs=TOL)
        compared += 1
    assert compared > 100


def test_teer_undefined_where_the_package_finds_no_point(asvspoof5_package):
    """A CM that puts every spoof above the bona fide trial: the package fails (unbound result),
    ours names the reason."""
    args = [np.array(x) for x in ([0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 2.0], [2.0], [0.0])]
    with pytest.raises(UnboundLocalError), np.errstate(divide="ignore", invalid="ignore"):
        package_teer(asvspoof5_package, *args)
    with pytest.raises(M.MetricsError, match="rejects every bona fide trial"):
        M.t_eer(*args)


@pytest.mark.parametrize(
    "case",
    [
        # CM: bona fide vs spoof; ASV: target, non-target, spoof
        ([0.0, 1.0, 2.0, 3.0], [-1.0, 0.5, 1.0], [1.0, 2.0, 3.0], [-3.0, -2.0], [0.0, 1.0, 2.5]),
        ([1.0, 1.0, 1.0], [1.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0], [0.0, 0.0]),  # ties everywhere
        ([5.0, 6.0], [-5.0, -6.0], [5.0, 6.0], [-5.0, -6.0], [-5.5, 5.5]),  # both separable
        ([0.2], [0.1], [0.3], [0.1], [0.2]),  # one trial each
    ],
)
def test_teer_equals_both_package_searches_on_hand_made_cases(asvspoof5_package, case):
    cm_b, cm_s, tar, non, spf = (np.array(x) for x in case)
    m = asvspoof5_package.modules
    pmiss_asv, pfa_non, pfa_spf, tau_asv = m.compute_Pmiss_Pfa_Pspoof_curves(tar, non, spf)
    pmiss_cm, pfa_cm, tau_cm = m.compute_det_curve(cm_b, cm_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        full = m.compute_teer(pmiss_cm, pfa_cm, tau_cm, pmiss_asv, pfa_non, pfa_spf, tau_asv) / 100
    got = M.t_eer(cm_b, cm_s, tar, non, spf)
    assert got == pytest.approx(full, abs=TOL)
    assert got == pytest.approx(package_teer(asvspoof5_package, cm_b, cm_s, tar, non, spf), abs=TOL)


@pytest.mark.slow
def test_teer_equals_the_package_accelerated_search_at_scale(asvspoof5_package, rng):
    """200,000 CM and ASV trials: the package decimates, then searches a window; ours is exhaustive."""
    n_b, n_s = 8_000, 192_000
    cm_b, cm_s = np.round(rng.normal(2.5, 1.5, n_b), 6), np.round(rng.normal(-2.5, 1.8, n_s), 6)
    tar, non = np.round(rng.normal(3, 2, n_b // 2), 6), np.round(rng.normal(-8, 2, n_b - n_b // 2), 6)
    spf = np.round(rng.normal(-2, 3, n_s), 6)
    want = package_teer(asvspoof5_package, cm_b, cm_s, tar, non, spf)
    assert M.t_eer(cm_b, cm_s, tar, non, spf) == pytest.approx(want, abs=TOL)


def test_teer_package_search_keeps_the_package_answer_where_it_misses_the_point(asvspoof5_package):
    args = decimation_trap()
    want = package_teer(asvspoof5_package, *args)
    assert M.t_eer(*args) == pytest.approx(want, abs=TOL)
    assert M.t_eer(*args, search="exhaustive") < want - 0.05  # 0.026 against the package's 0.107


@pytest.mark.slow
def test_teer_exhaustive_search_is_the_package_full_search(asvspoof5_package):
    """The same system through the package's compute_teer on the full curves (a Python loop over
    15,789 ASV thresholds, a few seconds)."""
    args = decimation_trap()
    m = asvspoof5_package.modules
    pmiss_asv, pfa_non, pfa_spf, tau_asv = m.compute_Pmiss_Pfa_Pspoof_curves(*args[2:])
    pmiss_cm, pfa_cm, tau_cm = m.compute_det_curve(*args[:2])
    with np.errstate(divide="ignore", invalid="ignore"):
        full = m.compute_teer(pmiss_cm, pfa_cm, tau_cm, pmiss_asv, pfa_non, pfa_spf, tau_asv) / 100
    assert M.t_eer(*args, search="exhaustive") == pytest.approx(full, abs=TOL)


def test_teer_equals_the_package_on_real_2019_la_cm_and_asv_scores(asvspoof5_package, shared_dir):
    """A published CM (RawGAT-ST, 71,237 ASVspoof 2019 LA eval trials) in tandem with the organisers'
    2019 LA eval ASV scores (102,579 trials): the two searches and the package's, on real scores."""
    cm = np.genfromtxt(shared_dir / "data/scores/rawgat_st_add_LA19eval_Scores.txt", dtype=str)
    asv_path = "data/asvspoof2019_la/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"
    asv = np.genfromtxt(shared_dir / asv_path, dtype=str)
    cm_score, asv_score = cm[:, 3].astype(np.float64), asv[:, 2].astype(np.float64)
    args = (
        cm_score[cm[:, 2] == "bonafide"],
        cm_score[cm[:, 2] == "spoof"],
        *(asv_score[asv[:, 1] == k] for k in ("target", "nontarget", "spoof")),
    )
    want = package_teer(asvspoof5_package, *args)
    assert M.t_eer(*args) == pytest.approx(want, abs=TOL)
    assert M.t_eer(*args, search="exhaustive") == pytest.approx(want, abs=TOL)
    assert want == pytest.approx(0.0280486, abs=TOL)
