"""RawBoost: equality with a reference-style (lfilter) implementation, published distributions,
SNR, composition of algos 1-8."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import signal, stats

from sdd.augment import functional as F
from sdd.augment.params import AugmentParams
from sdd.augment.policies import build_policy

SR = 16000
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "augment_throughput.py"


@pytest.fixture(scope="module")
def ref():
    """The benchmark's reference-style RawBoost (scipy firwin/freqz/lfilter), used as an oracle."""
    spec = importlib.util.spec_from_file_location("augment_throughput_ref", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(7)
    t = np.arange(SR * 2) / SR
    x = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 15))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = x + 0.05 * rng.standard_normal(t.shape[0])
    return (0.6 * x / np.abs(x).max()).astype(np.float32)


def test_firwin_matches_scipy():
    for c, f1, f2 in [(11, 1e-3, 300.0), (57, 2000.0, 2900.0), (99, 7500.0, 8000.0 - 1e-3)]:
        ours = F._firwin_bandpass(c, f1, f2, SR)
        theirs = signal.firwin(c, [f1, f2], window="hamming", pass_zero=False, fs=SR)
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_lnl_equals_reference(ref, speech):
    ours, drawn = F.lnl_convolutive_noise(speech, np.random.default_rng(3), SR)
    theirs = ref.ref_lnl(np.random.default_rng(3), speech.astype(np.float64))
    assert ours.shape == speech.shape
    np.testing.assert_allclose(ours, theirs, atol=2e-6)  # float32 output
    assert len(drawn["filters"]) == 5


def test_ssi_equals_reference_and_hits_snr(ref, speech):
    ours, drawn = F.ssi_additive_noise(speech, np.random.default_rng(5), SR)
    theirs = ref.ref_ssi(np.random.default_rng(5), speech.astype(np.float64))
    np.testing.assert_allclose(ours, theirs, atol=2e-6)
    achieved = F.snr_db(speech, ours.astype(np.float64) - speech)
    assert abs(achieved - drawn["snr_db"]) < 0.5
    assert 10.0 <= drawn["snr_db"] <= 40.0


def test_isd_matches_reference_distribution(ref, speech):
    """ISD draws its subset differently (choice vs permutation): compare distributions instead."""
    ours = [F.isd_additive_noise(speech, np.random.default_rng(s))[0] for s in range(150)]
    theirs = [ref.ref_isd(np.random.default_rng(1000 + s), speech.astype(np.float64)) for s in range(150)]
    changed_ours = [np.mean(o != speech) for o in ours]
    changed_theirs = [np.mean(np.abs(t - speech) > 1e-7) for t in theirs]
    assert stats.ks_2samp(changed_ours, changed_theirs).pvalue > 0.01


def test_notch_draws_follow_published_distributions():
    rng = np.random.default_rng(0)
    fcs, bws, cs = [], [], []
    for _ in range(400):
        _, d = F.notch_filter_coeffs(rng, SR)
        fcs += d["fc_hz"]
        bws += d["bw_hz"]
        cs += d["coeffs"]
        assert d["gain_db"] == 0.0
    assert stats.kstest(fcs, stats.uniform(20, 7980).cdf).pvalue > 0.01
    assert stats.kstest(bws, stats.uniform(100, 900).cdf).pvalue > 0.01
    # c = int(U(10, 100)), +1 when even: odd values 11..99, each with probability 2/90
    values, counts = np.unique(cs, return_counts=True)
    assert set(values) <= set(range(11, 100, 2)) and len(values) == 45
    assert stats.chisquare(counts).pvalue > 0.01


def test_lnl_gain_draws():
    """Linear branch G ~ U(0, 0) = 0 dB; non-linear branches U(minG - 5, maxG - 20) = U(-20, -5)."""
    rng = np.random.default_rng(1)
    x = np.random.default_rng(2).uniform(-0.5, 0.5, 4000).astype(np.float32)
    gains = [[f["gain_db"] for f in F.lnl_convolutive_noise(x, rng, SR)[1]["filters"]] for _ in range(300)]
    g = np.asarray(gains)
    assert np.all(g[:, 0] == 0.0)
    assert np.all((g[:, 1:] >= -20.0) & (g[:, 1:] <= -5.0))
    assert stats.kstest(g[:, 1:].ravel(), stats.uniform(-20, 15).cdf).pvalue > 0.01


def test_isd_and_ssi_scalar_draws():
    rng = np.random.default_rng(3)
    x = np.random.default_rng(4).uniform(-0.5, 0.5, 8000).astype(np.float32)
    betas, ns = [], []
    for _ in range(500):
        _, d = F.isd_additive_noise(x, rng)
        betas.append(d["beta_pct"])
        ns.append(d["n_samples"])
    assert stats.kstest(betas, stats.uniform(0, 10).cdf).pvalue > 0.01
    assert ns == [int(8000 * b / 100) for b in betas]
    snrs = [F.ssi_additive_noise(x[:2000], rng, SR)[1]["snr_db"] for _ in range(300)]
    assert stats.kstest(snrs, stats.uniform(10, 30).cdf).pvalue > 0.01


@pytest.mark.parametrize("snr", [0.0, 12.5, 35.0])
def test_ssi_snr_within_half_db(speech, snr):
    y, d = F.ssi_additive_noise(speech, np.random.default_rng(9), SR, snr_min=snr, snr_max=snr)
    assert abs(F.snr_db(speech, y.astype(np.float64) - speech) - snr) < 0.5


@pytest.mark.parametrize(
    "algo, steps",
    [(1, ["lnl"]), (2, ["isd"]), (3, ["ssi"]), (4, ["lnl", "isd", "ssi"]), (5, ["lnl", "isd"]),
     (6, ["lnl", "ssi"]), (7, ["isd", "ssi"])],
)
def test_policies_compose_the_primitives(speech, algo, steps):
    fns = {
        "lnl": lambda w, g: F.lnl_convolutive_noise(w, g, SR)[0],
        "isd": lambda w, g: F.isd_additive_noise(w, g)[0],
        "ssi": lambda w, g: F.ssi_additive_noise(w, g, SR)[0],
    }
    g = np.random.default_rng(11)
    expected = speech
    for s in steps:
        expected = fns[s](expected, g)
    expected = F.peak_normalise(expected)
    policy = build_policy(AugmentParams(policy=f"rawboost{algo}"))
    y, drawn = policy(speech, SR, np.random.default_rng(11))
    np.testing.assert_array_equal(y, expected.astype(np.float32))
    assert [r["op"] for r in drawn["chain"]] == steps
    fy, _ = F.rawboost(speech, np.random.default_rng(11), SR, algo)
    np.testing.assert_array_equal(y, F.peak_normalise(fy))


def test_rawboost8_parallel_sum_normalised(speech):
    g = np.random.default_rng(13)
    a = F.lnl_convolutive_noise(speech, g, SR)[0].astype(np.float64)
    b = F.isd_additive_noise(speech, g)[0]
    expected = F.peak_normalise(a + b).astype(np.float32)
    y, drawn = build_policy(AugmentParams(policy="rawboost8"))(speech, SR, np.random.default_rng(13))
    np.testing.assert_allclose(y, expected, atol=1e-7)
    assert [r["op"] for r in drawn["chain"][0]["parallel"]] == ["lnl", "isd"]
    assert np.abs(y).max() <= 1.0


def test_overrides_reach_the_primitives(speech):
    y, d = F.rawboost(speech, np.random.default_rng(0), SR, 3, snr_min=20.0, snr_max=20.0, n_bands=2)
    assert d["ssi"]["snr_db"] == 20.0 and len(d["ssi"]["fc_hz"]) == 2
    with pytest.raises(ValueError, match="unknown parameter"):
        F.rawboost(speech, np.random.default_rng(0), SR, 3, snr=3)


def test_torch_in_torch_out(speech):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(speech)
    y, _ = F.lnl_convolutive_noise(t, np.random.default_rng(0), SR)
    assert isinstance(y, torch.Tensor) and y.dtype == t.dtype and y.shape == t.shape
    np.testing.assert_array_equal(y.numpy(), F.lnl_convolutive_noise(speech, np.random.default_rng(0), SR)[0])
