"""Checks of the clip a detector reads, for inputs whose score means little (``sdd score``'s warnings).

A detector scores whatever it is given: a 0.2 s clip repeated to fill its input, a one-sample file,
digital silence, a clipped recording or a stereo file whose channels cancel when averaged to mono all
get a score as confident-looking as any other. :func:`clip_warnings` names these cases, one message
per check that fires; the checks are a registry (:data:`CHECKS`), each a function of a
:class:`ClipView`. They look at the part of the file the detector reads (its first input samples),
not at the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CANCEL_DB",
    "CHECKS",
    "CLIP_FRACTION",
    "CLIP_LEVEL",
    "SILENCE_PEAK",
    "ClipView",
    "clip_warnings",
]

#: Peak below which a clip counts as digitally silent: one step of 16-bit PCM.
SILENCE_PEAK = 1.0 / 32768
#: A sample at or above this magnitude is at full scale (16-bit full scale decodes as 32767/32768).
CLIP_LEVEL = 0.999
#: A clip is reported as clipped when more than this fraction of its samples is at full scale.
CLIP_FRACTION = 0.001
#: Stereo channels "cancel" when the mono mix is at least this many dB below the channels' mean level.
CANCEL_DB = 20.0


@dataclass(frozen=True)
class ClipView:
    """What the checks see of one input.

    Attributes:
        frames: the decoded frames ``(T, C)`` at the file's rate, as far as the detector reads.
        sample_rate: the file's rate (Hz).
        mono: the mono samples the detector reads, at ``model_rate``, before repeat-padding.
        input_samples: the detector's input length (samples at ``model_rate``).
        model_rate: the detector's input rate (Hz).
    """

    frames: np.ndarray
    sample_rate: int
    mono: np.ndarray
    input_samples: int
    model_rate: int


def _rms(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    return np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=axis))


def _too_short(v: ClipView) -> str | None:
    n = int(v.mono.size)
    if n >= v.input_samples:
        return None
    samples = f"{n} sample{'s' if n != 1 else ''} at {v.model_rate} Hz"
    return (
        f"too short for the model's input rule: {n / v.model_rate:.3f} s ({samples}) "
        f"< its {v.input_samples / v.model_rate:.2f} s input, so the score is of the clip repeated "
        f"{math.ceil(v.input_samples / n)} times"
    )


def _silent(v: ClipView) -> str | None:
    peak = float(np.max(np.abs(v.frames)))
    if peak == 0.0:
        return "digitally silent: every sample is 0"
    if peak < SILENCE_PEAK:
        return f"digitally silent: peak {20 * math.log10(peak):.0f} dBFS, below one 16-bit step"
    return None


def _clipped(v: ClipView) -> str | None:
    frac = float(np.mean(np.abs(v.frames) >= CLIP_LEVEL))
    if frac <= CLIP_FRACTION:
        return None
    return f"clipped: {frac:.2%} of samples at full scale (|x| >= {CLIP_LEVEL})"


def _channels_cancel(v: ClipView) -> str | None:
    if v.frames.shape[1] < 2:
        return None
    channels = _rms(v.frames, axis=0)
    if float(np.max(channels)) < SILENCE_PEAK:
        return None  # silent channels: the silence check speaks
    mix = float(_rms(v.frames.mean(axis=1)))
    level = float(np.mean(channels))
    if mix >= level * 10 ** (-CANCEL_DB / 20):
        return None
    if mix == 0.0:
        detail = "the mono mix is silent"
    else:
        detail = f"the mono mix is {20 * math.log10(level / mix):.0f} dB below the channels"
    return f"channels cancel when mixed down to mono ({detail}: opposite phase?); score one channel instead"


#: Check name -> ``ClipView -> message or None``.
CHECKS: dict[str, Callable[[ClipView], str | None]] = {
    "short": _too_short,
    "silent": _silent,
    "clipped": _clipped,
    "channels_cancel": _channels_cancel,
}


def clip_warnings(view: ClipView) -> list[str]:
    """One message per check of :data:`CHECKS` that fires on ``view`` (none for an ordinary clip)."""
    return [msg for check in CHECKS.values() if (msg := check(view)) is not None]
