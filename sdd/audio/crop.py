"""Fixed-length views of a waveform: the one crop/pad rule shared by training, scoring and probing."""

from __future__ import annotations

import numpy as np

__all__ = ["crop_or_pad"]


def crop_or_pad(wave: np.ndarray, num_samples: int, offset: int = 0) -> np.ndarray:
    """``wave[offset : offset + num_samples]``, repeat-padded (tiled) when the utterance is shorter.

    Args:
        wave: (T,) samples.
        num_samples: output length.
        offset: start sample (clipped so the crop fits when T > num_samples).
    Returns:
        (num_samples,) float32.
    """
    t = wave.shape[0]
    if t >= num_samples:
        offset = min(max(offset, 0), t - num_samples)
        return wave[offset : offset + num_samples].astype(np.float32, copy=False)
    reps = -(-num_samples // t)
    return np.tile(wave, reps)[:num_samples].astype(np.float32, copy=False)
