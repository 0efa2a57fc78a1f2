"""What each registered op does to a waveform: draw its random values, call the pure functions.

One function per op of :data:`sdd.augment.ops.OPS`, attached to its class with
:func:`sdd.augment.ops.implements`; the ranges are drawn uniformly per call from the op's generator and
returned as ``drawn``. The signal processing itself is in :mod:`sdd.augment.rawboost` (``lnl``,
``isd``, ``ssi``) and :mod:`sdd.augment.functional` (the rest); noise and RIR folders are read here.
Importing this module fails when a registered op has no implementation. The ``augment`` stage
(:mod:`sdd.augment.precompute`) and the report's figures import it; validation never does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sdd.audio.io import read_audio
from sdd.augment import functional as F
from sdd.augment import rawboost as R
from sdd.augment.ops import (
    OPS,
    ALaw,
    AugmentContext,
    Babble,
    Codec,
    ColouredNoise,
    FolderNoise,
    Gain,
    ISDImpulsive,
    LnLConvolutive,
    MuLaw,
    PacketLoss,
    Reverb,
    Speed,
    SSIColoured,
    Telephone,
    implements,
)
from sdd.core.paths import resolve

__all__: list[str] = []

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def _uniform(rng: np.random.Generator, rng_pair: Sequence[float]) -> float:
    return float(rng.uniform(rng_pair[0], rng_pair[1]))


@functools.lru_cache(maxsize=256)
def _list_audio(folder: str) -> tuple[str, ...]:
    root = resolve(folder)
    files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found")
    return tuple(files)


@functools.lru_cache(maxsize=64)
def _load(path: str, sample_rate: int) -> np.ndarray:
    return read_audio(resolve(path), sample_rate)[0]


# ------------------------------------------------------------------------------------------------
# RawBoost (Tak et al., ICASSP 2022)


@implements(LnLConvolutive)
def _lnl_convolutive(
    op: LnLConvolutive, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    return R.lnl_convolutive_noise(
        wave, rng, sample_rate, n_f=op.n_f, min_bias_lin_nonlin=op.min_bias_lin_nonlin,
        max_bias_lin_nonlin=op.max_bias_lin_nonlin, **op.filter_kwargs(),
    )


@implements(ISDImpulsive)
def _isd_impulsive(
    op: ISDImpulsive, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    return R.isd_additive_noise(wave, rng, p=op.p, g_sd=op.g_sd)


@implements(SSIColoured)
def _ssi_coloured(
    op: SSIColoured, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    return R.ssi_additive_noise(
        wave, rng, sample_rate, snr_min=op.snr_min, snr_max=op.snr_max, **op.filter_kwargs()
    )


# ------------------------------------------------------------------------------------------------
# additive noise


@implements(ColouredNoise)
def _coloured_noise(
    op: ColouredNoise, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    snr = _uniform(rng, op.snr_db)
    noise = F.coloured_noise(wave.shape[0], rng, op.colour)
    return F.add_noise_at_snr(wave, noise, snr), {"snr_db": snr}


@implements(FolderNoise)
def _folder_noise(
    op: FolderNoise, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    files = _list_audio(op.folder)
    i = int(rng.integers(len(files)))
    snr = _uniform(rng, op.snr_db)
    noise = F.tile_to_length(_load(files[i], sample_rate).astype(np.float64), wave.shape[0], rng)
    rel = Path(files[i]).relative_to(resolve(op.folder)).as_posix()
    return F.add_noise_at_snr(wave, noise, snr), {"snr_db": snr, "file": rel}


@implements(Babble)
def _babble(
    op: Babble, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    others = [i for i in range(len(context.pool)) if i != context.exclude]
    if not others:
        raise ValueError("babble needs an AugmentContext with a pool of other utterances; got none")
    k = int(rng.integers(op.n_talkers[0], op.n_talkers[1] + 1))
    chosen = rng.choice(len(others), size=min(k, len(others)), replace=False)
    sources = [context.pool[others[int(j)]] for j in chosen]
    loaded = [_load(s, sample_rate) if isinstance(s, str) else np.asarray(s) for s in sources]
    snr = _uniform(rng, op.snr_db)
    noise = F.babble_noise(loaded, wave.shape[0], rng)
    return F.add_noise_at_snr(wave, noise, snr), {"snr_db": snr, "n_talkers": len(loaded)}


# ------------------------------------------------------------------------------------------------
# reverberation


@implements(Reverb)
def _reverb(
    op: Reverb, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    if op.rir_folder is not None:
        files = _list_audio(op.rir_folder)
        i = int(rng.integers(len(files)))
        rel = Path(files[i]).relative_to(resolve(op.rir_folder)).as_posix()
        return F.apply_rir(wave, _load(files[i], sample_rate).astype(np.float64)), {"rir": rel}
    rt60, drr = _uniform(rng, op.rt60_s), _uniform(rng, op.drr_db)
    rir = F.synthetic_rir(rng, sample_rate, rt60, drr)
    return F.apply_rir(wave, rir), {"rt60_s": rt60, "drr_db": drr}


# ------------------------------------------------------------------------------------------------
# channel and codecs


@implements(MuLaw)
def _mu_law(
    op: MuLaw, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    return F.mulaw(wave, op.mu, op.bits), {}


@implements(ALaw)
def _a_law(
    op: ALaw, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    return F.alaw(wave, op.a, op.bits), {}


@implements(Telephone)
def _telephone(
    op: Telephone, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    return F.telephone_band(wave, sample_rate, op.low_hz, op.high_hz, op.order), {}


@implements(Codec)
def _codec(
    op: Codec, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    level = _uniform(rng, op.compression_level)
    y, d = F.codec_roundtrip(wave, sample_rate, op.codec, level)
    return y, {"compression_level": level, **d}


@implements(PacketLoss)
def _packet_loss(
    op: PacketLoss, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    rate = _uniform(rng, op.loss_rate)
    y, d = F.packet_loss(wave, rng, sample_rate, rate, op.frame_ms)
    return y, {"loss_rate": rate, **d}


@implements(Gain)
def _gain(
    op: Gain, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    g = _uniform(rng, op.gain_db)
    return F.gain(wave, g), {"gain_db": g}


@implements(Speed)
def _speed(
    op: Speed, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
) -> tuple[np.ndarray, dict[str, Any]]:
    f = _uniform(rng, op.factor)
    return F.speed(wave, f), {"factor": f}


_missing = sorted(name for name, cls in OPS.items() if "_implementation" not in vars(cls))
if _missing:
    raise ImportError(f"{__name__}: registered op(s) {_missing} have no implementation here")
