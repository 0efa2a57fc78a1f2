"""The small sections of params.yaml owned by single-module stages: ``prepare``, ``score``,
``evaluate``, ``baseline`` and ``tracking``.

Sections owned by a package live beside its code (:mod:`sdd.models.params`,
:mod:`sdd.train.params`, :mod:`sdd.augment.params`, the corpus recipes under
:mod:`sdd.data.corpora`); :mod:`sdd.config` assembles them all into the plan. Like those, this module
imports only :mod:`sdd.configbase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sdd.configbase import ConfigError

__all__ = ["BaselineParams", "EvaluateParams", "PrepareParams", "ScoreParams", "TrackingParams"]


@dataclass(frozen=True)
class PrepareParams:
    """The prepare stage: what to do with files that fail the decode check, and how many decoders."""

    on_bad_audio: Literal["error", "skip"] = "error"
    workers: int = 2


@dataclass(frozen=True)
class ScoreParams:
    """Scoring input: the first ``num_samples`` samples, repeat-padded when shorter (AASIST's 64,600)."""

    num_samples: int = 64600
    batch_size: int = 32
    threads: int = 2

    def __post_init__(self) -> None:
        for name in ("num_samples", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"score.{name}: got {getattr(self, name)}; expected a positive integer")


@dataclass(frozen=True)
class EvaluateParams:
    """The evaluate stage: bootstrap confidence interval of the EER (on/off, replicates, seed)."""

    ci: bool = True
    n_resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class BaselineParams:
    """The hand-feature logistic-regression reference (a difficulty check of the corpus)."""

    enabled: bool = True
    seed: int = 0


@dataclass(frozen=True)
class TrackingParams:
    """The MLflow experiment every run is logged under."""

    experiment: str = "sdd"
