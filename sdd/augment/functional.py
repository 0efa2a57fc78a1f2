"""Pure augmentation functions: waveform in, waveform out, random generator and sample rate explicit.

Every function takes a mono waveform of shape (T,) (a numpy array, or a torch tensor, which comes back
as a tensor of the same dtype and device) and never touches numpy's global random state: randomness
comes from the generator passed in (a ``np.random.Generator``; the RawBoost functions also accept a
legacy ``np.random.RandomState``). Functions that draw random parameters return ``(wave, drawn)``
where ``drawn`` is a JSON-serialisable dict of exactly what was drawn; deterministic functions
return the wave alone.

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

import functools
import io
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.fft as sp_fft
import soundfile as sf
from scipy.signal import butter, freqz, resample, resample_poly, sosfiltfilt

log = logging.getLogger(__name__)

__all__ = [
    "CODECS",
    "RawBoostRNG",
    "add_noise_at_snr",
    "alaw",
    "apply_rir",
    "babble_noise",
    "codec_roundtrip",
    "codec_support",
    "coloured_noise",
    "gain",
    "isd_additive_noise",
    "lnl_convolutive_noise",
    "mulaw",
    "notch_filter_coeffs",
    "packet_loss",
    "peak_normalise",
    "rawboost",
    "snr_db",
    "speed",
    "ssi_additive_noise",
    "synthetic_rir",
    "telephone_band",
    "tile_to_length",
]


# --------------------------------------------------------------------------------------------------
# numpy / torch interop


def _numpy_io(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``fn`` (written for numpy) accept a torch tensor as first argument and return one back."""

    @functools.wraps(fn)
    def wrapper(wave: Any, *args: Any, **kwargs: Any) -> Any:
        if type(wave).__module__.split(".")[0] != "torch":
            return fn(np.asarray(wave), *args, **kwargs)
        import torch  # lazily: numpy callers never pay for it

        out = fn(wave.detach().cpu().numpy(), *args, **kwargs)
        if isinstance(out, tuple):
            return (torch.as_tensor(out[0], dtype=wave.dtype, device=wave.device), *out[1:])
        return torch.as_tensor(out, dtype=wave.dtype, device=wave.device)

    return wrapper


def _check_wave(wave: np.ndarray) -> None:
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape (T,); got shape {wave.shape}")
    if wave.shape[0] == 0:
        raise ValueError("expected a non-empty waveform; got 0 samples")


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


def _l2(x: np.ndarray) -> float:
    """Euclidean norm without BLAS (``np.linalg.norm`` calls ddot, whose thread pool costs more
    than the sum on short signals)."""
    return math.sqrt(float(np.sum(np.square(x, dtype=np.float64))))


def _rfft_len(n: int) -> int:
    return sp_fft.next_fast_len(n, real=True)


# --------------------------------------------------------------------------------------------------
# levels


@_numpy_io
def peak_normalise(wave: np.ndarray, always: bool = False) -> np.ndarray:
    """RawBoost's ``normWav``: divide by the peak when it exceeds 1 (or always when ``always``).

    A silent input is returned unchanged (the original would divide by zero).
    """
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > 0.0 and (always or peak > 1.0):
        return wave / peak
    return wave


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """10 log10(||clean||^2 / ||noise||^2) in dB (inf for zero noise)."""
    pn = float(np.sum(np.asarray(noise, dtype=np.float64) ** 2))
    ps = float(np.sum(np.asarray(clean, dtype=np.float64) ** 2))
    if pn == 0.0:
        return math.inf
    if ps == 0.0:
        return -math.inf
    return 10.0 * math.log10(ps / pn)


@_numpy_io
def add_noise_at_snr(wave: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """Add ``noise`` (T,) scaled so that 10 log10(||wave||^2/||scaled noise||^2) = ``snr`` dB.

    A silent wave or silent noise adds nothing (the SNR is undefined there).
    """
    _check_wave(wave)
    if noise.shape != wave.shape:
        raise ValueError(f"noise shape {noise.shape} differs from wave shape {wave.shape}")
    x = wave.astype(np.float64, copy=False)
    n = noise.astype(np.float64, copy=False)
    nx, nn = _l2(x), _l2(n)
    if nx == 0.0 or nn == 0.0:
        return wave.astype(np.float32)
    return (x + n * (nx / (nn * 10.0 ** (snr / 20.0)))).astype(np.float32)


@_numpy_io
def gain(wave: np.ndarray, gain_db: float) -> np.ndarray:
    """Multiply by 10^(gain_db/20)."""
    return (wave * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# RawBoost (Tak et al., ICASSP 2022)


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
    nfft = 4096 if n_taps <= 1024 else _rfft_len(4 * n_taps)
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


@_numpy_io
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
    _check_wave(wave)
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


@_numpy_io
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
    _check_wave(wave)
    x = wave.astype(np.float64)
    beta = _uniform(rng, 0.0, p)
    n = int(x.shape[0] * (beta / 100.0))
    idx = rng.permutation(x.shape[0])[:n]
    f_r = (2.0 * rng.random(n) - 1.0) * (2.0 * rng.random(n) - 1.0)
    y = x.copy()
    y[idx] = x[idx] + g_sd * x[idx] * f_r
    return peak_normalise(y).astype(_out_dtype(wave)), {"beta_pct": beta, "n_samples": n}


@_numpy_io
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
    _check_wave(wave)
    x = wave.astype(np.float64)
    noise = rng.standard_normal(x.shape[0])
    b, d = notch_filter_coeffs(
        rng, sample_rate, n_bands, min_f, max_f, min_bw, max_bw, min_coeff, max_coeff, min_g, max_g
    )
    noise = _filter_fir(noise, b)
    snr = _uniform(rng, snr_min, snr_max)
    nn, nx = _l2(noise), _l2(x)
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


@_numpy_io
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


# --------------------------------------------------------------------------------------------------
# additive noise


def tile_to_length(wave: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A (length,) excerpt of ``wave`` starting at a random offset, wrapping around (tiling) as needed."""
    if wave.shape[0] == 0:
        raise ValueError("cannot tile an empty waveform")
    start = int(rng.integers(0, wave.shape[0]))
    idx = (start + np.arange(length)) % wave.shape[0]
    return wave[idx]


_COLOUR_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def coloured_noise(length: int, rng: np.random.Generator, colour: str = "white") -> np.ndarray:
    """Gaussian noise (length,) with power spectral density proportional to 1/f^alpha.

    alpha = 0 (white), 1 (pink), 2 (brown); shaped in the frequency domain (the spectral-shaping
    method of Timmer & Koenig, "On generating power law noise", A&A 300, 1995, with Gaussian
    amplitudes rather than Rayleigh-distributed ones), DC removed, unit RMS.
    """
    if colour not in _COLOUR_EXPONENT:
        raise ValueError(f"noise colour {colour!r}; expected one of {sorted(_COLOUR_EXPONENT)}")
    white = rng.standard_normal(length)
    alpha = _COLOUR_EXPONENT[colour]
    if alpha > 0.0:
        nfft = _rfft_len(length)
        spec = sp_fft.rfft(white, nfft)
        f = np.arange(spec.shape[0], dtype=np.float64)
        f[0] = 1.0
        spec *= f ** (-alpha / 2.0)
        spec[0] = 0.0
        white = sp_fft.irfft(spec, nfft)[:length]
    white = white - white.mean()
    rms = float(np.sqrt(np.mean(white**2)))
    return white / rms if rms > 0 else white


def babble_noise(sources: Sequence[np.ndarray], length: int, rng: np.random.Generator) -> np.ndarray:
    """Babble: the sum of ``sources`` (other utterances), each at a random offset, tiled to
    ``length`` and scaled to unit RMS before summing. Returns (length,) float64.

    Like MUSAN's babble (Snyder, Chen, Povey, "MUSAN: A Music, Speech, and Noise Corpus",
    arXiv 1510.08484, 2015: 3-7 summed speakers), but the talkers come from the corpus itself."""
    out = np.zeros(length)
    for src in sources:
        seg = tile_to_length(np.asarray(src, dtype=np.float64), length, rng)
        rms = float(np.sqrt(np.mean(seg**2)))
        if rms > 0:
            out += seg / rms
    return out


# --------------------------------------------------------------------------------------------------
# reverberation


def synthetic_rir(rng: np.random.Generator, sample_rate: int, rt60_s: float, drr_db: float) -> np.ndarray:
    """A synthetic room impulse response (Polack's statistical model: J.-D. Polack, "Playing billiards
    in the concert hall", Applied Acoustics 38, 1993; exponentially decaying Gaussian noise, no image
    sources or early reflections, a deliberate simplification): a unit direct path at t=0
    followed by Gaussian noise under an exponential envelope decaying 60 dB in ``rt60_s`` seconds,
    scaled so that the direct-to-reverberant energy ratio is ``drr_db``. Length 1.2 * RT60 (>= 10 ms).

    Returns:
        (L,) float64 impulse response.
    """
    if rt60_s <= 0:
        raise ValueError(f"rt60_s={rt60_s}; expected > 0")
    n = max(int(1.2 * rt60_s * sample_rate), int(0.01 * sample_rate))
    t = np.arange(1, n) / sample_rate
    tail = rng.standard_normal(n - 1) * 10.0 ** (-3.0 * t / rt60_s)
    tail *= math.sqrt(10.0 ** (-drr_db / 10.0) / float(np.sum(tail**2)))
    return np.concatenate([[1.0], tail])


@_numpy_io
def apply_rir(wave: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir`` (FFT convolution), aligned on the RIR's peak (the direct path) so the
    speech does not move, trimmed to the input length and rescaled to the input's RMS level."""
    _check_wave(wave)
    x = wave.astype(np.float64)
    d = int(np.argmax(np.abs(rir)))
    nfft = _rfft_len(x.shape[0] + rir.shape[0])
    y = sp_fft.irfft(sp_fft.rfft(x, nfft) * sp_fft.rfft(rir, nfft), nfft)[d : d + x.shape[0]]
    ry, rx = float(np.sqrt(np.mean(y**2))), float(np.sqrt(np.mean(x**2)))
    if ry > 0:
        y *= rx / ry
    return y.astype(np.float32)


# --------------------------------------------------------------------------------------------------
# channel and codecs


@_numpy_io
def mulaw(wave: np.ndarray, mu: int = 255, bits: int = 8) -> np.ndarray:
    """mu-law companding, ``bits``-bit quantisation and expansion (ITU-T G.711, 1988). We differ
    from G.711's segmented 13-bit table by using the continuous companding curve with uniform
    quantisation of the companded value (as torchaudio's ``mu_law_encoding``); the quantisation
    noise is the same to within a fraction of a dB. Input is clipped to [-1, 1] first."""
    x = np.clip(wave.astype(np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)
    q = _quantise(y, bits)
    return (np.sign(q) * np.expm1(np.abs(q) * math.log1p(mu)) / mu).astype(np.float32)


@_numpy_io
def alaw(wave: np.ndarray, a: float = 87.6, bits: int = 8) -> np.ndarray:
    """A-law companding (ITU-T G.711 curve, A = 87.6), ``bits``-bit quantisation and expansion;
    continuous curve with uniform quantisation of the companded value, as :func:`mulaw`."""
    x = np.clip(wave.astype(np.float64), -1.0, 1.0)
    ax = np.abs(x)
    k = 1.0 + math.log(a)
    y = np.where(ax < 1.0 / a, a * ax / k, (1.0 + np.log(np.maximum(a * ax, 1e-300))) / k) * np.sign(x)
    q = _quantise(y, bits)
    aq = np.abs(q)
    xr = np.where(aq < 1.0 / k, aq * k / a, np.exp(aq * k - 1.0) / a)
    return (np.sign(q) * xr).astype(np.float32)


def _quantise(y: np.ndarray, bits: int) -> np.ndarray:
    """Uniform quantisation of [-1, 1] to 2^bits levels (mid-rise), returning the level values."""
    levels = 2**bits
    q = np.clip(np.floor((y + 1.0) / 2.0 * levels), 0, levels - 1)
    return (q + 0.5) / levels * 2.0 - 1.0


@_numpy_io
def telephone_band(
    wave: np.ndarray, sample_rate: int, low_hz: float = 300.0, high_hz: float = 3400.0, order: int = 4
) -> np.ndarray:
    """Narrow-band telephone channel: resample to 8 kHz, zero-phase Butterworth band-pass
    [low_hz, high_hz] of the given order (the 300-3400 Hz voice band of ITU-T G.712), resample back;
    same length as the input."""
    _check_wave(wave)
    if not 0 < low_hz < high_hz < 4000:
        raise ValueError(f"telephone band [{low_hz}, {high_hz}] Hz; expected 0 < low < high < 4000")
    narrow = wave.astype(np.float64)
    if sample_rate != 8000:
        narrow = resample_poly(narrow, 8000, sample_rate)
    sos = butter(order, [low_hz, high_hz], btype="bandpass", fs=8000, output="sos")
    narrow = sosfiltfilt(sos, narrow)
    back = resample_poly(narrow, sample_rate, 8000) if sample_rate != 8000 else narrow
    return _fit_length(back, wave.shape[0]).astype(np.float32)


def _fit_length(y: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (at the end) to exactly ``length`` samples."""
    if y.shape[0] >= length:
        return y[:length]
    return np.concatenate([y, np.zeros(length - y.shape[0], dtype=y.dtype)])


# format, subtype and the sample rates the encoder accepts (None: any libsndfile accepts)
CODECS: dict[str, tuple[str, str, tuple[int, ...] | None]] = {
    "mp3": ("MP3", "MPEG_LAYER_III", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "ogg_vorbis": ("OGG", "VORBIS", None),
    "opus": ("OGG", "OPUS", (8000, 12000, 16000, 24000, 48000)),
}


_MAX_LEVEL = {"mp3": 0.999}


@functools.cache
def codec_support() -> dict[str, bool]:
    """Which :data:`CODECS` this machine's libsndfile can round-trip (tried once per process)."""
    support = {}
    probe = (0.1 * np.sin(np.arange(8000) * 0.1)).astype(np.float32)
    for name, (fmt, subtype, _) in CODECS.items():
        try:
            buf = io.BytesIO()
            sf.write(buf, probe, 16000, format=fmt, subtype=subtype)
            buf.seek(0)
            ok = sf.read(buf, dtype="float32")[0].shape[0] > 0
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            log.info("codec %s not available in libsndfile %s: %s", name, sf.__libsndfile_version__, exc)
            ok = False
        support[name] = ok
    return support


def _align_delay(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> int:
    """The lag (samples, decoded later than reference when > 0) maximising their cross-correlation."""
    n = min(reference.shape[0], decoded.shape[0])
    nfft = _rfft_len(n + 2 * max_lag + 1)
    xc = sp_fft.irfft(sp_fft.rfft(decoded[:n], nfft) * np.conj(sp_fft.rfft(reference[:n], nfft)), nfft)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[nfft - max_lag :]])
    return int(lags[int(np.argmax(vals))])


@_numpy_io
def codec_roundtrip(
    wave: np.ndarray, sample_rate: int, codec: str, compression_level: float = 0.5, max_delay_s: float = 0.1
) -> tuple[np.ndarray, dict[str, Any]]:
    """Encode and decode through libsndfile (``codec`` one of :data:`CODECS`), in memory: the
    kind of channel ASVspoof 2021 LA/DF evaluates (Liu et al., "ASVspoof 2021: Towards Spoofed and
    Deepfake Speech Detection in the Wild", IEEE/ACM TASLP 2023).

    Rates the encoder does not accept are resampled to 48 kHz (Opus) or 16 kHz and back. The
    encoder/decoder delay is measured by cross-correlation (within ``max_delay_s``) and removed; the
    result is then trimmed or zero-padded to exactly the input length. ``compression_level`` is
    libsndfile's scale (0 = highest bit rate, 1 = lowest); for MP3 it is capped at 0.999 because
    libsndfile 1.2.2 rejects exactly 1.0 (the value used is returned).

    Returns:
        ``(y, {"delay_samples": lag, "level_used": level})``, y (T,) float32.

    Raises:
        RuntimeError: this libsndfile cannot encode ``codec`` (see :func:`codec_support`).
    """
    _check_wave(wave)
    if codec not in CODECS:
        raise ValueError(f"codec {codec!r}; expected one of {sorted(CODECS)}")
    if not codec_support()[codec]:
        raise RuntimeError(f"codec {codec!r} is not available in libsndfile {sf.__libsndfile_version__}")
    fmt, subtype, rates = CODECS[codec]
    work_sr = sample_rate if rates is None or sample_rate in rates else (48000 if codec == "opus" else 16000)
    x = np.clip(wave.astype(np.float64), -1.0, 1.0)
    xw = resample_poly(x, work_sr, sample_rate) if work_sr != sample_rate else x
    if not 0.0 <= compression_level <= 1.0:
        raise ValueError(f"compression_level {compression_level}; expected a value in [0, 1]")
    # libsndfile 1.2.2 refuses exactly 1.0 for MP3 (0.999 gives its lowest bit rate already)
    level = min(compression_level, _MAX_LEVEL.get(codec, 1.0))
    buf = io.BytesIO()
    sf.write(buf, xw.astype(np.float32), work_sr, format=fmt, subtype=subtype, compression_level=level)
    buf.seek(0)
    y, sr_out = sf.read(buf, dtype="float64")
    if y.ndim > 1:
        y = y.mean(axis=1)
    if sr_out != sample_rate:
        y = resample_poly(y, sample_rate, sr_out)
    lag = _align_delay(x, y, int(max_delay_s * sample_rate))
    y = y[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), y])
    return _fit_length(y, x.shape[0]).astype(np.float32), {"delay_samples": lag, "level_used": level}


@_numpy_io
def packet_loss(
    wave: np.ndarray, rng: np.random.Generator, sample_rate: int, loss_rate: float, frame_ms: float = 20.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Zero each ``frame_ms`` frame independently with probability ``loss_rate``: Bernoulli
    (memoryless) packet loss without concealment, the simplest VoIP loss model (no Gilbert-Elliott
    bursts). Returns ``(y, {"frames_lost": k, "frames": n})``."""
    _check_wave(wave)
    frame = max(1, int(round(frame_ms * sample_rate / 1000.0)))
    n = -(-wave.shape[0] // frame)
    lost = rng.random(n) < loss_rate
    mask = np.repeat(~lost, frame)[: wave.shape[0]]
    return (wave * mask).astype(np.float32), {"frames_lost": int(lost.sum()), "frames": int(n)}


@_numpy_io
def speed(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (pitch changes with tempo, like sox ``speed``; the speed
    perturbation of Ko, Peddinti, Povey, Khudanpur, "Audio Augmentation for Speech Recognition",
    Interspeech 2015): FFT resampling to exactly round(T / factor) samples."""
    _check_wave(wave)
    if factor <= 0:
        raise ValueError(f"speed factor {factor}; expected > 0")
    n = max(1, int(round(wave.shape[0] / factor)))
    return resample(wave.astype(np.float64), n).astype(np.float32)
