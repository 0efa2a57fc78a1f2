"""The ``augment`` section of params.yaml, validated against the policy grammar of :mod:`.policies`,
and the augment stage's plan document (:class:`AugmentPlan`).

Every custom policy and the selected one are parsed when the section is built, so the dependency
points from here down to :mod:`.policies` (and :mod:`.ops`); neither imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdd.augment.policies import BUILTIN_POLICIES, build_policy, parse_policy
from sdd.core.configbase import ConfigError

__all__ = ["AugmentParams", "AugmentPlan"]

SECTION = "augment"


@dataclass(frozen=True)
class AugmentParams:
    """Augmentation settings (``augment:`` in params.yaml).

    Attributes:
        seed: seeds every copy (with utt_id, policy and copy index); not the training seed.
        policy: a built-in policy (``rawboost1``..``rawboost8``, ``noise_reverb``,
            ``codec_channel``) or a name under ``policies``. Default ``rawboost4`` (DPDA's choice).
        policies: user policies, name -> list of entries (see :mod:`sdd.augment.policies`).
        copies: augmented copies per utterance.
        sample_rate: Hz of the stored copies (sources are resampled to it).

    Every custom policy and the selected one are parsed and range-checked here, without audio, so a
    bad ``-S augment.policy=...`` fails in the plan stage; errors name the dotted key.
    """

    seed: int = 0
    policy: str = "rawboost4"
    policies: dict[str, Any] = field(default_factory=dict)
    copies: int = 1
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if not 1 <= self.copies <= 100:
            raise ConfigError(f"{SECTION}.copies: got {self.copies!r}; expected an integer in [1, 100]")
        if not 8000 <= self.sample_rate <= 96000:
            raise ConfigError(
                f"{SECTION}.sample_rate: got {self.sample_rate!r}; expected an integer in [8000, 96000] Hz"
            )
        clash = sorted(set(self.policies) & set(BUILTIN_POLICIES))
        if clash:
            raise ConfigError(
                f"{SECTION}.policies: name(s) {clash} shadow built-in policies; choose other names "
                f"(built-ins: {sorted(BUILTIN_POLICIES)})"
            )
        parsed = {}
        for name, spec in self.policies.items():
            if not name or "/" in name or name.startswith("."):
                raise ConfigError(f"{SECTION}.policies: policy name {name!r} is not a plain name")
            parsed[name] = parse_policy(spec, f"{SECTION}.policies.{name}")
        allowed = sorted(set(BUILTIN_POLICIES) | set(self.policies))
        if self.policy not in allowed:
            raise ConfigError(f"{SECTION}.policy: got {self.policy!r}; expected one of {allowed}")
        build_policy(self).check_sample_rate(self.sample_rate, f"{SECTION}.policy={self.policy}")


@dataclass(frozen=True)
class AugmentPlan:
    """``augment.json``: the training corpus and the resolved ``augment`` section (a plan document,
    :mod:`sdd.core.plandocs`)."""

    corpus: str
    augment: AugmentParams
