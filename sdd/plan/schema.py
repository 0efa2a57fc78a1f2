"""The shape of ``params.yaml``: :class:`Params` (the whole file as typed sections), what an arm may
override (:class:`ArmOverrides`) and what validation resolves (:class:`LoadedParams`).

Each section's own type lives beside the code that reads it (:mod:`sdd.models.params`,
:mod:`sdd.train.params`, :mod:`sdd.augment.params`, :mod:`sdd.pretrain.params`,
:mod:`sdd.probing.params`, :mod:`sdd.core.sections`, the corpus recipes of :mod:`sdd.data.corpora`);
this module only puts them together. Validation is :mod:`sdd.plan.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdd.augment.params import AugmentParams
from sdd.core.sections import (
    AuditParams,
    BaselineParams,
    EvaluateParams,
    PrepareParams,
    ReportParams,
    ScoreParams,
    TrackingParams,
)
from sdd.data.corpora import CorpusConfig
from sdd.models.params import ModelParams
from sdd.pretrain.params import PretrainParams
from sdd.probing.params import ProbeParams
from sdd.train.params import AlignerParams, ArmConfig, TrainParams

__all__ = [
    "ArmOverrides",
    "LoadedParams",
    "Params",
]


@dataclass(frozen=True)
class ArmOverrides:
    """What an arm may override: training toggles and the model/train/aligner sections (deep-merged)."""

    backbone: str | None = None
    regime: str | None = None
    align: bool | str | None = None
    lora: bool | None = None
    seeds: tuple[int, ...] | None = None  # a subset of the top-level `seeds` (see the module docstring)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    aligner: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Params:
    """The whole, validated ``params.yaml``."""

    corpus: str
    eval_sets: tuple[str, ...]
    backbone: str
    align: bool | str
    lora: bool
    regime: str
    corpora: dict[str, dict[str, Any]]
    arms: dict[str, ArmOverrides]
    seeds: tuple[int, ...] = (0,)  # TRAINING seeds; corpora and augmentation have their own
    prepare: PrepareParams = field(default_factory=PrepareParams)
    augment: dict[str, Any] = field(default_factory=dict)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    aligner: AlignerParams = field(default_factory=AlignerParams)
    score: ScoreParams = field(default_factory=ScoreParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    baseline: BaselineParams = field(default_factory=BaselineParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    audit: AuditParams = field(default_factory=AuditParams)
    report: ReportParams = field(default_factory=ReportParams)
    pretrain: PretrainParams = field(default_factory=PretrainParams)
    probe: ProbeParams = field(default_factory=ProbeParams)
    # A paper's recipe (presets/<name>.yaml), applied before validation; preset_overrides is merged
    # after it and is empty once applied (sdd.plan.presets).
    preset: str | None = None
    preset_overrides: dict[str, Any] = field(default_factory=dict)



@dataclass(frozen=True)
class LoadedParams:
    """Validated params plus what validation resolved (corpus configs, arms)."""

    params: Params
    corpora: dict[str, CorpusConfig]  # the corpora in use
    arms: dict[str, ArmConfig]
    eval_sets: tuple[tuple[str, str], ...]
    augment: AugmentParams
    # The arms of params.yaml before a preset replaced them: dvc.yaml's matrix runs over these, so the
    # plan writes a skip document for each one the preset dropped (sdd.plan.presets).
    dvc_arms: tuple[str, ...] = ()
