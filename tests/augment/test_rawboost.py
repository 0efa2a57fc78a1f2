"""RawBoost against the authors' algorithm: equality with an oracle that follows their released code
(``RawBoost.py`` and ``process_Rawboost_feature`` in github TakHemlata/SSL_Anti-spoofing) call for
call, with numpy's global RNG; band-stop filter behaviour; published distributions; SNR;
composition of algos 1-8; invariants (determinism, shapes, dtypes, torch in/out)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import signal, stats

from sdd.augment import functional as F
from sdd.augment import rawboost as R
from sdd.augment.params import AugmentParams
from sdd.augment.policies import build_policy
from sdd.augment.waveform import peak_normalise

SR = 16000


# --------------------------------------------------------------------------------------------------
# Oracle: the authors' RawBoost, step by step, with scipy's firwin/freqz/lfilter and numpy's global
# RNG. Written from their code; the only change is taking element [0] of the (1,) arrays that their
# ``randRange`` returns before int()/float() (NumPy >= 2.x refuses int() of a 1-element array).
# Never a re-derivation of sdd.augment.rawboost.


def o_rand_range(x1, x2, integer):
    y = np.random.uniform(low=x1, high=x2, size=(1,))[0]
    if integer:
        y = int(y)
    return y


def o_norm_wav(x, always):
    if always:
        x = x / np.amax(abs(x))
    elif np.amax(abs(x)) > 1:
        x = x / np.amax(abs(x))
    return x


def o_gen_notch_coeffs(n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, min_g, max_g, fs):
    b = 1
    for _ in range(n_bands):
        fc = o_rand_range(min_f, max_f, 0)
        bw = o_rand_range(min_bw, max_bw, 0)
        c = o_rand_range(min_coeff, max_coeff, 1)
        if c / 2 == int(c / 2):
            c = c + 1
        f1 = fc - bw / 2
        f2 = fc + bw / 2
        if f1 <= 0:
            f1 = 1 / 1000
        if f2 >= fs / 2:
            f2 = fs / 2 - 1 / 1000
        b = np.convolve(signal.firwin(c, [float(f1), float(f2)], window="hamming", fs=fs), b)
    g = o_rand_range(min_g, max_g, 0)
    _, h = signal.freqz(b, 1, fs=fs)
    b = pow(10, g / 20) * b / np.amax(abs(h))
    return b


def o_filter_fir(x, b):
    n = b.shape[0] + 1
    xpad = np.pad(x, (0, n), "constant")
    y = signal.lfilter(b, 1, xpad)
    y = y[int(n / 2) : int(y.shape[0] - n / 2)]
    return y


def o_lnl(x, n_f, n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, min_g, max_g,
          min_bias, max_bias, fs):
    y = [0] * x.shape[0]
    for i in range(n_f):
        if i == 1:
            min_g = min_g - min_bias
            max_g = max_g - max_bias
        b = o_gen_notch_coeffs(n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, min_g, max_g, fs)
        y = y + o_filter_fir(np.power(x, (i + 1)), b)
    y = y - np.mean(y)
    y = o_norm_wav(y, 0)
    return y


def o_isd(x, p, g_sd):
    beta = o_rand_range(0, p, 0)
    y = copy.deepcopy(x)
    x_len = x.shape[0]
    n = int(x_len * (beta / 100))
    idx = np.random.permutation(x_len)[:n]
    f_r = np.multiply(((2 * np.random.rand(idx.shape[0])) - 1), ((2 * np.random.rand(idx.shape[0])) - 1))
    r = g_sd * x[idx] * f_r
    y[idx] = x[idx] + r
    y = o_norm_wav(y, 0)
    return y


def o_ssi(x, snr_min, snr_max, n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, min_g, max_g, fs):
    noise = np.random.normal(0, 1, x.shape[0])
    b = o_gen_notch_coeffs(n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, min_g, max_g, fs)
    noise = o_filter_fir(noise, b)
    noise = o_norm_wav(noise, 1)
    snr = o_rand_range(snr_min, snr_max, 0)
    noise = noise / np.linalg.norm(noise, 2) * np.linalg.norm(x, 2) / 10.0 ** (0.05 * snr)
    x = x + noise
    return x


# the authors' argparse defaults (main_SSL_LA.py / main_SSL_DF.py)
ARGS = dict(N_f=5, nBands=5, minF=20, maxF=8000, minBW=100, maxBW=1000, minCoeff=10, maxCoeff=100,
            minG=0, maxG=0, minBiasLinNonLin=5, maxBiasLinNonLin=20, P=10, g_sd=2, SNRmin=10, SNRmax=40)


def o_notch(fs=SR, a=ARGS):
    return o_gen_notch_coeffs(a["nBands"], a["minF"], a["maxF"], a["minBW"], a["maxBW"], a["minCoeff"],
                              a["maxCoeff"], a["minG"], a["maxG"], fs)


def o_process_rawboost_feature(feature, sr, algo, a=ARGS):
    def lnl(x):
        return o_lnl(x, a["N_f"], a["nBands"], a["minF"], a["maxF"], a["minBW"], a["maxBW"], a["minCoeff"],
                     a["maxCoeff"], a["minG"], a["maxG"], a["minBiasLinNonLin"], a["maxBiasLinNonLin"], sr)

    def isd(x):
        return o_isd(x, a["P"], a["g_sd"])

    def ssi(x):
        return o_ssi(x, a["SNRmin"], a["SNRmax"], a["nBands"], a["minF"], a["maxF"], a["minBW"], a["maxBW"],
                     a["minCoeff"], a["maxCoeff"], a["minG"], a["maxG"], sr)

    if algo == 1:
        feature = lnl(feature)
    elif algo == 2:
        feature = isd(feature)
    elif algo == 3:
        feature = ssi(feature)
    elif algo == 4:
        feature = lnl(feature)
        feature = isd(feature)
        feature = ssi(feature)
    elif algo == 5:
        feature = lnl(feature)
        feature = isd(feature)
    elif algo == 6:
        feature = lnl(feature)
        feature = ssi(feature)
    elif algo == 7:
        feature = isd(feature)
        feature = ssi(feature)
    elif algo == 8:
        feature1 = lnl(feature)
        feature2 = isd(feature)
        feature_para = feature1 + feature2
        feature = o_norm_wav(feature_para, 0)
    return feature


def oracle(seed, fn, *args):
    """``fn(*args)`` after ``np.random.seed(seed)``, restoring the global RNG state afterwards."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return fn(*args)
    finally:
        np.random.set_state(state)


# --------------------------------------------------------------------------------------------------
# fixtures


def _synthetic(seed: int, duration_s: float, f0: float) -> np.ndarray:
    """Harmonic stack with a slow envelope plus white noise, peak 0.6, float64."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, 15))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = x + 0.05 * rng.standard_normal(t.shape[0])
    return 0.6 * x / np.abs(x).max()


WAVES = {"0.5s": _synthetic(1, 0.5, 210.0), "1.3s": _synthetic(2, 1.3, 130.0), "2s": _synthetic(3, 2.0, 95.0)}


@pytest.fixture(scope="module")
def speech():
    return WAVES["2s"].astype(np.float32)


# --------------------------------------------------------------------------------------------------
# equality with the authors' code


@pytest.mark.parametrize("c, f1, f2", [(11, 1e-3, 300.0), (57, 2000.0, 2900.0), (99, 7500.0, 8000.0 - 1e-3),
                                       (31, 5e-4, 700.0), (13, 40.0, 7999.0)])
def test_firwin_bandstop_matches_scipy_default(c, f1, f2):
    ours = R._firwin_bandstop(c, f1, f2, SR)
    theirs = signal.firwin(c, [f1, f2], window="hamming", fs=SR)  # default pass_zero=True: band-stop
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-14)
    assert abs(np.sum(ours) - 1.0) < 1e-14  # unit gain at DC
    with pytest.raises(ValueError, match="odd"):
        R._firwin_bandstop(12, f1, f2, SR)


def test_legacy_randomstate_identities():
    """What our draws rely on: legacy uniform(low, high, (1,)) = low + (high - low) * random_sample(),
    also for low > high; legacy normal(0, 1, n) = standard_normal(n); rand(n) = random(n)."""
    for lo, hi in [(20, 8000), (100, 1000), (10, 100), (-5, -20), (0, 0), (0, 10), (10, 40)]:
        a, b = np.random.RandomState(5), np.random.RandomState(5)
        for _ in range(50):
            assert a.uniform(low=lo, high=hi, size=(1,))[0] == R._uniform(b, lo, hi)
    a, b = np.random.RandomState(6), np.random.RandomState(6)
    np.testing.assert_array_equal(a.normal(0, 1, 1000), b.standard_normal(1000))
    np.testing.assert_array_equal(a.rand(1000), b.random(1000))
    np.testing.assert_array_equal(a.permutation(999), b.permutation(999))


@pytest.mark.parametrize("seed", range(50))
def test_notch_coeffs_equal_authors(seed):
    ours, drawn = R.notch_filter_coeffs(np.random.RandomState(seed), SR)
    theirs = oracle(seed, o_notch)
    assert ours.shape == theirs.shape == (sum(drawn["coeffs"]) - 4,)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_notch_edge_clamp_exact():
    """f1 in (0, 1e-3) is kept (the authors only replace f1 <= 0); f2 >= fs/2 becomes fs/2 - 1/1000.
    Bands forced by degenerate ranges, compared with the oracle."""
    for min_f, bw in [(3e-4, 2e-4), (20.0, 1000.0), (7900.0, 900.0)]:
        kw = dict(n_bands=2, min_f=min_f, max_f=min_f, min_bw=bw, max_bw=bw, min_coeff=10, max_coeff=30)
        ours, _ = R.notch_filter_coeffs(np.random.RandomState(0), SR, **kw)
        a = {**ARGS, "nBands": 2, "minF": min_f, "maxF": min_f, "minBW": bw, "maxBW": bw, "maxCoeff": 30}
        theirs = oracle(0, o_notch, SR, a)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(WAVES))
@pytest.mark.parametrize("seed", [0, 1, 17])
def test_primitives_equal_authors(name, seed):
    x = WAVES[name]
    a = ARGS
    cases = {
        "lnl": (lambda g: R.lnl_convolutive_noise(x, g, SR)[0],
                lambda: o_lnl(x, a["N_f"], a["nBands"], a["minF"], a["maxF"], a["minBW"], a["maxBW"],
                              a["minCoeff"], a["maxCoeff"], a["minG"], a["maxG"], a["minBiasLinNonLin"],
                              a["maxBiasLinNonLin"], SR)),
        "isd": (lambda g: R.isd_additive_noise(x, g)[0], lambda: o_isd(x, a["P"], a["g_sd"])),
        "ssi": (lambda g: R.ssi_additive_noise(x, g, SR)[0],
                lambda: o_ssi(x, a["SNRmin"], a["SNRmax"], a["nBands"], a["minF"], a["maxF"], a["minBW"],
                              a["maxBW"], a["minCoeff"], a["maxCoeff"], a["minG"], a["maxG"], SR)),
    }
    for op, (ours_fn, theirs_fn) in cases.items():
        ours = ours_fn(np.random.RandomState(seed))
        theirs = oracle(seed, theirs_fn)
        assert ours.dtype == np.float64 and ours.shape == x.shape, op
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9, err_msg=op)
        assert not np.allclose(ours, x), op  # something happened


@pytest.mark.parametrize("algo", range(1, 9))
@pytest.mark.parametrize("name", sorted(WAVES))
def test_rawboost_algos_equal_authors(name, algo):
    x = WAVES[name]
    for seed in (3, 42):
        ours, _ = R.rawboost(x, np.random.RandomState(seed), SR, algo)
        theirs = oracle(seed, o_process_rawboost_feature, x, SR, algo)
        assert ours.dtype == np.float64 and ours.shape == x.shape
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_float32_input_matches_authors_to_float32_rounding(speech):
    """librosa gives float32; the authors then compute partly in float32: rounding-level agreement."""
    for algo in (1, 4, 8):
        ours, _ = R.rawboost(speech, np.random.RandomState(9), SR, algo)
        theirs = oracle(9, o_process_rawboost_feature, speech, SR, algo)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_global_rng_untouched(speech):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    R.rawboost(speech, np.random.RandomState(0), SR, 4)
    R.rawboost(speech, np.random.default_rng(0), SR, 8)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# --------------------------------------------------------------------------------------------------
# band-stop behaviour (statistical, with a Generator: a different stream from the oracle's)


def _mag(b):
    return np.abs(signal.freqz(b, 1, worN=512, fs=SR)[1])


@pytest.fixture(scope="module")
def mean_responses():
    rng = np.random.default_rng(2024)
    ours = np.stack([_mag(R.notch_filter_coeffs(rng, SR)[0]) for _ in range(300)])
    np.random.seed(77)
    theirs = np.stack([_mag(o_notch()) for _ in range(300)])
    return ours, theirs


def test_mean_response_equals_authors_statistically(mean_responses):
    ours, theirs = mean_responses
    se = np.sqrt((ours.var(axis=0, ddof=1) + theirs.var(axis=0, ddof=1)) / ours.shape[0])
    z = np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) / se
    assert np.max(z) < 5.0, np.max(z)  # 512 correlated frequencies; 5 sigma
    assert np.max(np.abs(ours.mean(axis=0) - theirs.mean(axis=0))) < 0.15  # ~5 standard errors


def test_mean_response_is_band_stop_like(mean_responses):
    """Five notches of 100-1000 Hz remove a small part of the spectrum: the mean |H| is close to its
    peak over most frequencies (a band-pass cascade would pass almost nothing on average)."""
    for resp in mean_responses:
        mean = resp.mean(axis=0)
        assert np.median(mean) > 0.75 * mean.max(), (np.median(mean), mean.max())
        assert np.median(resp[:, 0]) > 0.5  # DC mostly passes


def _log_spectrum(x):
    f, p = signal.welch(x, fs=SR, nperseg=512)
    keep = (f > 50) & (f < 7900)
    return 10 * np.log10(p[keep] + 1e-20)


def test_lnl_keeps_the_long_term_spectrum():
    """LnL output is mostly the input through notches: its long-term log spectrum correlates with
    the input's, for ours and for the authors' code alike."""
    x = WAVES["2s"]
    sx = _log_spectrum(x)
    rng = np.random.default_rng(5)
    for seed in range(10):
        ours = R.lnl_convolutive_noise(x, rng, SR)[0]
        theirs = oracle(seed, o_process_rawboost_feature, x, SR, 1)
        for y in (ours, theirs):
            assert np.corrcoef(sx, _log_spectrum(y))[0, 1] > 0.5


# --------------------------------------------------------------------------------------------------
# distributions and SNR


def test_notch_draws_follow_published_distributions():
    rng = np.random.default_rng(0)
    fcs, bws, cs = [], [], []
    for _ in range(400):
        _, d = R.notch_filter_coeffs(rng, SR)
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
    """Linear branch G ~ U(0, 0) = 0 dB; non-linear branches U(minG - 5, maxG - 20) = U(-5, -20)."""
    rng = np.random.default_rng(1)
    x = np.random.default_rng(2).uniform(-0.5, 0.5, 4000).astype(np.float32)
    gains = [[f["gain_db"] for f in R.lnl_convolutive_noise(x, rng, SR)[1]["filters"]] for _ in range(300)]
    g = np.asarray(gains)
    assert np.all(g[:, 0] == 0.0)
    assert np.all((g[:, 1:] >= -20.0) & (g[:, 1:] <= -5.0))
    assert stats.kstest(g[:, 1:].ravel(), stats.uniform(-20, 15).cdf).pvalue > 0.01


def test_isd_and_ssi_scalar_draws():
    rng = np.random.default_rng(3)
    x = np.random.default_rng(4).uniform(-0.5, 0.5, 8000).astype(np.float32)
    betas, ns = [], []
    for _ in range(500):
        y, d = R.isd_additive_noise(x, rng)
        betas.append(d["beta_pct"])
        ns.append(d["n_samples"])
    assert stats.kstest(betas, stats.uniform(0, 10).cdf).pvalue > 0.01
    assert ns == [int(8000 * b / 100) for b in betas]
    snrs = [R.ssi_additive_noise(x[:2000], rng, SR)[1]["snr_db"] for _ in range(300)]
    assert stats.kstest(snrs, stats.uniform(10, 30).cdf).pvalue > 0.01


def test_isd_changes_at_most_n_samples(speech):
    quiet = 0.3 * speech  # |x + 2 x f| <= 3 |x| < 1: no peak normalisation
    for seed in range(5):
        y, d = R.isd_additive_noise(quiet, np.random.default_rng(seed))
        assert 0 < np.count_nonzero(y != quiet) <= d["n_samples"]


@pytest.mark.parametrize("snr", [0.0, 12.5, 35.0])
def test_ssi_snr_within_half_db(speech, snr):
    y, d = R.ssi_additive_noise(speech, np.random.default_rng(9), SR, snr_min=snr, snr_max=snr)
    assert abs(F.snr_db(speech, y.astype(np.float64) - speech) - snr) < 0.5


# --------------------------------------------------------------------------------------------------
# composition, policies, invariants


@pytest.mark.parametrize(
    "algo, steps",
    [(1, ["lnl"]), (2, ["isd"]), (3, ["ssi"]), (4, ["lnl", "isd", "ssi"]), (5, ["lnl", "isd"]),
     (6, ["lnl", "ssi"]), (7, ["isd", "ssi"])],
)
def test_policies_compose_the_primitives(speech, algo, steps):
    fns = {
        "lnl": lambda w, g: R.lnl_convolutive_noise(w, g, SR)[0],
        "isd": lambda w, g: R.isd_additive_noise(w, g)[0],
        "ssi": lambda w, g: R.ssi_additive_noise(w, g, SR)[0],
    }
    g = np.random.default_rng(11)
    expected = speech
    for s in steps:
        expected = fns[s](expected, g)
    expected = peak_normalise(expected)
    policy = build_policy(AugmentParams(policy=f"rawboost{algo}"))
    y, drawn = policy(speech, SR, np.random.default_rng(11))
    np.testing.assert_array_equal(y, expected.astype(np.float32))
    assert [r["op"] for r in drawn["chain"]] == steps
    fy, _ = R.rawboost(speech, np.random.default_rng(11), SR, algo)
    np.testing.assert_array_equal(y, peak_normalise(fy))


def test_rawboost8_parallel_sum_normalised(speech):
    g = np.random.default_rng(13)
    a = R.lnl_convolutive_noise(speech, g, SR)[0].astype(np.float64)
    b = R.isd_additive_noise(speech, g)[0]
    expected = peak_normalise(a + b).astype(np.float32)
    y, drawn = build_policy(AugmentParams(policy="rawboost8"))(speech, SR, np.random.default_rng(13))
    np.testing.assert_allclose(y, expected, atol=1e-7)
    assert [r["op"] for r in drawn["chain"][0]["parallel"]] == ["lnl", "isd"]
    assert np.abs(y).max() <= 1.0


def test_policy_with_randomstate_matches_authors_up_to_float32(speech):
    """The policies also run with a legacy RandomState; rawboost4 then equals the authors' algo 4
    up to float32 rounding between steps and the policy's final peak normalisation."""
    y, _ = build_policy(AugmentParams(policy="rawboost4"))(speech, SR, np.random.RandomState(21))
    theirs = peak_normalise(oracle(21, o_process_rawboost_feature, speech, SR, 4))
    np.testing.assert_allclose(y, theirs, rtol=0, atol=1e-6)


def test_overrides_reach_the_primitives(speech):
    y, d = R.rawboost(speech, np.random.default_rng(0), SR, 3, snr_min=20.0, snr_max=20.0, n_bands=2)
    assert d["ssi"]["snr_db"] == 20.0 and len(d["ssi"]["fc_hz"]) == 2
    with pytest.raises(ValueError, match="unknown parameter"):
        R.rawboost(speech, np.random.default_rng(0), SR, 3, snr=3)
    with pytest.raises(ValueError, match="algo"):
        R.rawboost(speech, np.random.default_rng(0), SR, 9)


@pytest.mark.parametrize("algo", range(1, 9))
def test_determinism_shape_dtype(speech, algo):
    for make in (np.random.default_rng, np.random.RandomState):
        y1, d1 = R.rawboost(speech, make(4), SR, algo)
        y2, d2 = R.rawboost(speech, make(4), SR, algo)
        y3, _ = R.rawboost(speech, make(5), SR, algo)
        np.testing.assert_array_equal(y1, y2)
        assert d1 == d2
        assert not np.array_equal(y1, y3)
        assert y1.shape == speech.shape and y1.dtype == np.float32 and np.all(np.isfinite(y1))
    y64, _ = R.rawboost(speech.astype(np.float64), np.random.default_rng(4), SR, algo)
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, R.rawboost(speech, np.random.default_rng(4), SR, algo)[0], atol=1e-4)


def test_torch_in_torch_out(speech):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(speech)
    y, _ = R.lnl_convolutive_noise(t, np.random.default_rng(0), SR)
    assert isinstance(y, torch.Tensor) and y.dtype == t.dtype and y.shape == t.shape
    np.testing.assert_array_equal(y.numpy(), R.lnl_convolutive_noise(speech, np.random.default_rng(0), SR)[0])
    y, _ = R.rawboost(t.double(), np.random.RandomState(0), SR, 4)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float64
