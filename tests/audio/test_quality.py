"""sdd.audio.quality: each check fires on its case, stays quiet on ordinary speech-like audio, and
the thresholds sit where their docstrings say."""

from __future__ import annotations

import numpy as np
import pytest

from sdd.audio.quality import CANCEL_DB, CHECKS, CLIP_FRACTION, SILENCE_PEAK, ClipView, clip_warnings

SR = 16000
N = 32000


def _view(frames: np.ndarray, n_in: int = N) -> ClipView:
    frames = frames.reshape(frames.shape[0], -1).astype(np.float32)
    return ClipView(frames, SR, frames.mean(axis=1)[:n_in], n_in, SR)


@pytest.fixture
def speech_like(rng) -> np.ndarray:
    t = np.arange(3 * SR) / SR
    return 0.3 * np.sin(2 * np.pi * 180 * t) * (
        1 + 0.5 * np.sin(2 * np.pi * 3 * t)
    ) + 0.02 * rng.standard_normal(t.size)


def test_ordinary_audio_raises_nothing(speech_like, rng):
    assert clip_warnings(_view(speech_like)) == []
    stereo = np.stack([speech_like, 0.8 * speech_like + 0.01 * rng.standard_normal(speech_like.size)], 1)
    assert clip_warnings(_view(stereo)) == []


def test_each_check_names_only_its_case(speech_like):
    cases = {
        "short": speech_like[: N // 4],
        "silent": np.zeros(N),
        "clipped": np.clip(10 * speech_like, -1, 1),
        "channels_cancel": np.stack([speech_like, -speech_like], 1),
    }
    for name, frames in cases.items():
        fired = [k for k, check in CHECKS.items() if check(_view(frames)) is not None]
        assert fired == [name], (name, fired)


@pytest.mark.parametrize("n", [1, 2, 3200, N - 1])
def test_too_short_states_the_repeats(n, speech_like):
    msg = CHECKS["short"](_view(speech_like[:n]))
    assert msg is not None and f"repeated {-(-N // n)} times" in msg
    assert CHECKS["short"](_view(speech_like[:N])) is None  # exactly the input: not short


def test_thresholds_are_where_documented(speech_like):
    quiet = np.full(N, 0.5 * SILENCE_PEAK)
    assert "dBFS" in CHECKS["silent"](_view(quiet))
    assert CHECKS["silent"](_view(np.full(N, 2 * SILENCE_PEAK))) is None
    x = 0.5 * speech_like[:N].copy()
    k = int(CLIP_FRACTION * N)
    x[:k] = 1.0  # exactly the tolerated fraction at full scale
    assert CHECKS["clipped"](_view(x)) is None
    x[: k + 2] = 1.0
    assert CHECKS["clipped"](_view(x)) is not None
    # channels whose mix is just above / below CANCEL_DB under their level
    a = speech_like[:N]
    for gain_db, fires in ((CANCEL_DB - 1, False), (CANCEL_DB + 1, True)):
        g = 10 ** (-gain_db / 20)  # b = -a (1 - 2g): mix = a*g, |b| ~ |a|
        b = -a * (1 - 2 * g)
        level = (np.sqrt(np.mean(a**2)) + np.sqrt(np.mean(b**2))) / 2
        mix_db = 20 * np.log10(level / np.sqrt(np.mean(((a + b) / 2) ** 2)))
        assert (mix_db > CANCEL_DB) == fires
        assert (CHECKS["channels_cancel"](_view(np.stack([a, b], 1))) is not None) == fires
