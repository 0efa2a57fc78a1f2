"""``sdd.audio.io.polyphase_resample`` is ``scipy.signal.resample_poly`` with its defaults, bit for bit:
every rate a corpus or a user's file is likely to have (and awkward ones: a prime rate, a rate one
above 16 kHz), lengths from one sample to several seconds, float32 and float64, 1-D and
batched, signals with silence and full-scale peaks. Equality is of the bits (``view``), so even the
sign of a zero counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import firwin, resample_poly

from sdd.audio.io import _lowpass, polyphase_resample, read_audio, resample

RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 96000, 7919, 16001)


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _signal(n: int, dtype, rng) -> np.ndarray:
    x = 0.3 * rng.standard_normal(n)
    x[: n // 5] = 0.0  # digital silence
    if n > 3:
        x[n // 2] = 1.0  # a full-scale sample
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", RATES)
def test_equals_scipy_resample_poly_bit_for_bit(rate, dtype):
    rng = np.random.default_rng(rate)
    for target in (16000, 8000):
        g = np.gcd(rate, target)
        up, down = target // g, rate // g
        for n in (1, 2, 7, 100, 1001, 2 * rate // 3):
            x = _signal(n, dtype, rng)
            want, got = resample_poly(x, up, down), polyphase_resample(x, up, down)
            assert got.dtype == want.dtype and got.shape == want.shape, (rate, target, n)
            assert np.array_equal(_bits(got), _bits(want)), (rate, target, n, np.abs(got - want).max())


def test_the_filter_is_scipys_and_other_shapes_and_dtypes_follow_scipy():
    for up, down in ((160, 441), (2, 3), (1, 6), (5, 1)):
        m = max(up, down)
        assert np.array_equal(_lowpass(up, down), firwin(20 * m + 1, 1.0 / m, window=("kaiser", 5.0)))
    rng = np.random.default_rng(0)
    batch = _signal(3 * 999, np.float32, rng).reshape(3, 999)  # resampled along the last axis
    assert np.array_equal(
        _bits(polyphase_resample(batch, 160, 441)), _bits(resample_poly(batch, 160, 441, axis=-1))
    )
    ints = (rng.standard_normal(500) * 1000).astype(np.int16)  # computed in float64, as scipy does
    assert np.array_equal(_bits(polyphase_resample(ints, 2, 3)), _bits(resample_poly(ints, 2, 3)))
    assert polyphase_resample(np.zeros(0, np.float32), 2, 3).shape == (0,)
    with pytest.raises(ValueError, match="up 0, down 3"):
        polyphase_resample(batch, 0, 3)


def test_read_audio_resamples_a_prefix_and_a_whole_file_alike(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(1)
    wave = _signal(22050, np.float32, rng)
    sf.write(tmp_path / "a.wav", wave, 22050, subtype="FLOAT")
    want = resample_poly(wave, 320, 441).astype(np.float32)
    whole, sr = read_audio(tmp_path / "a.wav", 16000)  # scipy's resample_poly
    prefix, _ = read_audio(tmp_path / "a.wav", 16000, max_samples=4000)  # polyphase_resample
    assert sr == 16000 and np.array_equal(_bits(whole), _bits(want))
    assert np.array_equal(_bits(prefix), _bits(want[:4000]))
    assert np.array_equal(_bits(resample(wave, 22050, 16000, prefix=True)), _bits(want))
    assert resample(wave, 22050, 22050) is wave
