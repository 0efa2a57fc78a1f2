"""The transmission conditions of ``eval_degraded``: :class:`Transmission` and :data:`TRANSMISSIONS`.

After the telephony and VoIP channels of ASVspoof 2021 LA (Liu et al., IEEE/ACM TASLP 2023): the
telephone band with G.711 mu-law, the telephone band with A-law and packet loss, Opus with packet loss,
MP3 at a low bit rate, and pink or brown noise at 0-8 dB SNR. Each condition is
``fn(wave, sample_rate, rng) -> wave`` built on the one implementation of its degradations in
:mod:`sdd.augment.functional`; :data:`TRANSMISSIONS` says how they relate to the training augmentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from sdd.augment import functional as F

__all__ = ["TRANSMISSIONS", "Transmission"]


def _narrowband(wave: np.ndarray, sample_rate: int, coder: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The 300-3400 Hz telephone band at 8 kHz (:func:`sdd.augment.functional.telephone_band`), then
    ``coder`` on the 8 kHz samples, then back to ``sample_rate`` (same length)."""
    narrow = resample_poly(wave, 1, sample_rate // 8000)
    narrow = coder(F.telephone_band(narrow, 8000).astype(np.float64))
    back = resample_poly(narrow, sample_rate // 8000, 1)[: len(wave)]
    return np.pad(back, (0, len(wave) - len(back)))


def _line_level(wave: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Scale to a random peak in [0.3, 0.9] before a companding coder (whose noise depends on level)."""
    scale = rng.uniform(0.3, 0.9) / (np.max(np.abs(wave)) + 1e-9)
    return wave * scale, scale


def _tx_pstn_mulaw(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """PSTN: telephone band and 8-bit G.711 mu-law at 8 kHz (ASVspoof 2021 LA's ulaw/PSTN conditions)."""
    x, scale = _line_level(wave, rng)
    return _narrowband(x, sample_rate, lambda y: F.mulaw(y).astype(np.float64)) / scale


def _tx_voip_alaw_loss(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """VoIP: telephone band, 8-bit G.711 A-law at 8 kHz, then 20 ms packets lost with p in [0.05, 0.15]."""
    x, scale = _line_level(wave, rng)
    y = _narrowband(x, sample_rate, lambda v: F.alaw(v).astype(np.float64)) / scale
    return F.packet_loss(y, rng, sample_rate, rng.uniform(0.05, 0.15))[0].astype(np.float64)


def _tx_codec(codec: str, low: float, high: float, loss: tuple[float, float] | None):
    """A lossy codec round trip (:func:`sdd.augment.functional.codec_roundtrip`) at a libsndfile
    compression level in [low, high] (1 = lowest bit rate), optionally followed by packet loss."""

    def fn(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        peak = np.max(np.abs(wave)) + 1e-9
        y = F.codec_roundtrip(wave / peak * 0.9, sample_rate, codec, rng.uniform(low, high))[0]
        y = y.astype(np.float64) * peak / 0.9
        if loss is not None:
            y = F.packet_loss(y, rng, sample_rate, rng.uniform(*loss))[0].astype(np.float64)
        return y

    return fn


def _tx_noise(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Background noise far below RawBoost's SSI range (10-40 dB): pink or brown noise at 0-8 dB SNR."""
    noise = F.coloured_noise(len(wave), rng, "pink" if rng.random() < 0.5 else "brown")
    return F.add_noise_at_snr(wave, noise, rng.uniform(0.0, 8.0)).astype(np.float64)


@dataclass(frozen=True)
class Transmission:
    """A named transmission condition of ``eval_degraded``: ``fn(wave, sample_rate, rng) -> wave``."""

    name: str
    description: str
    fn: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


#: Transmission conditions of ``eval_degraded``, after ASVspoof 2021 LA's telephony and VoIP channels
#: (Liu et al., IEEE/ACM TASLP 2023); each utterance gets one, uniformly at random. Every degradation
#: is the one implementation in :mod:`sdd.augment.functional`. None is in the default training
#: augmentation (``rawboost4``: LnL convolutive notch filtering, ISD impulsive noise, SSI coloured
#: noise at 10-40 dB SNR); the overlaps are of kind only: the telephone band is a convolutive filter
#: like LnL's (a fixed 300-3400 Hz band at 8 kHz instead of random notches at full band), and ``noise``
#: is additive coloured noise like SSI's, at 0-8 dB SNR instead of 10-40 dB.
TRANSMISSIONS: dict[str, Transmission] = {
    t.name: t
    for t in (
        Transmission("pstn_mulaw", "telephone band, G.711 mu-law at 8 kHz", _tx_pstn_mulaw),
        Transmission(
            "voip_alaw_loss", "telephone band, G.711 A-law at 8 kHz, 5-15 % packet loss", _tx_voip_alaw_loss
        ),
        Transmission(
            "opus_loss",
            "Opus at compression 0.8-1.0, 2-8 % packet loss",
            _tx_codec("opus", 0.8, 1.0, (0.02, 0.08)),
        ),
        Transmission("mp3_low", "MP3 at compression 0.8-0.999", _tx_codec("mp3", 0.8, 0.999, None)),
        Transmission("noise", "pink or brown noise at 0-8 dB SNR", _tx_noise),
    )
}
