"""The report stage's plan document, :class:`ReportPlan` (``data/plan/report.json``; see
:mod:`sdd.core.plandocs`). It lives here, not in :mod:`sdd.core.plandocs`, because its ``augment``
field is an :class:`~sdd.augment.params.AugmentParams`, a layer above ``core`` (``sdd.LAYERS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdd.augment.params import AugmentParams
from sdd.core.plandocs import EvalSet
from sdd.core.sections import EvaluateParams, ReportParams, TrackingParams

__all__ = ["FusionRow", "ReportPlan"]


@dataclass(frozen=True)
class FusionRow:
    """One fused system of the report (a ``report.fusion`` row), resolved by the plan.

    Attributes:
        name: the system's name in the report (the arms joined by ``+``: ``main+attm``).
        arms: the fused arms, in the row's order.
        seeds: the fused seeds: the seeds every trained arm of the row has (each fuses the arms' runs
            of that seed).
        fixed: scoring-only arms (no training seed) -> the seed of their one run, which joins every
            fused seed.
    """

    name: str
    arms: tuple[str, ...]
    seeds: tuple[int, ...]
    fixed: dict[str, int]

    def arm_seed(self, arm: str, seed: int) -> int:
        """The run of ``arm`` that fused seed ``seed`` uses."""
        return self.fixed.get(arm, seed)


@dataclass(frozen=True)
class ReportPlan:
    """``report.json``: everything the report stage compares.

    Attributes:
        arms: arm -> the seeds it runs; ``order``: the arms in ``params.yaml``'s order.
        configs: arm -> its resolved config without the seed (MLflow runs and systems are keyed by it).
        upstream: what else the scores depend on (the training corpus's entry, augment, score), as
            JSON-able mappings: :func:`sdd.report.inputs.system_digest` hashes them.
        seeds: the top-level training seeds.
        eval_sets, corpus, augment, report, tracking: as in the other documents.
        probe_models: the probed models (``probe.models``).
        fusions: the fused systems (``report.fusion``, resolved), after the arms in the report.
        evaluate: the evaluate section: a fused system's metrics are computed as the evaluate stage
            computes an arm's.
    """

    arms: dict[str, tuple[int, ...]]
    order: tuple[str, ...]
    configs: dict[str, dict[str, Any]]
    upstream: dict[str, Any]
    seeds: tuple[int, ...]
    eval_sets: tuple[EvalSet, ...]
    corpus: str
    augment: AugmentParams
    report: ReportParams
    tracking: TrackingParams
    probe_models: tuple[str, ...]
    fusions: tuple[FusionRow, ...] = ()
    evaluate: EvaluateParams = EvaluateParams()
