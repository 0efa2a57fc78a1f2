"""Recording-level variation of every split of the demo corpus: a mild room and a random level.

:func:`apply_recording` adds the room (the one implementation in :mod:`sdd.augment.functional`) to
half of the utterances; :func:`set_level` sets the level, the last step of every utterance. Neither
adds noise, equalisation or a band limit, so ``eval_degraded``'s transmission
(:mod:`sdd.data.demo.transmission`) is a shift.
"""

from __future__ import annotations

import numpy as np

from sdd.augment import functional as F

__all__ = ["ROOM_DRR_DB", "ROOM_PROB", "ROOM_RT60_S", "apply_recording", "set_level"]

#: Probability of the mild room, its RT60 range (s) and direct-to-reverberant ratio range (dB).
ROOM_PROB, ROOM_RT60_S, ROOM_DRR_DB = 0.5, (0.1, 0.3), (10.0, 20.0)


def apply_recording(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Recording-level variation shared by every split: with probability :data:`ROOM_PROB` a mild room
    (Polack's statistical RIR, RT60 and DRR uniform in :data:`ROOM_RT60_S`, :data:`ROOM_DRR_DB`); the
    random level follows in :func:`set_level`. No noise, equalisation or band limit: like ASVspoof
    2019 LA's train and dev, the material is studio-like, so a transmission channel is a shift."""
    if rng.random() < ROOM_PROB:
        rir = F.synthetic_rir(rng, sample_rate, rng.uniform(*ROOM_RT60_S), rng.uniform(*ROOM_DRR_DB))
        wave = F.apply_rir(wave, rir).astype(np.float64)
    return wave


def set_level(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random level: RMS at -34..-18 dBFS, scaled down if the peak would exceed 0.99."""
    rms = np.sqrt(np.mean(wave**2)) + 1e-12
    wave = wave * 10 ** (rng.uniform(-34, -18) / 20) / rms
    peak = np.max(np.abs(wave))
    return wave * (0.99 / peak) if peak > 0.99 else wave
