"""The waveform conventions every augmentation function follows, and the level rule.

Owns what :mod:`sdd.augment.functional`, :mod:`sdd.augment.rawboost` and the policies
(:mod:`sdd.augment.policies`) share: a waveform is a mono array of shape (T,) (:func:`check_wave`);
functions written for numpy also take a torch tensor and give one back (:func:`numpy_io`); levels are
kept in [-1, 1] by dividing by the peak when it exceeds 1, RawBoost's ``normWav``
(:func:`peak_normalise`). numpy only: validating a policy imports this module, never the signal
processing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["check_wave", "l2_norm", "numpy_io", "peak_normalise"]


def numpy_io(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def check_wave(wave: np.ndarray) -> None:
    """Raise ValueError unless ``wave`` is a non-empty mono (T,) array."""
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape (T,); got shape {wave.shape}")
    if wave.shape[0] == 0:
        raise ValueError("expected a non-empty waveform; got 0 samples")


def l2_norm(x: np.ndarray) -> float:
    """Euclidean norm without BLAS (``np.linalg.norm`` calls ddot, whose thread pool costs more
    than the sum on short signals)."""
    return math.sqrt(float(np.sum(np.square(x, dtype=np.float64))))


@numpy_io
def peak_normalise(wave: np.ndarray, always: bool = False) -> np.ndarray:
    """RawBoost's ``normWav``: divide by the peak when it exceeds 1 (or always when ``always``).

    A silent input is returned unchanged (the original would divide by zero).
    """
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > 0.0 and (always or peak > 1.0):
        return wave / peak
    return wave
