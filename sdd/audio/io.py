"""Audio I/O through soundfile (torchaudio's I/O needs torchcodec + FFmpeg, which we do not ship).

All audio inside sdd is mono float32 in [-1, 1] at an explicit sample rate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from sdd.core import atomic

__all__ = [
    "AudioError",
    "AudioInfo",
    "check_audio",
    "frames_for_samples",
    "mixdown",
    "polyphase_resample",
    "read_audio",
    "read_frames",
    "resample",
    "write_audio",
]


class AudioError(RuntimeError):
    """An audio file cannot be read or decoded; the message names the file."""


def resample(
    wave: np.ndarray, orig_sample_rate: int, sample_rate: int, *, prefix: bool = False
) -> np.ndarray:
    """Band-limited polyphase resampling of the last axis from ``orig_sample_rate`` to ``sample_rate`` Hz:
    ``scipy.signal.resample_poly`` with its defaults.

    ``prefix=True`` (the beginning of a file, :func:`read_audio` with ``max_samples``: what scoring
    reads) computes the same samples, bit for bit, with :func:`polyphase_resample`, which does not
    import scipy.signal (0.4 s and 66 MB of ``sdd score``'s start-up) but is 20-50x slower than scipy's
    C loop: about 10 ms on a 4 s prefix, 1 s on a minute of 44.1 kHz audio, so whole files keep scipy.
    """
    if orig_sample_rate == sample_rate:
        return wave
    g = np.gcd(int(orig_sample_rate), int(sample_rate))
    up, down = int(sample_rate) // g, int(orig_sample_rate) // g
    if prefix:
        out = polyphase_resample(wave, up, down)
    else:
        # imported here: scipy.signal takes about 0.4 s and 66 MB to import
        from scipy.signal import resample_poly

        out = resample_poly(wave, up, down, axis=-1)
    return out.astype(np.float32, copy=False)


def _lowpass(up: int, down: int) -> np.ndarray:
    """``resample_poly``'s default filter (``firwin`` with a Kaiser window, beta 5), float64: the same
    operations in the same order, so the same bits (``scipy.special.i0`` is the Bessel function
    ``scipy.signal.windows.kaiser`` uses; ``numpy.i0`` differs in the last bits)."""
    from scipy.special import i0

    max_rate = max(up, down)
    numtaps = 2 * 10 * max_rate + 1
    cutoff = 1.0 / max_rate
    m = np.arange(0, numtaps, dtype=np.float64) - 0.5 * (numtaps - 1)
    h = 0
    h += cutoff * np.sinc(cutoff * m)
    h -= 0.0 * np.sinc(0.0 * m)  # firwin's lower band edge, 0
    n = np.arange(0, numtaps, dtype=np.float64)
    alpha = (numtaps - 1) / 2.0
    h *= i0(5.0 * np.sqrt(1 - ((n - alpha) / alpha) ** 2.0)) / i0(np.asarray(5.0, dtype=np.float64))
    h /= np.sum(h * np.cos(np.pi * m * 0.0))  # unit gain at DC
    return h


def polyphase_resample(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """``scipy.signal.resample_poly(x, up, down)`` along the last axis, bit for bit, without importing
    scipy.signal (0.4 s and 66 MB of start-up for ``sdd score``; ``tests/audio/test_resample.py``
    compares the two over rates, lengths and dtypes), but 20-50x slower on long signals.

    The filter is :func:`_lowpass` in ``x``'s dtype (float32 or float64; other dtypes are computed in
    float64, as scipy does) times ``up``, zero-padded so that the output samples sit at its centre;
    each output sample is the sum over its polyphase taps, accumulated one tap at a time from the
    first input sample to the last, in ``x``'s dtype, as scipy's ``upfirdn`` loop does (zeros outside
    the signal). Only the ``ceil(n * up / down)`` samples that ``resample_poly`` keeps are computed.
    """
    up, down = int(up), int(down)
    if up < 1 or down < 1:
        raise ValueError(f"up {up}, down {down}: expected integers >= 1")
    g = np.gcd(up, down)
    up, down = up // g, down // g
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if up == down == 1:
        return x.copy()
    n_in = x.shape[-1]
    n_out = -(-n_in * up // down)
    if n_in == 0:
        return np.zeros(x.shape, x.dtype)
    half_len = 10 * max(up, down)
    h = _lowpass(up, down).astype(x.dtype)
    h *= up
    n_pre_pad = down - half_len % down
    n_pre_remove = (half_len + n_pre_pad) // down
    len_h = n_pre_pad + h.size  # scipy's zeros after the filter, if any, would add exact zeros only
    taps = np.zeros(-(-len_h // up) * up, x.dtype)
    taps[n_pre_pad:len_h] = h
    phases = taps.reshape(-1, up).T[:, ::-1]  # (up, taps per phase): each phase's taps, last first
    per_phase = phases.shape[1]
    y = np.arange(n_pre_remove, n_pre_remove + n_out)
    x_idx, phase = (y * down) // up, (y * down) % up  # the newest input sample and the phase of each
    start = x_idx - per_phase + 1  # the oldest input sample of each output
    rows = x.reshape(-1, n_in)
    right = max(int(x_idx[-1]) + 1 - n_in, 0)  # the last outputs' taps reach past the signal
    padded = np.zeros((rows.shape[0], per_phase + n_in + right), x.dtype)
    padded[:, per_phase : per_phase + n_in] = rows
    out = np.zeros((rows.shape[0], n_out), x.dtype)
    inside = x_idx < n_in  # scipy's first loop skips the taps before the signal; its last adds zeros
    for j in range(per_phase):
        k = start + j
        use = ~(inside & (k < 0))
        term = padded[:, k[use] + per_phase] * phases[phase[use], j]
        out[:, use] = out[:, use] + term
    return out.reshape(*x.shape[:-1], n_out)


def frames_for_samples(num_samples: int, orig_sample_rate: int, sample_rate: int) -> int:
    """Input frames at ``orig_sample_rate`` that determine the first ``num_samples`` samples of
    :func:`resample` to ``sample_rate``: resampling this prefix gives exactly those samples.

    ``resample_poly``'s default filter has ``10 * max(up, down)`` taps on each side in the upsampled
    domain, so output ``n`` depends on inputs up to ``(n * down + 10 max(up, down)) / up``; two frames
    of margin are added.
    """
    if orig_sample_rate == sample_rate:
        return num_samples
    g = np.gcd(int(orig_sample_rate), int(sample_rate))
    up, down = int(sample_rate) // g, int(orig_sample_rate) // g
    half_len = 10 * max(up, down)
    return -(-((num_samples - 1) * down + half_len) // up) + 3


def read_audio(
    path: str | os.PathLike[str], sample_rate: int | None = None, max_samples: int | None = None
) -> tuple[np.ndarray, int]:
    """Read a file (or only its beginning) as mono float32.

    Args:
        path: an audio file soundfile can decode (FLAC, WAV, OGG, MP3, ...), any number of channels.
        sample_rate: resample to this rate in Hz; ``None`` keeps the file's rate.
        max_samples: return at most the first ``max_samples`` samples (at the output rate), decoding
            only the frames they depend on (:func:`frames_for_samples`): memory and time stay bounded
            on long files, and the samples equal those of a whole-file read. A file damaged after
            those frames is then not noticed (:func:`check_audio` decodes everything).

    Returns:
        ``(wave, sample_rate)`` with ``wave`` of shape (T,), channels averaged.

    Raises:
        AudioError: the file is missing, damaged, empty or holds NaN/inf samples (the message names it).
    """
    wave, sr = read_frames(path, sample_rate, max_samples)
    return mixdown(wave, sr, sample_rate, max_samples)


def read_frames(
    path: str | os.PathLike[str], sample_rate: int | None = None, max_samples: int | None = None
) -> tuple[np.ndarray, int]:
    """The decoded frames ``(T, C)`` float32 at the file's own rate, before :func:`mixdown`: as far as
    the first ``max_samples`` samples at ``sample_rate`` need (all of them when ``max_samples`` is
    None). :func:`read_audio` is ``mixdown(*read_frames(...), sample_rate, max_samples)``.

    Raises:
        AudioError: as :func:`read_audio`.
    """
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            sr = int(f.samplerate)
            frames = -1
            if max_samples is not None:
                frames = frames_for_samples(max_samples, sr, sr if sample_rate is None else sample_rate)
            wave = f.read(frames, dtype="float32", always_2d=True)  # (T, C)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/OSError variants
        raise AudioError(f"{path}: cannot decode audio ({exc})") from exc
    if wave.shape[0] == 0:
        raise AudioError(f"{path}: audio has no samples")
    _check_finite(wave, path, 0)
    return wave, sr


def mixdown(
    wave: np.ndarray, sr: int, sample_rate: int | None = None, max_samples: int | None = None
) -> tuple[np.ndarray, int]:
    """Frames ``(T, C)`` at ``sr`` -> ``(mono (T',), rate)``: channels averaged, resampled to
    ``sample_rate`` (None keeps ``sr``), cut to ``max_samples``."""
    mono = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    if sample_rate is not None and sr != sample_rate:
        mono, sr = resample(mono, sr, sample_rate, prefix=max_samples is not None), sample_rate
    if max_samples is not None:
        mono = mono[:max_samples]
    return np.ascontiguousarray(mono, dtype=np.float32), int(sr)


def _check_finite(block: np.ndarray, path: str | os.PathLike[str], offset: int) -> None:
    """An :class:`AudioError` if a decoded block (T, C) holds NaN or infinite samples (float WAV/FLAC
    files can): they would turn every score and gradient computed from the file into NaN."""
    bad = ~np.isfinite(block)
    if bad.any():
        first = offset + int(np.argmax(bad.any(axis=1)))
        raise AudioError(
            f"{path}: {int(bad.sum())} non-finite samples (NaN/inf), the first at frame {first}; "
            "expected finite samples"
        )


def write_audio(
    path: str | os.PathLike[str], wave: np.ndarray, sample_rate: int, subtype: str = "PCM_16"
) -> None:
    """Write mono audio atomically (temp file in the same folder, then rename); FLAC/WAV by suffix."""
    path = Path(path)
    fmt = {".flac": "FLAC", ".wav": "WAV", ".ogg": "OGG"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported audio suffix {path.suffix!r}; expected .flac, .wav or .ogg")
    with atomic.atomic_path(path) as tmp:
        sf.write(os.fspath(tmp), np.clip(wave, -1.0, 1.0), sample_rate, subtype=subtype, format=fmt)


@dataclass(frozen=True)
class AudioInfo:
    """What a full decode of one file found.

    Attributes:
        sample_rate: the file's rate in Hz.
        channels: number of channels.
        frames: number of decoded frames per channel (samples at ``sample_rate``).
    """

    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        """Decoded duration in seconds."""
        return self.frames / self.sample_rate


def check_audio(path: str | os.PathLike[str], block_frames: int = 1 << 16) -> AudioInfo:
    """Decode a whole file block by block and report its rate, channels and decoded length.

    A header alone is not proof of a good file: a damaged FLAC can carry a valid header and fail
    half-way ("flac decoder lost sync"), so every frame is decoded. Memory stays bounded by
    ``block_frames``.

    Raises:
        AudioError: the file is missing, cannot be decoded to its end, has no samples or holds NaN/inf
            samples (the message names the file and the reason).
    """
    frames = 0
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            sample_rate, channels = int(f.samplerate), int(f.channels)
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)  # (t, C)
                if block.shape[0] == 0:
                    break
                _check_finite(block, path, frames)
                frames += block.shape[0]
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/OSError variants
        raise AudioError(f"{path}: cannot decode audio ({exc})") from exc
    if frames == 0:
        raise AudioError(f"{path}: audio has no samples")
    if sample_rate <= 0:
        raise AudioError(f"{path}: invalid sample rate {sample_rate}")
    return AudioInfo(sample_rate=sample_rate, channels=channels, frames=frames)
