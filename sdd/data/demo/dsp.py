"""Signal helpers shared by the demo's synthesis and attacks.

Centred Hann-window STFT frames and their weighted overlap-add inverse, zero-phase filtering of a
whole signal by a magnitude response, the 32 ms / 8 ms frame sizes, and moving-average smoothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft

__all__ = ["fft_sizes", "filter_full", "istft", "smooth", "stft"]


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(T,) signal -> (F, n_fft // 2 + 1) complex STFT with centred Hann frames, F = 1 + T // hop."""
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad + hop))
    n_frames = 1 + len(x) // hop
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop][:n_frames]  # (F, n_fft)
    return scipy.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Inverse of :func:`stft` by weighted overlap-add; returns (length,) float64."""
    win = np.hanning(n_fft + 1)[:-1]
    frames = scipy.fft.irfft(spec, n=n_fft, axis=1) * win  # (F, n_fft)
    n_frames = frames.shape[0]
    ratio = n_fft // hop
    total = n_frames * hop + (ratio - 1) * hop
    out = np.zeros(total)
    wsum = np.zeros(total)
    w2 = np.tile(win**2, (n_frames, 1))
    for r in range(ratio):
        out[r * hop : r * hop + n_frames * hop] += frames[:, r * hop : (r + 1) * hop].reshape(-1)
        wsum[r * hop : r * hop + n_frames * hop] += w2[:, r * hop : (r + 1) * hop].reshape(-1)
    pad = n_fft // 2
    out = out[pad : pad + length] / np.maximum(wsum[pad : pad + length], 1e-3)
    if out.size < length:
        out = np.pad(out, (0, length - out.size))
    return out


def _rfft_full(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Spectrum of a whole (T,) signal zero-padded to a fast FFT length; returns (spectrum, that length)."""
    n = scipy.fft.next_fast_len(len(x), real=True)
    return scipy.fft.rfft(x, n=n), n


def filter_full(x: np.ndarray, sample_rate: int, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Zero-phase filtering of a whole (T,) signal by the magnitude response ``gain(freqs_hz)``."""
    spectrum, n = _rfft_full(x)
    return scipy.fft.irfft(spectrum * gain(np.fft.rfftfreq(n, 1 / sample_rate)), n=n)[: len(x)]


def fft_sizes(sample_rate: int) -> tuple[int, int]:
    """(n_fft, hop) of 32 ms / 8 ms frames."""
    n_fft = int(round(0.032 * sample_rate))
    return n_fft, n_fft // 4


def smooth(x: np.ndarray, width: int, axis: int = 0) -> np.ndarray:
    """Moving average of odd ``width`` along ``axis`` with edge padding."""
    if width <= 1:
        return x
    width = width | 1
    kernel = np.ones(width) / width
    pad = [(0, 0)] * x.ndim
    pad[axis] = (width // 2, width // 2)
    xp = np.pad(x, pad, mode="edge")
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), axis, xp)
