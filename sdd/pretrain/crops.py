"""Random crops of the train audio, as both pretraining objectives draw them."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["crop", "normalise"]


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Per crop zero mean, unit variance (what the detector does with ``model.normalize_input``).

    Args:
        x: (batch, samples) float waveforms.
    """
    return (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True) + 1e-7)


def crop(wave: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``wave`` from a random start, or ``wave`` repeat-padded to ``n`` (as the
    scorer pads) when it is shorter."""
    if wave.size >= n:
        start = int(rng.integers(0, wave.size - n + 1))
        return wave[start : start + n]
    return np.resize(wave, n)
