"""Named augmentation ops with typed parameters, registered by name.

Each op is a frozen dataclass whose fields are its parameters (ranges are ``[low, high]`` pairs drawn
uniformly per call); :data:`OPS` maps the name used in ``params.yaml`` (``{op: <name>, ...}``) to
the class. ``op(wave, sample_rate, rng, context)`` returns ``(wave, drawn)`` where ``drawn`` holds
the exact values drawn, so every stored copy can be traced. :func:`op_to_dict` / :func:`op_from_dict`
round-trip an op through plain dicts (what params.yaml and the augment manifest hold).

Ops that read user data (``noise_folder``, ``reverb`` with ``rir_folder``) check that the folder exists
when built; ``babble`` needs an :class:`AugmentContext` carrying a pool of other utterances.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from sdd.audio.io import read_audio
from sdd.augment import functional as F
from sdd.core.configbase import ConfigError, build, to_dict
from sdd.core.paths import resolve

__all__ = ["OPS", "AugmentContext", "Op", "OpParamError", "op_from_dict", "op_to_dict", "register"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


class OpParamError(ConfigError):
    """An op parameter is out of range; ``field`` names it so callers can prefix the dotted key."""

    def __init__(self, op: str, field: str, value: Any, expected: str) -> None:
        self.field = field
        self.detail = f"got {value!r}; expected {expected}"
        super().__init__(f"{op}.{field}: {self.detail}")


@dataclass(frozen=True)
class AugmentContext:
    """What an op may need beyond the waveform.

    Attributes:
        pool: other utterances of the corpus for ``babble`` (paths resolved with
            :func:`sdd.core.paths.resolve`, or (T,) arrays already at the target rate).
        exclude: index into ``pool`` of the utterance being augmented (never used as a talker).
    """

    pool: Sequence[str | np.ndarray] = ()
    exclude: int | None = None


OPS: dict[str, type[Op]] = {}


def register(name: str) -> Callable[[type[Op]], type[Op]]:
    """Class decorator: register an op under ``name``."""

    def deco(cls: type[Op]) -> type[Op]:
        if name in OPS:
            raise ValueError(f"op {name!r} registered twice")
        cls.name = name
        OPS[name] = cls
        return cls

    return deco


@dataclass(frozen=True)
class Op(abc.ABC):
    """Base class: a frozen dataclass of parameters; subclasses implement :meth:`apply`."""

    name: ClassVar[str] = "op"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:  # noqa: B027 (optional hook; not every op has a range to check)
        """Range checks raising :class:`OpParamError` (types are checked by configbase.build)."""

    def check_sample_rate(self, sample_rate: int) -> None:  # noqa: B027 (optional hook)
        """Raise :class:`OpParamError` when the op cannot run at ``sample_rate`` Hz."""

    @abc.abstractmethod
    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """(T,) float32 -> ((T',) float32, drawn values); T' = T except for ``speed``."""

    def __call__(
        self,
        wave: np.ndarray,
        sample_rate: int,
        rng: np.random.Generator,
        context: AugmentContext | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        x = np.asarray(wave, dtype=np.float32)
        y, drawn = self.apply(x, sample_rate, rng, context or AugmentContext())
        return np.asarray(y, dtype=np.float32), drawn

    # validation helpers ------------------------------------------------------------------------
    def _fail(self, field: str, value: Any, expected: str) -> None:
        raise OpParamError(self.name, field, value, expected)

    def _check_between(self, field: str, lo: float, hi: float) -> None:
        v = getattr(self, field)
        if not lo <= v <= hi:
            self._fail(field, v, f"a value in [{lo}, {hi}]")

    def _check_range(self, field: str, lo: float, hi: float) -> None:
        v = getattr(self, field)
        if len(v) != 2 or not lo <= v[0] <= v[1] <= hi:
            self._fail(field, list(v), f"[low, high] with {lo} <= low <= high <= {hi}")

    def _check_order(self, low: str, high: str, lo: float, hi: float) -> None:
        self._check_between(low, lo, hi)
        self._check_between(high, lo, hi)
        if getattr(self, low) > getattr(self, high):
            self._fail(low, getattr(self, low), f"<= {high} ({getattr(self, high)!r})")


def op_to_dict(op: Op) -> dict[str, Any]:
    """``{"op": name, **params}`` (JSON-serialisable)."""
    return {"op": op.name, **to_dict(op)}


def op_from_dict(data: dict[str, Any], where: str) -> Op:
    """Build an op from ``{"op": name, **params}``; errors name ``<where>.<param>``."""
    name = data.get("op")
    if name not in OPS:
        raise ConfigError(f"{where}.op: got {name!r}; expected one of {sorted(OPS)}")
    params = {k: v for k, v in data.items() if k != "op"}
    try:
        return build(OPS[name], params, where)
    except OpParamError as exc:
        raise ConfigError(f"{where}.{exc.field}: {exc.detail}") from None


def _uniform(rng: np.random.Generator, rng_pair: Sequence[float]) -> float:
    return float(rng.uniform(rng_pair[0], rng_pair[1]))


# ------------------------------------------------------------------------------------------------
# RawBoost (Tak et al., ICASSP 2022): published defaults


@dataclass(frozen=True)
class _NotchFilterParams(Op):
    n_bands: int = 5
    min_f: float = 20.0
    max_f: float = 8000.0
    min_bw: float = 100.0
    max_bw: float = 1000.0
    min_coeff: int = 10
    max_coeff: int = 100
    min_g: float = 0.0
    max_g: float = 0.0

    def validate(self) -> None:
        self._check_between("n_bands", 1, 20)
        self._check_order("min_f", "max_f", 1e-3, 96000.0)
        self._check_order("min_bw", "max_bw", 1e-3, 96000.0)
        self._check_order("min_coeff", "max_coeff", 2, 4000)
        self._check_order("min_g", "max_g", -100.0, 40.0)

    def check_sample_rate(self, sample_rate: int) -> None:
        if self.max_f - self.max_bw / 2 >= sample_rate / 2 or self.max_f > sample_rate / 2:
            self._fail("max_f", self.max_f, f"<= sample_rate/2 = {sample_rate / 2}")

    def _filter_kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(_NotchFilterParams)}


@register("lnl")
@dataclass(frozen=True)
class LnLConvolutive(_NotchFilterParams):
    """RawBoost algo 1 (linear and non-linear convolutive noise); see
    :func:`sdd.augment.functional.lnl_convolutive_noise`. Defaults: N_f=5, nBands=5, minF=20,
    maxF=8000, minBW=100, maxBW=1000, minCoeff=10, maxCoeff=100, minG=0, maxG=0,
    minBiasLinNonLin=5, maxBiasLinNonLin=20."""

    n_f: int = 5
    min_bias_lin_nonlin: float = 5.0
    max_bias_lin_nonlin: float = 20.0

    def validate(self) -> None:
        super().validate()
        self._check_between("n_f", 1, 10)
        self._check_between("min_bias_lin_nonlin", -100.0, 100.0)
        self._check_between("max_bias_lin_nonlin", -100.0, 100.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return F.lnl_convolutive_noise(
            wave, rng, sample_rate, n_f=self.n_f, min_bias_lin_nonlin=self.min_bias_lin_nonlin,
            max_bias_lin_nonlin=self.max_bias_lin_nonlin, **self._filter_kwargs(),
        )


@register("isd")
@dataclass(frozen=True)
class ISDImpulsive(Op):
    """RawBoost algo 2 (impulsive signal-dependent noise): up to ``p`` percent of the samples
    (P=10), gain ``g_sd`` (2). See :func:`sdd.augment.functional.isd_additive_noise`."""

    p: float = 10.0
    g_sd: float = 2.0

    def validate(self) -> None:
        self._check_between("p", 0.0, 100.0)
        self._check_between("g_sd", 0.0, 100.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return F.isd_additive_noise(wave, rng, p=self.p, g_sd=self.g_sd)


@register("ssi")
@dataclass(frozen=True)
class SSIColoured(_NotchFilterParams):
    """RawBoost algo 3 (stationary signal-independent coloured noise) at SNR ~ U(snr_min,
    snr_max) dB (10, 40) with the LnL filter defaults. See
    :func:`sdd.augment.functional.ssi_additive_noise`."""

    snr_min: float = 10.0
    snr_max: float = 40.0

    def validate(self) -> None:
        super().validate()
        self._check_order("snr_min", "snr_max", -30.0, 100.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return F.ssi_additive_noise(
            wave, rng, sample_rate, snr_min=self.snr_min, snr_max=self.snr_max, **self._filter_kwargs()
        )


# ------------------------------------------------------------------------------------------------
# additive noise


@register("noise")
@dataclass(frozen=True)
class ColouredNoise(Op):
    """White / pink / brown Gaussian noise at SNR ~ U(snr_db) dB."""

    colour: Literal["white", "pink", "brown"] = "white"
    snr_db: tuple[float, ...] = (5.0, 20.0)

    def validate(self) -> None:
        self._check_range("snr_db", -30.0, 100.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        snr = _uniform(rng, self.snr_db)
        noise = F.coloured_noise(wave.shape[0], rng, self.colour)
        return F.add_noise_at_snr(wave, noise, snr), {"snr_db": snr}


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


def _check_folder(op: Op, field: str) -> None:
    folder = getattr(op, field)
    if folder is not None and not resolve(folder).is_dir():
        op._fail(field, folder, f"an existing folder (resolved to {resolve(folder)})")


@register("noise_folder")
@dataclass(frozen=True)
class FolderNoise(Op):
    """Noise from a folder of audio files (MUSAN-style, searched recursively): one file chosen
    uniformly, a random excerpt (tiled when short), added at SNR ~ U(snr_db) dB."""

    folder: str = ""
    snr_db: tuple[float, ...] = (5.0, 20.0)

    def validate(self) -> None:
        if not self.folder:
            self._fail("folder", self.folder, "a folder of noise files (relative to the repo root)")
        _check_folder(self, "folder")
        self._check_range("snr_db", -30.0, 100.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        files = _list_audio(self.folder)
        i = int(rng.integers(len(files)))
        snr = _uniform(rng, self.snr_db)
        noise = F.tile_to_length(_load(files[i], sample_rate).astype(np.float64), wave.shape[0], rng)
        rel = Path(files[i]).relative_to(resolve(self.folder)).as_posix()
        return F.add_noise_at_snr(wave, noise, snr), {"snr_db": snr, "file": rel}


@register("babble")
@dataclass(frozen=True)
class Babble(Op):
    """Babble-like noise from the corpus itself: ``n_talkers`` ~ U{low..high} other utterances from
    the context pool (in precompute: the bona fide utterances), each at a random offset, summed
    and added at SNR ~ U(snr_db) dB. Fewer talkers are used when the pool is smaller."""

    n_talkers: tuple[int, ...] = (3, 7)
    snr_db: tuple[float, ...] = (10.0, 25.0)

    def validate(self) -> None:
        self._check_range("n_talkers", 1, 64)
        self._check_range("snr_db", -30.0, 100.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        others = [i for i in range(len(context.pool)) if i != context.exclude]
        if not others:
            raise ValueError("babble needs an AugmentContext with a pool of other utterances; got none")
        k = int(rng.integers(self.n_talkers[0], self.n_talkers[1] + 1))
        chosen = rng.choice(len(others), size=min(k, len(others)), replace=False)
        sources = [context.pool[others[int(j)]] for j in chosen]
        loaded = [_load(s, sample_rate) if isinstance(s, str) else np.asarray(s) for s in sources]
        snr = _uniform(rng, self.snr_db)
        noise = F.babble_noise(loaded, wave.shape[0], rng)
        return F.add_noise_at_snr(wave, noise, snr), {"snr_db": snr, "n_talkers": len(loaded)}


# ------------------------------------------------------------------------------------------------
# reverberation


@register("reverb")
@dataclass(frozen=True)
class Reverb(Op):
    """Reverberation by FFT convolution with a synthetic RIR (RT60 ~ U(rt60_s) s, direct-to-
    reverberant ratio ~ U(drr_db) dB) or, when ``rir_folder`` is set, a real RIR chosen from it.
    The output keeps the input's RMS level and timing (aligned on the direct path)."""

    rt60_s: tuple[float, ...] = (0.2, 0.8)
    drr_db: tuple[float, ...] = (0.0, 10.0)
    rir_folder: str | None = None

    def validate(self) -> None:
        self._check_range("rt60_s", 0.01, 5.0)
        self._check_range("drr_db", -20.0, 40.0)
        _check_folder(self, "rir_folder")

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if self.rir_folder is not None:
            files = _list_audio(self.rir_folder)
            i = int(rng.integers(len(files)))
            rel = Path(files[i]).relative_to(resolve(self.rir_folder)).as_posix()
            return F.apply_rir(wave, _load(files[i], sample_rate).astype(np.float64)), {"rir": rel}
        rt60, drr = _uniform(rng, self.rt60_s), _uniform(rng, self.drr_db)
        rir = F.synthetic_rir(rng, sample_rate, rt60, drr)
        return F.apply_rir(wave, rir), {"rt60_s": rt60, "drr_db": drr}


# ------------------------------------------------------------------------------------------------
# channel and codecs


@register("mulaw")
@dataclass(frozen=True)
class MuLaw(Op):
    """mu-law companding and 8-bit quantisation (G.711 style)."""

    mu: int = 255
    bits: int = 8

    def validate(self) -> None:
        self._check_between("mu", 1, 65535)
        self._check_between("bits", 2, 16)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return F.mulaw(wave, self.mu, self.bits), {}


@register("alaw")
@dataclass(frozen=True)
class ALaw(Op):
    """A-law companding (A = 87.6) and 8-bit quantisation (G.711 style)."""

    a: float = 87.6
    bits: int = 8

    def validate(self) -> None:
        self._check_between("a", 1.0, 1000.0)
        self._check_between("bits", 2, 16)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return F.alaw(wave, self.a, self.bits), {}


@register("telephone")
@dataclass(frozen=True)
class Telephone(Op):
    """8 kHz narrow-band telephone channel, band-pass [low_hz, high_hz]."""

    low_hz: float = 300.0
    high_hz: float = 3400.0
    order: int = 4

    def validate(self) -> None:
        self._check_order("low_hz", "high_hz", 1.0, 3999.0)
        self._check_between("order", 1, 12)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return F.telephone_band(wave, sample_rate, self.low_hz, self.high_hz, self.order), {}


@register("codec")
@dataclass(frozen=True)
class Codec(Op):
    """A lossy codec round trip through libsndfile (mp3, ogg_vorbis, opus) at a compression level
    ~ U(compression_level) in [0, 1] (libsndfile's scale: 0 = best quality / highest bit rate)."""

    codec: Literal["mp3", "ogg_vorbis", "opus"] = "mp3"
    compression_level: tuple[float, ...] = (0.0, 1.0)

    def validate(self) -> None:
        self._check_range("compression_level", 0.0, 1.0)
        if not F.codec_support()[self.codec]:
            available = sorted(k for k, v in F.codec_support().items() if v)
            self._fail("codec", self.codec, f"a codec this libsndfile supports: {available}")

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        level = _uniform(rng, self.compression_level)
        y, d = F.codec_roundtrip(wave, sample_rate, self.codec, level)
        return y, {"compression_level": level, **d}


@register("packet_loss")
@dataclass(frozen=True)
class PacketLoss(Op):
    """Drop (zero) ``frame_ms`` frames with probability ~ U(loss_rate)."""

    loss_rate: tuple[float, ...] = (0.0, 0.1)
    frame_ms: float = 20.0

    def validate(self) -> None:
        self._check_range("loss_rate", 0.0, 1.0)
        self._check_between("frame_ms", 1.0, 1000.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        rate = _uniform(rng, self.loss_rate)
        y, d = F.packet_loss(wave, rng, sample_rate, rate, self.frame_ms)
        return y, {"loss_rate": rate, **d}


@register("gain")
@dataclass(frozen=True)
class Gain(Op):
    """Gain ~ U(gain_db) dB (the policy's final peak normalisation still caps the peak at 1)."""

    gain_db: tuple[float, ...] = (-6.0, 6.0)

    def validate(self) -> None:
        self._check_range("gain_db", -60.0, 40.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        g = _uniform(rng, self.gain_db)
        return F.gain(wave, g), {"gain_db": g}


@register("speed")
@dataclass(frozen=True)
class Speed(Op):
    """Speed change by factor ~ U(factor) (pitch follows); output length round(T / factor)."""

    factor: tuple[float, ...] = (0.9, 1.1)

    def validate(self) -> None:
        self._check_range("factor", 0.25, 4.0)

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        f = _uniform(rng, self.factor)
        return F.speed(wave, f), {"factor": f}
