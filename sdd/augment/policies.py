"""Augmentation policies: composition of named ops, built-in policies, and :func:`build_policy`.

A policy is a list of entries applied in series. An entry is one of

- ``{op: <name>, <params>...}``: a registered op (:data:`sdd.augment.ops.OPS`);
- ``{chain: [entries...]}``: the entries in series;
- ``{one_of: [entries...], weights: [w...]}``: one entry drawn with the given weights (uniform
  when ``weights`` is absent);
- ``{parallel: [entries...]}``: every entry applied to the same input, outputs summed, then
  peak-normalised if the peak exceeds 1 (RawBoost algo 8's combination);

and any entry may carry ``prob: q`` (apply with probability q, else pass through). ``prob`` is not
called ``p`` because RawBoost's ISD op has a published parameter ``P`` (our ``p``).

Level policy: every policy output is peak-normalised when its peak exceeds 1 (divided by the peak,
as RawBoost's ``normWav``), never hard-clipped, so outputs lie in [-1, 1] and additive-noise SNRs
are preserved. Inputs must be finite; a non-finite output is a bug and raises.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sdd.augment.ops import AugmentContext, Op, OpParamError, op_from_dict
from sdd.augment.waveform import peak_normalise
from sdd.core.configbase import ConfigError

__all__ = ["BUILTIN_POLICIES", "Node", "Policy", "PolicyChoice", "build_policy", "parse_policy"]

_RB = {"lnl": {"op": "lnl"}, "isd": {"op": "isd"}, "ssi": {"op": "ssi"}}

#: Built-in policies, in the same format as ``augment.policies`` in params.yaml.
BUILTIN_POLICIES: dict[str, list[dict[str, Any]]] = {
    "rawboost1": [_RB["lnl"]],
    "rawboost2": [_RB["isd"]],
    "rawboost3": [_RB["ssi"]],
    "rawboost4": [_RB["lnl"], _RB["isd"], _RB["ssi"]],
    "rawboost5": [_RB["lnl"], _RB["isd"]],
    "rawboost6": [_RB["lnl"], _RB["ssi"]],
    "rawboost7": [_RB["isd"], _RB["ssi"]],
    "rawboost8": [{"parallel": [_RB["lnl"], _RB["isd"]]}],
    "noise_reverb": [
        {"one_of": [{"op": "noise", "colour": c, "snr_db": [5.0, 20.0]} for c in ("white", "pink", "brown")]},
        {"op": "reverb", "prob": 0.5, "rt60_s": [0.2, 0.8]},
    ],
    "codec_channel": [
        {
            "one_of": [
                {"op": "codec", "codec": "mp3"},
                {"op": "codec", "codec": "ogg_vorbis"},
                {"op": "codec", "codec": "opus"},
                {"chain": [{"op": "telephone"}, {"op": "mulaw"}]},
                {"chain": [{"op": "telephone"}, {"op": "alaw"}]},
            ]
        },
        {"op": "packet_loss", "prob": 0.3},
        {"op": "gain", "prob": 0.5},
    ],
}


class Node(abc.ABC):
    """A node of a policy tree: ``node(wave, sr, rng, ctx) -> (wave, drawn)``; with ``prob`` < 1 it
    applies with that probability (one ``rng.random()`` draw) and passes the wave through otherwise."""

    prob: float = 1.0

    @abc.abstractmethod
    def run(
        self, wave: np.ndarray, sr: int, rng: np.random.Generator, ctx: AugmentContext
    ) -> tuple[np.ndarray, Any]:
        """(T,) float32 -> ((T',) float32, drawn-parameter record)."""

    @abc.abstractmethod
    def ops(self) -> list[Op]:
        """The ops under this node, in definition order."""

    def __call__(
        self, wave: np.ndarray, sr: int, rng: np.random.Generator, ctx: AugmentContext
    ) -> tuple[np.ndarray, Any]:
        if self.prob < 1.0:
            if not rng.random() < self.prob:
                return wave, {"applied": False}
            y, drawn = self.run(wave, sr, rng, ctx)
            return y, {"applied": True, **drawn}
        return self.run(wave, sr, rng, ctx)


@dataclass
class OpNode(Node):
    op: Op
    prob: float = 1.0

    def run(
        self, wave: np.ndarray, sr: int, rng: np.random.Generator, ctx: AugmentContext
    ) -> tuple[np.ndarray, Any]:
        y, drawn = self.op(wave, sr, rng, ctx)
        return y, {"op": self.op.name, **drawn}

    def ops(self) -> list[Op]:
        return [self.op]


@dataclass
class Chain(Node):
    children: list[Node]
    prob: float = 1.0

    def run(
        self, wave: np.ndarray, sr: int, rng: np.random.Generator, ctx: AugmentContext
    ) -> tuple[np.ndarray, Any]:
        records = []
        for child in self.children:
            wave, rec = child(wave, sr, rng, ctx)
            records.append(rec)
        return wave, {"chain": records}

    def ops(self) -> list[Op]:
        return [op for c in self.children for op in c.ops()]


@dataclass
class OneOf(Node):
    children: list[Node]
    weights: np.ndarray
    prob: float = 1.0

    def run(
        self, wave: np.ndarray, sr: int, rng: np.random.Generator, ctx: AugmentContext
    ) -> tuple[np.ndarray, Any]:
        i = int(rng.choice(len(self.children), p=self.weights))
        y, rec = self.children[i](wave, sr, rng, ctx)
        return y, {"one_of": i, "chosen": rec}

    def ops(self) -> list[Op]:
        return [op for c in self.children for op in c.ops()]


@dataclass
class Parallel(Node):
    children: list[Node]
    prob: float = 1.0

    def run(
        self, wave: np.ndarray, sr: int, rng: np.random.Generator, ctx: AugmentContext
    ) -> tuple[np.ndarray, Any]:
        total = np.zeros(wave.shape[0], dtype=np.float64)
        records = []
        for child in self.children:
            y, rec = child(wave, sr, rng, ctx)
            if y.shape != wave.shape:
                raise ValueError(f"parallel: a branch changed the length {wave.shape[0]} -> {y.shape[0]}")
            total += y
            records.append(rec)
        return peak_normalise(total).astype(np.float32), {"parallel": records}

    def ops(self) -> list[Op]:
        return [op for c in self.children for op in c.ops()]


_COMPOSITES = ("op", "chain", "one_of", "parallel")


def _parse_entry(entry: Any, where: str) -> Node:
    if not isinstance(entry, dict):
        raise ConfigError(
            f"{where}: got {entry!r}; expected a mapping with one of the keys {list(_COMPOSITES)}"
        )
    kinds = [k for k in _COMPOSITES if k in entry]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: got keys {sorted(entry)}; expected exactly one of {list(_COMPOSITES)}")
    kind = kinds[0]
    prob = entry.get("prob", 1.0)
    if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0.0 <= prob <= 1.0:
        raise ConfigError(f"{where}.prob: got {prob!r}; expected a number in [0, 1]")
    prob = float(prob)
    if kind == "op":
        return OpNode(op_from_dict({k: v for k, v in entry.items() if k != "prob"}, where), prob)
    extra = sorted(set(entry) - {kind, "prob"} - ({"weights"} if kind == "one_of" else set()))
    if extra:
        allowed = [kind, "prob"] + (["weights"] if kind == "one_of" else [])
        raise ConfigError(f"{where}: unknown key(s) {extra}; expected keys among {allowed}")
    items = entry[kind]
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}.{kind}: got {items!r}; expected a non-empty list of entries")
    children = [_parse_entry(e, f"{where}.{kind}[{i}]") for i, e in enumerate(items)]
    if kind == "chain":
        return Chain(children, prob)
    if kind == "parallel":
        return Parallel(children, prob)
    weights = entry.get("weights", [1.0] * len(children))
    if (
        not isinstance(weights, list)
        or len(weights) != len(children)
        or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights)
        or sum(weights) <= 0
    ):
        raise ConfigError(
            f"{where}.weights: got {weights!r}; "
            f"expected {len(children)} non-negative numbers with a positive sum"
        )
    w = np.asarray(weights, dtype=np.float64)
    return OneOf(children, w / w.sum(), prob)


def parse_policy(spec: Any, where: str) -> Node:
    """Parse a policy (a list of entries, see the module docstring) into a :class:`Chain`.

    Raises:
        ConfigError: naming the dotted key (e.g. ``augment.policies.mine[1].snr_db``), the value and
            the allowed values.
    """
    if not isinstance(spec, list) or not spec:
        raise ConfigError(f"{where}: got {spec!r}; expected a non-empty list of entries like {{op: lnl}}")
    return Chain([_parse_entry(e, f"{where}[{i}]") for i, e in enumerate(spec)])


@dataclass
class Policy:
    """A named, parsed policy; ``policy(wave, sample_rate, rng) -> (wave, drawn)``.

    Attributes:
        name: the policy name (``augment.policy``).
        root: the parsed tree.
        spec: the entries it was parsed from (logged with the copies).
    """

    name: str
    root: Node
    spec: list[dict[str, Any]]

    def __call__(
        self,
        wave: np.ndarray,
        sample_rate: int,
        rng: np.random.Generator,
        context: AugmentContext | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Augment ``wave`` (T,) at ``sample_rate`` Hz.

        Returns:
            ``(y, drawn)``: y (T,) float32 in [-1, 1] (length changes only through ``speed``), and
            the drawn parameters as a JSON-serialisable tree.

        Raises:
            ValueError: the input is not a finite, non-empty (T,) waveform.
        """
        x = np.asarray(wave, dtype=np.float32)
        if x.ndim != 1 or x.shape[0] == 0:
            raise ValueError(f"policy {self.name}: expected a non-empty (T,) waveform; got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"policy {self.name}: input waveform has NaN or inf samples")
        y, drawn = self.root(x, sample_rate, rng, context or AugmentContext())
        y = peak_normalise(np.asarray(y, dtype=np.float32))
        if not np.all(np.isfinite(y)):
            raise RuntimeError(f"policy {self.name}: produced non-finite samples (drawn: {drawn})")
        return y.astype(np.float32, copy=False), drawn

    def ops(self) -> list[Op]:
        """Every op in the tree (in definition order)."""
        return self.root.ops()

    def check_sample_rate(self, sample_rate: int, where: str) -> None:
        """Raise ConfigError when an op cannot run at ``sample_rate`` Hz."""
        for op in self.ops():
            try:
                op.check_sample_rate(sample_rate)
            except OpParamError as exc:
                raise ConfigError(f"{where} (op {op.name}).{exc.field}: {exc.detail}") from None


def policy_specs(custom: dict[str, Any]) -> dict[str, Any]:
    """Built-in and user policies by name (user names must not shadow built-ins)."""
    return {**BUILTIN_POLICIES, **custom}


class PolicyChoice(Protocol):
    """What :func:`build_policy` reads: the selected policy name and the user-defined policies (the
    ``augment`` section, :class:`sdd.augment.params.AugmentParams`, is one)."""

    @property
    def policy(self) -> str: ...

    @property
    def policies(self) -> Mapping[str, Any]: ...


def build_policy(params: PolicyChoice) -> Policy:
    """The policy named by ``params.policy`` (built-in or from ``params.policies``)."""
    specs = policy_specs(params.policies)
    if params.policy not in specs:
        raise ConfigError(f"augment.policy: got {params.policy!r}; expected one of {sorted(specs)}")
    if params.policy in params.policies:
        where = f"augment.policies.{params.policy}"
    else:
        where = f"built-in policy {params.policy}"
    return Policy(params.policy, parse_policy(specs[params.policy], where), specs[params.policy])
