"""RawBoost (Tak et al., ICASSP 2022): its three noises, LnL convolutive (algo 1), ISD impulsive
(algo 2) and SSI coloured (algo 3), their notch-filter cascades, and the eight published combinations.

Pure functions with the conventions of :mod:`sdd.augment.waveform`: a mono (T,) numpy array or torch
tensor in, the same kind out, as ``(wave, drawn)`` with ``drawn`` exactly what was drawn (JSON-ready).
Randomness comes only from the generator passed in, a ``np.random.Generator`` or a legacy
``np.random.RandomState``, never from numpy's global state. The other augmentation functions (noise,
reverberation, channel, codecs) are in :mod:`sdd.augment.functional`.

RawBoost (H. Tak, M. Kamble, J. Patino, M. Todisco, N. Evans, "RawBoost: A Raw Data Boosting and
Augmentation Method applied to Automatic Speaker Verification Anti-Spoofing", Proc. ICASSP 2022,
pp. 6382-6386, arXiv 2111.04433) follows the authors' released ``RawBoost.py`` (github
TakHemlata/RawBoost-antispoofing and TakHemlata/SSL_Anti-spoofing) with the published defaults:
the same filters (``firwin(c, [f1, f2], window='hamming', fs=fs)`` with its default
``pass_zero=True``, i.e. band-STOP notches, cascaded and scaled by the ``freqz`` peak), the same
parameter distributions, and the same random draws in the same order, using only ``random``,
``standard_normal`` and ``permutation`` of the generator. Hence, given ``np.random.RandomState(s)``,
``notch_filter_coeffs``, ``lnl_convolutive_noise``, ``isd_additive_noise``, ``ssi_additive_noise``
and ``rawboost`` reproduce the authors' functions run after ``np.random.seed(s)`` (for float64
input: measured within 1e-15, see ``tests/augment/test_rawboost.py``); a ``np.random.Generator``
gives the same distributions from another stream. Deliberate differences, all listed:

- FIR filtering is FFT overlap-add convolution (the five LnL branches summed in the frequency
  domain and inverted once) instead of sample-domain ``scipy.signal.lfilter``; the band-stop taps
  are the windowed sinc written out instead of a ``firwin`` call. Same output up to floating-point
  rounding (~1e-15) and several times faster (``benchmarks/augment_throughput.py``).
- SSI skips the authors' ``normWav(noise, 1)`` before scaling the noise to the drawn SNR: a
  scale-invariant step (rounding-level difference).
- Precision: we compute in float64 and return float64 for float64 input, float32 otherwise. The
  authors' code keeps numpy's dtypes: for float32 input (``librosa.load``) it raises x to the
  powers of LnL in float32, ISD's output stays float32 and LnL/SSI return float64; so for float32
  input, and between the steps of a policy (each op returns float32), results differ at float32
  rounding (~1e-7 relative).
- Level: within RawBoost, ``normWav`` (divide by the peak only when it exceeds 1) is applied where
  the authors apply it (end of LnL, end of ISD, the algo 8 sum); SSI does not normalise, as
  published. Our policies (:class:`sdd.augment.policies.Policy`) additionally apply the same rule
  to every policy's final output, so algos 3, 4, 6 and 7 (ending in SSI), whose output the authors
  leave unnormalised (peak possibly above 1), are divided by their peak when it exceeds 1; for
  algos 1, 2, 5 and 8 this is a no-op. The augment stage then stores 16-bit copies.
- Sampling: the authors' code (and DPDA's) draws fresh RawBoost parameters every time an utterance
  is loaded (in the dataset's ``__getitem__``), i.e. every training epoch; our augment
  stage precomputes ``augment.copies`` fixed copies per utterance (``sdd.augment.precompute``), so
  training sees at most that many RawBoost variants of each utterance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.fft as sp_fft
from scipy.signal import freqz

from sdd.augment.waveform import check_wave, l2_norm, numpy_io, peak_normalise

__all__ = [
    "RawBoostRNG",
    "isd_additive_noise",
    "lnl_convolutive_noise",
    "notch_filter_coeffs",
    "rawboost",
    "ssi_additive_noise",
]


#: What the RawBoost functions accept as ``rng``: only ``random``, ``standard_normal`` and
#: ``permutation`` are called, which both classes provide.
RawBoostRNG = np.random.Generator | np.random.RandomState


def _uniform(rng: RawBoostRNG, low: float, high: float) -> float:
    """low + (high - low) * U[0, 1): numpy's legacy ``uniform`` rule, which RawBoost relies on for
    its gain range U(-5, -20) with low > high (``Generator.uniform`` refuses that). With a
    ``RandomState`` it is bit for bit ``RandomState.uniform(low, high)`` (legacy ``uniform`` computes
    exactly ``low + (high - low) * random_sample()`` from the same stream)."""
    return float(low + (high - low) * rng.random())


def _out_dtype(wave: np.ndarray) -> type[np.floating]:
    """float64 for float64 input (so results can be compared with the authors' float64 code at
    rounding level), float32 otherwise."""
    return np.float64 if wave.dtype == np.float64 else np.float32


def _firwin_bandstop(numtaps: int, f1: float, f2: float, fs: float) -> np.ndarray:
    """``scipy.signal.firwin(numtaps, [f1, f2], window="hamming", fs=fs)``: with firwin's default
    ``pass_zero=True`` and two cutoffs, a band-STOP (notch) filter on [f1, f2] Hz.

    Written out as firwin computes it, because firwin's argument checking costs more than the filter
    itself: the windowed-sinc ideal band-stop lowpass(f1) + allpass - lowpass(f2), times a symmetric
    Hamming window (``np.hamming``), scaled so that the taps sum to 1 (unit gain at DC, firwin's
    scaling when the first pass band starts at 0). ``numtaps`` must be odd (a filter passing
    Nyquist needs an odd length; firwin raises too). Tests compare it with firwin.
    """
    if numtaps % 2 == 0:
        raise ValueError(f"a band-stop FIR filter needs an odd number of taps; got {numtaps}")
    nyq = 0.5 * fs
    lo, hi = f1 / nyq, f2 / nyq
    m = np.arange(numtaps, dtype=np.float64) - 0.5 * (numtaps - 1)
    h = lo * np.sinc(lo * m)  # pass band [0, lo]
    h += np.sinc(m)  # pass band [hi, 1]: allpass ...
    h -= hi * np.sinc(hi * m)  # ... minus lowpass(hi)
    h *= np.hamming(numtaps)
    h /= np.sum(h)
    return h


def notch_filter_coeffs(
    rng: RawBoostRNG,
    sample_rate: int,
    n_bands: int = 5,
    min_f: float = 20.0,
    max_f: float = 8000.0,
    min_bw: float = 100.0,
    max_bw: float = 1000.0,
    min_coeff: int = 10,
    max_coeff: int = 100,
    min_g: float = 0.0,
    max_g: float = 0.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """RawBoost ``genNotchCoeffs`` (Tak et al., ICASSP 2022): a cascade of ``n_bands`` random
    band-stop (notch) FIR filters.

    Per band: centre fc ~ U(min_f, max_f) Hz, bandwidth bw ~ U(min_bw, max_bw) Hz, taps
    c = int(U(min_coeff, max_coeff)), plus 1 when even; f1 = fc - bw/2 (set to 1/1000 Hz when
    f1 <= 0), f2 = fc + bw/2 (set to fs/2 - 1/1000 Hz when f2 >= fs/2); the band's filter is
    ``firwin(c, [f1, f2], window='hamming', fs=fs)``, which with firwin's default
    ``pass_zero=True`` stops [f1, f2] and passes the rest, with unit gain at DC (see
    :func:`_firwin_bandstop`). The cascade (the convolution of the bands' taps) is scaled to a peak
    magnitude of 10^(G/20), G ~ U(min_g, max_g) dB, the peak taken over ``freqz``'s 512
    frequencies in [0, fs/2). Draws, in the authors' order: fc, bw, c per band, then G.

    Args:
        rng: a ``np.random.Generator`` or ``np.random.RandomState``; with
            ``np.random.RandomState(s)`` the taps equal the authors' ``genNotchCoeffs`` after
            ``np.random.seed(s)`` (to ~1e-15).

    Returns:
        ``(b, drawn)``: taps (L,) with L = sum(c) - n_bands + 1, and the drawn values.
    """
    fcs, bws, cs = [], [], []
    b = np.ones(1)
    for _ in range(n_bands):
        fc = _uniform(rng, min_f, max_f)
        bw = _uniform(rng, min_bw, max_bw)
        c = int(_uniform(rng, min_coeff, max_coeff))
        if c % 2 == 0:
            c += 1
        f1 = fc - bw / 2.0
        f2 = fc + bw / 2.0
        if f1 <= 0:
            f1 = 1 / 1000
        if f2 >= sample_rate / 2:
            f2 = sample_rate / 2 - 1 / 1000
        if not f1 < f2:  # firwin would refuse the decreasing cutoffs
            raise ValueError(
                f"band [{f1:.1f}, {f2:.1f}] Hz is empty at sample rate {sample_rate}; "
                f"expected max_f <= sample_rate/2 and bandwidths > 0"
            )
        b = np.convolve(_firwin_bandstop(c, f1, f2, sample_rate), b)
        fcs.append(fc)
        bws.append(bw)
        cs.append(c)
    g = _uniform(rng, min_g, max_g)
    if b.shape[0] <= 1024:  # freqz's own FFT path: 512 points on [0, fs/2)
        peak = float(np.max(np.abs(sp_fft.rfft(b, 1024)[:512])))
    else:
        peak = float(np.max(np.abs(freqz(b, 1, worN=512)[1])))
    b = (10.0 ** (g / 20.0)) * b / peak
    return b, {"fc_hz": fcs, "bw_hz": bws, "coeffs": cs, "gain_db": g}


def _ola_filter_sum(xs: Sequence[np.ndarray], taps: Sequence[np.ndarray]) -> np.ndarray:
    """sum_i filterFIR(xs[i], taps[i]) by batched overlap-add FFT convolution.

    RawBoost's ``filterFIR`` returns samples [s, s + T) of the full convolution, s = int((L+1)/2).
    Each filter is delayed by (S - s_i) zeros, S = max s_i, so all branches share one output offset;
    the branches are summed in the frequency domain and inverted once per block.

    Args:
        xs: signals, each (T,).
        taps: FIR filters, each (L_i,).

    Returns:
        (T,) float64.
    """
    t = xs[0].shape[0]
    shifts = [(b.shape[0] + 1) // 2 for b in taps]
    big_s = max(shifts)
    taps = [np.concatenate([np.zeros(big_s - s), b]) for s, b in zip(shifts, taps, strict=True)]
    n_taps = max(b.shape[0] for b in taps)
    nfft = 4096 if n_taps <= 1024 else sp_fft.next_fast_len(4 * n_taps, real=True)
    hop = nfft - n_taps + 1  # >= n_taps - 1, so a block's tail only reaches the next block
    n_blocks = -(-(t + big_s) // hop)
    blocks = np.zeros((len(xs), n_blocks, nfft))  # (branch, block, nfft): zero-padded hops
    for i, x in enumerate(xs):
        seg = np.zeros(n_blocks * hop)
        seg[:t] = x
        blocks[i, :, :hop] = seg.reshape(n_blocks, hop)
    filt = sp_fft.rfft(np.stack([np.pad(b, (0, nfft - b.shape[0])) for b in taps]), axis=-1)  # (branch, bins)
    xf = sp_fft.rfft(blocks, axis=-1)  # (branch, block, bins)
    spec = xf[0] * filt[0]  # (block, bins), summed over branches below
    for i in range(1, len(xs)):
        spec += xf[i] * filt[i]
    yb = sp_fft.irfft(spec, nfft, axis=-1)  # (block, nfft): each block's full convolution
    out = np.zeros((n_blocks + 1) * hop)
    out[: n_blocks * hop] = yb[:, :hop].reshape(-1)
    out[hop:].reshape(n_blocks, hop)[:, : nfft - hop] += yb[:, hop:]
    return out[big_s : big_s + t]


def _filter_fir(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RawBoost ``filterFIR``: samples [int((L+1)/2), ... + T) of the full convolution (the
    authors pad x with L+1 zeros, ``lfilter`` and slice; we use FFT overlap-add)."""
    return _ola_filter_sum([x], [b])


_FILTER_KEYS = ("n_bands", "min_f", "max_f", "min_bw", "max_bw", "min_coeff", "max_coeff")


@numpy_io
def lnl_convolutive_noise(
    wave: np.ndarray,
    rng: RawBoostRNG,
    sample_rate: int,
    n_f: int = 5,
    n_bands: int = 5,
    min_f: float = 20.0,
    max_f: float = 8000.0,
    min_bw: float = 100.0,
    max_bw: float = 1000.0,
    min_coeff: int = 10,
    max_coeff: int = 100,
    min_g: float = 0.0,
    max_g: float = 0.0,
    min_bias_lin_nonlin: float = 5.0,
    max_bias_lin_nonlin: float = 20.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """RawBoost algo 1, linear and non-linear convolutive noise: the authors'
    ``LnL_convolutive_noise`` (Tak et al., ICASSP 2022) with the published defaults.

    y = sum_{i=1..n_f} filterFIR(x^i, b_i) with a fresh :func:`notch_filter_coeffs` cascade b_i per
    term, drawn in branch order; the first (linear) term's gain is U(min_g, max_g) dB, the
    higher-order terms' U(min_g - min_bias_lin_nonlin, max_g - max_bias_lin_nonlin) dB (default
    U(-5, -20), i.e. between -20 and -5 dB). Then the mean is removed and the result divided by its
    peak if that exceeds 1 (``normWav(y, 0)``). Difference from the authors' code: the branches are
    filtered by batched FFT overlap-add and summed in the frequency domain (one inverse FFT) instead
    of ``lfilter`` per branch, and x^i is computed in float64 (theirs in the input's dtype);
    rounding-level differences only.

    Args:
        wave: (T,) float waveform.
        rng: ``np.random.Generator`` or ``np.random.RandomState``, source of every random draw.
        sample_rate: Hz.

    Returns:
        ``(y, drawn)``: y (T,) float64 for float64 input, else float32; ``drawn["filters"]`` lists
        each branch's fc/bw/coeffs/gain.
    """
    check_wave(wave)
    x = wave.astype(np.float64)
    taps, drawn = [], []
    g_lo, g_hi = min_g, max_g
    for i in range(n_f):
        if i == 1:
            g_lo, g_hi = min_g - min_bias_lin_nonlin, max_g - max_bias_lin_nonlin
        b, d = notch_filter_coeffs(
            rng, sample_rate, n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, g_lo, g_hi
        )
        taps.append(b)
        drawn.append(d)
    powers = [x]
    for _ in range(1, n_f):
        powers.append(powers[-1] * x)  # x^(i+1)
    y = _ola_filter_sum(powers, taps)
    y = peak_normalise(y - np.mean(y))
    return y.astype(_out_dtype(wave)), {"filters": drawn}


@numpy_io
def isd_additive_noise(
    wave: np.ndarray, rng: RawBoostRNG, p: float = 10.0, g_sd: float = 2.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """RawBoost algo 2, impulsive signal-dependent noise: the authors' ``ISD_additive_noise``
    (Tak et al., ICASSP 2022) with the published defaults P=10, g_sd=2.

    beta ~ U(0, P) percent; the first n = int(T * beta / 100) indices of ``rng.permutation(T)``
    (a uniform random subset, drawn exactly as the authors draw it) get x + g_sd * x * f with
    f = (2 u1 - 1)(2 u2 - 1), u1 then u2 ~ U(0, 1) (``random(n)`` each); then divided by the peak if
    it exceeds 1. Draw order: beta, permutation, u1, u2.

    Args:
        rng: ``np.random.Generator`` or ``np.random.RandomState``.

    Returns:
        ``(y, {"beta_pct": beta, "n_samples": n})``, y (T,) float64 for float64 input, else float32.
    """
    check_wave(wave)
    x = wave.astype(np.float64)
    beta = _uniform(rng, 0.0, p)
    n = int(x.shape[0] * (beta / 100.0))
    idx = rng.permutation(x.shape[0])[:n]
    f_r = (2.0 * rng.random(n) - 1.0) * (2.0 * rng.random(n) - 1.0)
    y = x.copy()
    y[idx] = x[idx] + g_sd * x[idx] * f_r
    return peak_normalise(y).astype(_out_dtype(wave)), {"beta_pct": beta, "n_samples": n}


@numpy_io
def ssi_additive_noise(
    wave: np.ndarray,
    rng: RawBoostRNG,
    sample_rate: int,
    snr_min: float = 10.0,
    snr_max: float = 40.0,
    n_bands: int = 5,
    min_f: float = 20.0,
    max_f: float = 8000.0,
    min_bw: float = 100.0,
    max_bw: float = 1000.0,
    min_coeff: int = 10,
    max_coeff: int = 100,
    min_g: float = 0.0,
    max_g: float = 0.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """RawBoost algo 3, stationary signal-independent (coloured) noise: the authors'
    ``SSI_additive_noise`` (Tak et al., ICASSP 2022) with the published defaults (SNR 10-40 dB).

    White Gaussian noise (``standard_normal(T)``, the authors' ``normal(0, 1, T)``) is filtered
    with a :func:`notch_filter_coeffs` cascade, SNR ~ U(snr_min, snr_max) dB is drawn, and the noise
    is scaled so that 10 log10(||x||^2 / ||noise||^2) equals the drawn SNR, then added. Draw order as
    the authors': noise, filter, SNR. Not normalised (as published; our policies normalise their
    final output, see the module docstring). Differences from the authors' code: FFT overlap-add
    instead of ``lfilter``, and their ``normWav(noise, 1)`` before the SNR scaling is skipped (a
    scale-invariant step); rounding-level differences only. A silent filtered noise adds nothing.

    Args:
        rng: ``np.random.Generator`` or ``np.random.RandomState``.

    Returns:
        ``(y, drawn)`` with the filter draws and ``snr_db``; y (T,) float64 for float64 input, else
        float32.
    """
    check_wave(wave)
    x = wave.astype(np.float64)
    noise = rng.standard_normal(x.shape[0])
    b, d = notch_filter_coeffs(
        rng, sample_rate, n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, min_g, max_g
    )
    noise = _filter_fir(noise, b)
    snr = _uniform(rng, snr_min, snr_max)
    nn, nx = l2_norm(noise), l2_norm(x)
    if nn > 0.0:
        x = x + noise * (nx / (nn * 10.0 ** (0.05 * snr)))
    return x.astype(_out_dtype(wave)), {**d, "snr_db": snr}


_RAWBOOST_SERIES: dict[int, tuple[str, ...]] = {
    1: ("lnl",),
    2: ("isd",),
    3: ("ssi",),
    4: ("lnl", "isd", "ssi"),
    5: ("lnl", "isd"),
    6: ("lnl", "ssi"),
    7: ("isd", "ssi"),
}


@numpy_io
def rawboost(
    wave: np.ndarray, rng: RawBoostRNG, sample_rate: int, algo: int, **overrides: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """RawBoost algos 1-8 as the authors' ``process_Rawboost_feature`` (Tak et al., ICASSP 2022),
    with published defaults; ``overrides`` are keyword arguments of the three primitives (each
    primitive takes the ones it knows: e.g. ``snr_min`` goes to SSI only, the filter keys to LnL and
    SSI).

    1, 2, 3 alone; 4 = 1 -> 2 -> 3; 5 = 1 -> 2; 6 = 1 -> 3; 7 = 2 -> 3;
    8 = normWav(1(x) + 2(x), 0) (LnL drawn first, then ISD, both on x). No final normalisation
    beyond the authors' (the policies add one, see the module docstring).

    Args:
        rng: ``np.random.Generator`` or ``np.random.RandomState``; with ``RandomState(s)`` the
            output equals the authors' after ``np.random.seed(s)`` (float64 input, ~1e-15).

    Returns:
        ``(y, drawn)``; y float64 for float64 input, else float32 (rounded after every step).
    """
    lnl_keys = set(_FILTER_KEYS) | {"n_f", "min_g", "max_g", "min_bias_lin_nonlin", "max_bias_lin_nonlin"}
    ssi_keys = set(_FILTER_KEYS) | {"snr_min", "snr_max", "min_g", "max_g"}
    unknown = set(overrides) - lnl_keys - ssi_keys - {"p", "g_sd"}
    if unknown:
        raise ValueError(f"rawboost: unknown parameter(s) {sorted(unknown)}")
    def pick(keys: set[str]) -> dict[str, Any]:
        return {k: v for k, v in overrides.items() if k in keys}

    steps: dict[str, Callable[[np.ndarray], tuple[np.ndarray, dict[str, Any]]]] = {
        "lnl": lambda w: lnl_convolutive_noise(w, rng, sample_rate, **pick(lnl_keys)),
        "isd": lambda w: isd_additive_noise(w, rng, **pick({"p", "g_sd"})),
        "ssi": lambda w: ssi_additive_noise(w, rng, sample_rate, **pick(ssi_keys)),
    }
    if algo == 8:
        y1, d1 = steps["lnl"](wave)
        y2, d2 = steps["isd"](wave)
        y = peak_normalise(y1.astype(np.float64) + y2)
        return y.astype(_out_dtype(wave)), {"lnl": d1, "isd": d2}
    if algo not in _RAWBOOST_SERIES:
        raise ValueError(f"rawboost: algo {algo!r} is not one of 1..8")
    drawn = {}
    y = wave
    for name in _RAWBOOST_SERIES[algo]:
        y, drawn[name] = steps[name](y)
    return np.asarray(y, dtype=_out_dtype(wave)), drawn

