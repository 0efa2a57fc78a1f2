"""The augmentation op registry: every op's name, typed parameters, defaults and ranges.

:data:`OPS` maps the name used in ``params.yaml`` (``{op: <name>, ...}``) to the op's class, a frozen
dataclass whose fields are its parameters (ranges are ``[low, high]`` pairs drawn uniformly per call)
and whose :meth:`Op.validate` checks them; it is the one list of op names. :func:`op_to_dict` /
:func:`op_from_dict` round-trip an op through plain dicts (what params.yaml and the augment manifest
hold). Ops that read user data (``noise_folder``, ``reverb`` with ``rir_folder``) check that the
folder exists when built; ``codec`` checks that this machine's libsndfile has the codec
(:mod:`sdd.augment.codecs`); ``babble`` needs an :class:`AugmentContext` carrying a pool of other
utterances.

No signal processing here, so validating the ``augment`` section (the plan stage) imports none. What
an op does to a waveform lives in :mod:`sdd.augment.apply`, which attaches one implementation to each
registered class (:func:`implements`). ``op(wave, sample_rate, rng, context)`` runs it and returns
``(wave, drawn)`` where ``drawn`` holds the exact values drawn, so every stored copy can be traced; the
first call imports :mod:`sdd.augment.apply` if nothing has yet. A module that runs ops imports
:mod:`sdd.augment.apply` itself, so that its stage's DVC deps (which follow imports) name the
implementations.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from sdd.augment.codecs import codec_support
from sdd.core.configbase import ConfigError, build, to_dict
from sdd.core.paths import resolve

__all__ = [
    "IMPLEMENTATIONS",
    "OPS",
    "AugmentContext",
    "Op",
    "OpParamError",
    "implements",
    "op_from_dict",
    "op_to_dict",
    "register",
]

#: The module that attaches every op's implementation when imported.
IMPLEMENTATIONS = "sdd.augment.apply"

#: An op's implementation: ``(op, wave (T,) float32, sample_rate, rng, context) -> (wave, drawn)``.
Implementation = Callable[..., tuple[np.ndarray, dict[str, Any]]]


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


#: The registry: op name -> op class.
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


def implements(cls: type[Op]) -> Callable[[Implementation], Implementation]:
    """Function decorator (used by :mod:`sdd.augment.apply`): make the function the implementation of
    the registered op class ``cls``."""

    def deco(fn: Implementation) -> Implementation:
        if OPS.get(cls.name) is not cls:
            raise ValueError(f"{cls.__name__} is not a registered op")
        if "_implementation" in vars(cls):
            raise ValueError(f"op {cls.name!r} implemented twice")
        cls._implementation = fn
        return fn

    return deco


@dataclass(frozen=True)
class Op:
    """Base class: a frozen dataclass of parameters; its implementation is attached by
    :func:`implements`."""

    name: ClassVar[str] = "op"
    _implementation: ClassVar[Implementation | None] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Range checks raising :class:`OpParamError` (types are checked by configbase.build)."""

    def check_sample_rate(self, sample_rate: int) -> None:
        """Raise :class:`OpParamError` when the op cannot run at ``sample_rate`` Hz."""

    def apply(
        self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator, context: AugmentContext
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """(T,) float32 -> ((T',) float32, drawn values); T' = T except for ``speed``.

        Raises:
            NotImplementedError: :mod:`sdd.augment.apply` has no implementation for this op.
        """
        impl = vars(type(self)).get("_implementation")
        if impl is None:
            importlib.import_module(IMPLEMENTATIONS)
            impl = vars(type(self)).get("_implementation")
        if impl is None:
            raise NotImplementedError(f"op {self.name!r} ({type(self).__name__}) has no implementation")
        return impl(self, wave, sample_rate, rng, context)

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


def _check_folder(op: Op, field: str) -> None:
    folder = getattr(op, field)
    if folder is not None and not resolve(folder).is_dir():
        op._fail(field, folder, f"an existing folder (resolved to {resolve(folder)})")


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

    def filter_kwargs(self) -> dict[str, Any]:
        """The notch-filter cascade's parameters as keyword arguments (shared by LnL and SSI)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(_NotchFilterParams)}


@register("lnl")
@dataclass(frozen=True)
class LnLConvolutive(_NotchFilterParams):
    """RawBoost algo 1 (linear and non-linear convolutive noise); see
    :func:`sdd.augment.rawboost.lnl_convolutive_noise`. Defaults: N_f=5, nBands=5, minF=20,
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


@register("isd")
@dataclass(frozen=True)
class ISDImpulsive(Op):
    """RawBoost algo 2 (impulsive signal-dependent noise): up to ``p`` percent of the samples
    (P=10), gain ``g_sd`` (2). See :func:`sdd.augment.rawboost.isd_additive_noise`."""

    p: float = 10.0
    g_sd: float = 2.0

    def validate(self) -> None:
        self._check_between("p", 0.0, 100.0)
        self._check_between("g_sd", 0.0, 100.0)


@register("ssi")
@dataclass(frozen=True)
class SSIColoured(_NotchFilterParams):
    """RawBoost algo 3 (stationary signal-independent coloured noise) at SNR ~ U(snr_min,
    snr_max) dB (10, 40) with the LnL filter defaults. See
    :func:`sdd.augment.rawboost.ssi_additive_noise`."""

    snr_min: float = 10.0
    snr_max: float = 40.0

    def validate(self) -> None:
        super().validate()
        self._check_order("snr_min", "snr_max", -30.0, 100.0)


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


@register("alaw")
@dataclass(frozen=True)
class ALaw(Op):
    """A-law companding (A = 87.6) and 8-bit quantisation (G.711 style)."""

    a: float = 87.6
    bits: int = 8

    def validate(self) -> None:
        self._check_between("a", 1.0, 1000.0)
        self._check_between("bits", 2, 16)


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


@register("codec")
@dataclass(frozen=True)
class Codec(Op):
    """A lossy codec round trip through libsndfile (mp3, ogg_vorbis, opus) at a compression level
    ~ U(compression_level) in [0, 1] (libsndfile's scale: 0 = best quality / highest bit rate)."""

    codec: Literal["mp3", "ogg_vorbis", "opus"] = "mp3"
    compression_level: tuple[float, ...] = (0.0, 1.0)

    def validate(self) -> None:
        self._check_range("compression_level", 0.0, 1.0)
        if not codec_support()[self.codec]:
            available = sorted(k for k, v in codec_support().items() if v)
            self._fail("codec", self.codec, f"a codec this libsndfile supports: {available}")


@register("packet_loss")
@dataclass(frozen=True)
class PacketLoss(Op):
    """Drop (zero) ``frame_ms`` frames with probability ~ U(loss_rate)."""

    loss_rate: tuple[float, ...] = (0.0, 0.1)
    frame_ms: float = 20.0

    def validate(self) -> None:
        self._check_range("loss_rate", 0.0, 1.0)
        self._check_between("frame_ms", 1.0, 1000.0)


@register("gain")
@dataclass(frozen=True)
class Gain(Op):
    """Gain ~ U(gain_db) dB (the policy's final peak normalisation still caps the peak at 1)."""

    gain_db: tuple[float, ...] = (-6.0, 6.0)

    def validate(self) -> None:
        self._check_range("gain_db", -60.0, 40.0)


@register("speed")
@dataclass(frozen=True)
class Speed(Op):
    """Speed change by factor ~ U(factor) (pitch follows); output length round(T / factor)."""

    factor: tuple[float, ...] = (0.9, 1.1)

    def validate(self) -> None:
        self._check_range("factor", 0.25, 4.0)

