"""Plan document types: what the plan stage writes under ``data/plan/`` and each stage reads back.

A plan document is a frozen dataclass. The plan (:mod:`sdd.plan.documents`) builds each one and
writes it with :func:`plan_dict`; its stage reads it with :func:`sdd.core.stage.read_plan`, which
builds the same type from the file with :func:`sdd.core.configbase.build` (unknown or missing keys
and wrong types are errors naming the file). One type per document, defined once, so a field added
on one side cannot be missed on the other.

Each type lives at or below the lowest package that reads it (``sdd.LAYERS``): this module holds the
parts every stage shares (:class:`EvalSet`, :class:`SkippedPair`) and the documents made of plumbing
sections only (:mod:`sdd.core.sections`). The others live beside their section types:
:class:`sdd.augment.params.AugmentPlan`, :class:`sdd.pretrain.params.PretrainPlan`,
:class:`sdd.probing.params.ExtractPlan` and :class:`~sdd.probing.params.ProbePlan`,
:class:`sdd.train.params.ArmSeedPlan` and :class:`~sdd.train.params.PartialPlan`,
:class:`sdd.report.params.ReportPlan`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sdd.core.configbase import to_dict
from sdd.core.sections import (
    AuditParams,
    BaselineParams,
    EvaluateParams,
    PrepareParams,
    ScoreParams,
    TrackingParams,
)

__all__ = [
    "OMIT_IF_NONE",
    "AuditPlan",
    "BaselinePlan",
    "EvalSet",
    "EvaluatePlan",
    "FetchPlan",
    "PreparePlan",
    "ScorePlan",
    "SkippedPair",
    "plan_dict",
]

#: Field metadata of an optional field that a document leaves out, rather than writing ``null``,
#: when it is None (e.g. the ``published`` record of an arm that trains).
OMIT_IF_NONE = {"omit_if_none": True}


def plan_dict(doc: Any) -> dict[str, Any]:
    """The JSON-able mapping of a plan document (:func:`~sdd.core.configbase.to_dict`, without the
    :data:`OMIT_IF_NONE` fields that are None)."""
    out = to_dict(doc)
    for f in dataclasses.fields(doc):
        if f.metadata.get("omit_if_none") and getattr(doc, f.name) is None:
            del out[f.name]
    return out


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set, ``<corpus>:<split>`` of ``eval_sets``.

    Attributes:
        corpus, split: the corpus name and its split.
        id: the file-name-safe id (``demo__eval``): score files, feature splits.
        name: ``demo:eval``, as the report and the metrics name it.
    """

    corpus: str
    split: str
    id: str
    name: str


@dataclass(frozen=True)
class SkippedPair:
    """The document of an arm/seed pair the arm does not run (outside its ``seeds``, or a scoring-only
    arm's other seeds): its stages write skip records (:func:`sdd.core.stage.write_skip`)."""

    skipped: str
    arm: str
    seed: int


@dataclass(frozen=True)
class FetchPlan:
    """``fetch.json``: the corpora in use, by name; each entry is ``{"name": ..., **its config}``
    (typed by :func:`sdd.data.corpora.parse_corpus` where it is read)."""

    corpora: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class PreparePlan:
    """``prepare.json``: the corpora in use, the prepare section, the training corpus, the eval sets."""

    corpora: dict[str, dict[str, Any]]
    prepare: PrepareParams
    train_corpus: str
    eval_sets: tuple[EvalSet, ...]


@dataclass(frozen=True)
class BaselinePlan:
    """``baseline.json``: the training corpus, the eval sets and the baseline section."""

    corpus: str
    eval_sets: tuple[EvalSet, ...]
    baseline: BaselineParams


@dataclass(frozen=True)
class ScorePlan:
    """``score.json``: the eval sets and the score section (shared by every arm and seed)."""

    eval_sets: tuple[EvalSet, ...]
    score: ScoreParams


@dataclass(frozen=True)
class EvaluatePlan:
    """``evaluate.json``: the eval sets, the evaluate section, the MLflow experiment, and the trials of
    each eval set, named (``trials``: eval set name -> :func:`sdd.evaluation.convention.trial_subset`)."""

    eval_sets: tuple[EvalSet, ...]
    evaluate: EvaluateParams
    tracking: TrackingParams
    trials: dict[str, str]


@dataclass(frozen=True)
class AuditPlan:
    """``audit.json``: the training corpus, the eval sets and the audit section."""

    corpus: str
    eval_sets: tuple[EvalSet, ...]
    audit: AuditParams

