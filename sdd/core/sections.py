"""The small sections of params.yaml owned by single-module stages: ``prepare``, ``score``,
``evaluate``, ``baseline``, ``audit``, ``report`` and ``tracking``.

Sections owned by a package live beside its code (:mod:`sdd.models.params`,
:mod:`sdd.train.params`, :mod:`sdd.augment.params`, the corpus recipes under
:mod:`sdd.data.corpora`); :mod:`sdd.plan` assembles them all into the plan. Like those, this module
imports only :mod:`sdd.core.configbase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sdd.core.configbase import ConfigError

__all__ = [
    "PUBLISHED_REGIME",
    "AuditParams",
    "BaselineParams",
    "EvaluateParams",
    "PrepareParams",
    "ReportParams",
    "ScoreParams",
    "TrackingParams",
]


#: The ``regime`` of a scoring-only arm: it trains nothing and scores with published weights
#: (:mod:`sdd.scoring.published`). Defined here, with the score section, so that the scoring-only arm
#: and the training package's list of regimes (:data:`sdd.train.params.REGIMES`) share one spelling.
PUBLISHED_REGIME = "published"


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


@dataclass(frozen=True)
class AuditParams:
    """The shortcut audit of every eval set (:mod:`sdd.audit.shortcuts`): one-feature EERs and the MFCC
    logistic regression (fitted on the training corpus's train split)."""

    enabled: bool = True
    workers: int = 2
    silence_db: float = 30.0  # a frame is silent this far below the loudest frame

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"audit.workers: got {self.workers}; expected a positive integer")
        if not self.silence_db > 0:
            raise ConfigError(f"audit.silence_db: got {self.silence_db}; expected a positive number")


@dataclass(frozen=True)
class ReportParams:
    """The comparative report's statistics.

    Every arm is compared with ``reference`` on the same trials by a paired bootstrap of the EER
    difference (seeds averaged; whole speakers resampled when ``block_by_speaker`` and the manifests
    name speakers), Holm-corrected at family-wise level ``alpha`` over all comparisons of one report.
    A shortcut of the audit is flagged beside an arm when its EER is below ``shortcut_factor`` times
    the arm's EER. Each ``fusion`` row (``[main, attm]``: two or more arms) adds a fused system, the
    linear logistic-regression fusion of those arms' scores fitted on the training corpus's dev scores
    (:mod:`sdd.report.fusion`), compared like any arm; opt-in, none by default.
    """

    reference: str = "main"
    n_resamples: int = 1000
    seed: int = 0
    alpha: float = 0.05
    block_by_speaker: bool = True
    shortcut_factor: float = 2.0
    fusion: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.n_resamples < 10:
            raise ConfigError(f"report.n_resamples: got {self.n_resamples}; expected at least 10")
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"report.alpha: got {self.alpha}; expected a number in (0, 1)")
        if not self.shortcut_factor > 0:
            raise ConfigError(f"report.shortcut_factor: got {self.shortcut_factor}; expected > 0")
        for i, row in enumerate(self.fusion):
            if len(row) < 2 or len(set(row)) != len(row):
                raise ConfigError(
                    f"report.fusion[{i}]: got {list(row)}; expected two or more different arm names "
                    "(e.g. [main, attm])"
                )
        names = ["+".join(row) for row in self.fusion]
        if len(set(names)) != len(names):
            raise ConfigError(f"report.fusion: got the same row twice in {[list(r) for r in self.fusion]}")
