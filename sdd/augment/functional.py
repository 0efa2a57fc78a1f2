"""Pure augmentation functions other than RawBoost: levels and SNR, additive noise (coloured,
babble, excerpts), reverberation (synthetic and measured RIRs), the channel (mu-law, A-law, telephone
band, packet loss), lossy codec round trips, gain and speed.

Waveform in, waveform out, random generator and sample rate explicit. Every function takes a mono
waveform of shape (T,) (a numpy array, or a torch tensor, which comes back as a tensor of the same
dtype and device; :mod:`sdd.augment.waveform`) and never touches numpy's global random state:
randomness comes from the ``np.random.Generator`` passed in. Functions that draw random parameters
return ``(wave, drawn)`` where ``drawn`` is a JSON-serialisable dict of exactly what was drawn;
deterministic functions return the wave alone. RawBoost lives in :mod:`sdd.augment.rawboost`, the
codec table and libsndfile's support in :mod:`sdd.augment.codecs`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.fft as sp_fft
import soundfile as sf
from scipy.signal import butter, resample, resample_poly, sosfiltfilt

from sdd.augment.codecs import CODECS, codec_support
from sdd.augment.waveform import check_wave, l2_norm, numpy_io

__all__ = [
    "add_noise_at_snr",
    "alaw",
    "apply_rir",
    "babble_noise",
    "codec_roundtrip",
    "coloured_noise",
    "gain",
    "mulaw",
    "packet_loss",
    "snr_db",
    "speed",
    "synthetic_rir",
    "telephone_band",
    "tile_to_length",
]


def _rfft_len(n: int) -> int:
    """The FFT length scipy computes fastest among those >= n (real input)."""
    return sp_fft.next_fast_len(n, real=True)


# --------------------------------------------------------------------------------------------------
# levels (peak normalisation: sdd.augment.waveform.peak_normalise)


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """10 log10(||clean||^2 / ||noise||^2) in dB (inf for zero noise)."""
    pn = float(np.sum(np.asarray(noise, dtype=np.float64) ** 2))
    ps = float(np.sum(np.asarray(clean, dtype=np.float64) ** 2))
    if pn == 0.0:
        return math.inf
    if ps == 0.0:
        return -math.inf
    return 10.0 * math.log10(ps / pn)


@numpy_io
def add_noise_at_snr(wave: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """Add ``noise`` (T,) scaled so that 10 log10(||wave||^2/||scaled noise||^2) = ``snr`` dB.

    A silent wave or silent noise adds nothing (the SNR is undefined there).
    """
    check_wave(wave)
    if noise.shape != wave.shape:
        raise ValueError(f"noise shape {noise.shape} differs from wave shape {wave.shape}")
    x = wave.astype(np.float64, copy=False)
    n = noise.astype(np.float64, copy=False)
    nx, nn = l2_norm(x), l2_norm(n)
    if nx == 0.0 or nn == 0.0:
        return wave.astype(np.float32)
    return (x + n * (nx / (nn * 10.0 ** (snr / 20.0)))).astype(np.float32)


@numpy_io
def gain(wave: np.ndarray, gain_db: float) -> np.ndarray:
    """Multiply by 10^(gain_db/20)."""
    return (wave * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


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


@numpy_io
def apply_rir(wave: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir`` (FFT convolution), aligned on the RIR's peak (the direct path) so the
    speech does not move, trimmed to the input length and rescaled to the input's RMS level."""
    check_wave(wave)
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


@numpy_io
def mulaw(wave: np.ndarray, mu: int = 255, bits: int = 8) -> np.ndarray:
    """mu-law companding, ``bits``-bit quantisation and expansion (ITU-T G.711, 1988). We differ
    from G.711's segmented 13-bit table by using the continuous companding curve with uniform
    quantisation of the companded value (as torchaudio's ``mu_law_encoding``); the quantisation
    noise is the same to within a fraction of a dB. Input is clipped to [-1, 1] first."""
    x = np.clip(wave.astype(np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)
    q = _quantise(y, bits)
    return (np.sign(q) * np.expm1(np.abs(q) * math.log1p(mu)) / mu).astype(np.float32)


@numpy_io
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


@numpy_io
def telephone_band(
    wave: np.ndarray, sample_rate: int, low_hz: float = 300.0, high_hz: float = 3400.0, order: int = 4
) -> np.ndarray:
    """Narrow-band telephone channel: resample to 8 kHz, zero-phase Butterworth band-pass
    [low_hz, high_hz] of the given order (the 300-3400 Hz voice band of ITU-T G.712), resample back;
    same length as the input."""
    check_wave(wave)
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


_MAX_LEVEL = {"mp3": 0.999}


def _align_delay(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> int:
    """The lag (samples, decoded later than reference when > 0) maximising their cross-correlation."""
    n = min(reference.shape[0], decoded.shape[0])
    nfft = _rfft_len(n + 2 * max_lag + 1)
    xc = sp_fft.irfft(sp_fft.rfft(decoded[:n], nfft) * np.conj(sp_fft.rfft(reference[:n], nfft)), nfft)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[nfft - max_lag :]])
    return int(lags[int(np.argmax(vals))])


@numpy_io
def codec_roundtrip(
    wave: np.ndarray, sample_rate: int, codec: str, compression_level: float = 0.5, max_delay_s: float = 0.1
) -> tuple[np.ndarray, dict[str, Any]]:
    """Encode and decode through libsndfile (``codec`` one of :data:`sdd.augment.codecs.CODECS`), in
    memory: the kind of channel ASVspoof 2021 LA/DF evaluates (Liu et al., "ASVspoof 2021: Towards
    Spoofed and Deepfake Speech Detection in the Wild", IEEE/ACM TASLP 2023).

    Rates the encoder does not accept are resampled to 48 kHz (Opus) or 16 kHz and back. The
    encoder/decoder delay is measured by cross-correlation (within ``max_delay_s``) and removed; the
    result is then trimmed or zero-padded to exactly the input length. ``compression_level`` is
    libsndfile's scale (0 = highest bit rate, 1 = lowest); for MP3 it is capped at 0.999 because
    libsndfile 1.2.2 rejects exactly 1.0 (the value used is returned).

    Returns:
        ``(y, {"delay_samples": lag, "level_used": level})``, y (T,) float32.

    Raises:
        RuntimeError: this libsndfile cannot encode ``codec``
            (see :func:`sdd.augment.codecs.codec_support`).
    """
    check_wave(wave)
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


@numpy_io
def packet_loss(
    wave: np.ndarray, rng: np.random.Generator, sample_rate: int, loss_rate: float, frame_ms: float = 20.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Zero each ``frame_ms`` frame independently with probability ``loss_rate``: Bernoulli
    (memoryless) packet loss without concealment, the simplest VoIP loss model (no Gilbert-Elliott
    bursts). Returns ``(y, {"frames_lost": k, "frames": n})``."""
    check_wave(wave)
    frame = max(1, int(round(frame_ms * sample_rate / 1000.0)))
    n = -(-wave.shape[0] // frame)
    lost = rng.random(n) < loss_rate
    mask = np.repeat(~lost, frame)[: wave.shape[0]]
    return (wave * mask).astype(np.float32), {"frames_lost": int(lost.sum()), "frames": int(n)}


@numpy_io
def speed(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (pitch changes with tempo, like sox ``speed``; the speed
    perturbation of Ko, Peddinti, Povey, Khudanpur, "Audio Augmentation for Speech Recognition",
    Interspeech 2015): FFT resampling to exactly round(T / factor) samples."""
    check_wave(wave)
    if factor <= 0:
        raise ValueError(f"speed factor {factor}; expected > 0")
    n = max(1, int(round(wave.shape[0] / factor)))
    return resample(wave.astype(np.float64), n).astype(np.float32)
