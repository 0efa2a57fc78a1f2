"""The small sections of params.yaml owned by single-module stages: ``prepare``, ``score``,
``evaluate``, ``baseline``, ``audit``, ``report`` and ``tracking``.

Sections owned by a package live beside its code (:mod:`sdd.models.params`,
:mod:`sdd.train.params`, :mod:`sdd.augment.params`, the corpus recipes under
:mod:`sdd.data.corpora`); :mod:`sdd.plan` assembles them all into the plan. Like those, this module
imports only :mod:`sdd.core.configbase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sdd.core.configbase import ConfigError

__all__ = [
    "INPUT_RULES",
    "KNOWN_INPUT_LENGTHS",
    "PUBLISHED_REGIME",
    "AuditParams",
    "BaselineParams",
    "EvaluateParams",
    "InputRule",
    "PrepareParams",
    "ReportParams",
    "ScoreParams",
    "TrackingParams",
    "input_rule",
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


#: The score stage's input rules (``score.input``): what of each utterance the detector scores.
INPUT_RULES = {
    "first_n_samples": "the first score.num_samples samples, repeat-padded when the utterance is shorter",
    "whole_utterance": "the whole utterance, neither cut nor padded (score.num_samples: null)",
}
InputRule = Literal["first_n_samples", "whole_utterance"]


@dataclass(frozen=True)
class ScoreParams:
    """What the score stage feeds the detector (``input``, :data:`INPUT_RULES`), in batches of
    ``batch_size`` on ``threads`` torch threads.

    ``input: first_n_samples`` (the default) scores the first ``num_samples`` samples, repeat-padded
    when shorter (AASIST's 64,600); ``input: whole_utterance`` scores each utterance as it is, and takes
    ``num_samples: null`` (a length would mean nothing there, so a number is refused rather than
    ignored).
    """

    input: InputRule = "first_n_samples"
    num_samples: int | None = 64600
    batch_size: int = 32
    threads: int = 2

    def __post_init__(self) -> None:
        if self.input == "whole_utterance" and self.num_samples is not None:
            raise ConfigError(
                f"score.num_samples: got {self.num_samples} with score.input whole_utterance; expected "
                "null (whole utterances are scored uncut: set score.num_samples: null)"
            )
        if self.input == "first_n_samples" and self.num_samples is None:
            raise ConfigError(
                "score.num_samples: got null with score.input first_n_samples; expected a positive "
                "integer (or score.input: whole_utterance to score whole utterances)"
            )
        for name in ("num_samples", "batch_size", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"score.{name}: got {value}; expected a positive integer")

    @property
    def whole(self) -> bool:
        """True when each utterance is scored whole (``input: whole_utterance``)."""
        return self.input == "whole_utterance"


#: Input lengths at 16 kHz that a published convention uses: length -> who scores that way.
KNOWN_INPUT_LENGTHS = {
    64600: "AASIST / SSL-AASIST",
    64000: "the Speech Anti-Spoofing Arena's 4 s",
}


def input_rule(num_samples: int | None, sample_rate: int) -> dict[str, Any]:
    """The score stage's input rule (:data:`INPUT_RULES`), as the score folder's ``model.json`` and
    ``metrics.json`` record it: ``{rule, num_samples, sample_rate, name}``.

    ``num_samples`` an integer: the first ``num_samples`` samples at ``sample_rate``, repeat-padded when
    the utterance is shorter (:func:`sdd.audio.crop.crop_or_pad`), named after the published convention
    of that length when there is one (:data:`KNOWN_INPUT_LENGTHS`). ``None``: whole utterances at
    ``sample_rate``, neither cut nor padded (``num_samples`` stays None). The evaluate stage names the
    rule next to each EER (:mod:`sdd.evaluation.convention`)."""
    if (num_samples is not None and num_samples < 1) or sample_rate < 1:
        raise ValueError(
            f"input_rule: got num_samples={num_samples}, sample_rate={sample_rate}; expected >= 1"
        )
    if num_samples is None:
        name = f"whole utterances at {sample_rate:,} Hz, neither cut nor padded"
        return {"rule": "whole_utterance", "num_samples": None, "sample_rate": sample_rate, "name": name}
    seconds = num_samples / sample_rate
    name = f"first {num_samples:,} samples at {sample_rate:,} Hz ({seconds:.2f} s), repeat-padded"
    known = KNOWN_INPUT_LENGTHS.get(num_samples) if sample_rate == 16000 else None
    if known:
        name += f" ({known})"
    return {"rule": "first_n_samples", "num_samples": num_samples, "sample_rate": sample_rate, "name": name}


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
