"""The plan documents: validated params -> one typed document per stage (and per arm and seed).

:func:`plan_documents` builds each document as its type (:mod:`sdd.core.plandocs` and the packages'
``params`` modules), the type its stage reads back with :func:`sdd.core.stage.read_plan`;
:func:`make_plan` gives their JSON-able mappings, which the ``plan`` stage writes under
``data/plan/``. Each document holds exactly what one stage reads, so its hash changes only when that
stage's resolved inputs do. :func:`arm_plan_docs` covers the ``arms`` x ``seeds`` matrix (skipped
pairs included) and records a scoring-only arm's weight files with their SHA-256.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sdd.augment.params import AugmentPlan
from sdd.core.configbase import ConfigError, build, to_dict
from sdd.core.plandocs import (
    AuditPlan,
    BaselinePlan,
    EvalSet,
    EvaluatePlan,
    FetchPlan,
    PreparePlan,
    ScorePlan,
    SkippedPair,
    plan_dict,
)
from sdd.core.sections import PUBLISHED_REGIME
from sdd.models.params import PRETRAINED
from sdd.models.published_spec import PublishedRecord, published_record
from sdd.plan.arms import arm_seeds, fusion_row, partial_arm
from sdd.plan.schema import LoadedParams
from sdd.pretrain.params import OBJECTIVES, PretrainPlan
from sdd.probing.params import ExtractPlan, ExtractSettings, ProbePlan, ProbeSettings
from sdd.report.params import ReportPlan
from sdd.train.params import ArmSeedPlan, PartialPlan

__all__ = [
    "arm_plan_docs",
    "eval_set_id",
    "make_plan",
    "plan_documents",
]


def eval_set_id(corpus: str, split: str) -> str:
    """File-name-safe id of an eval set (``demo:eval`` -> ``demo__eval``)."""
    return f"{corpus}__{split}"


def make_plan(loaded: LoadedParams) -> dict[str, Any]:
    """Per-stage plan documents: ``{relative path under data/plan: JSON-able dict}``.

    Each document holds exactly what one stage reads, so its hash changes only when that stage's
    resolved inputs do. Each is built as its type (:mod:`sdd.core.plandocs` and the packages'
    ``params`` modules), the type its stage reads back with :func:`sdd.core.stage.read_plan`, and
    written with :func:`~sdd.core.plandocs.plan_dict`.
    """
    return {rel: plan_dict(doc) for rel, doc in plan_documents(loaded).items()}


def plan_documents(loaded: LoadedParams) -> dict[str, Any]:
    """The plan documents as their types: ``{relative path under data/plan: document}``."""
    p = loaded.params
    corpora = {name: {"name": name, **to_dict(cfg)} for name, cfg in loaded.corpora.items()}
    eval_sets = tuple(
        EvalSet(corpus=c, split=s, id=eval_set_id(c, s), name=f"{c}:{s}") for c, s in loaded.eval_sets
    )
    augment = to_dict(loaded.augment)
    docs: dict[str, Any] = {
        "fetch.json": FetchPlan(corpora=corpora),
        "prepare.json": PreparePlan(corpora=corpora, prepare=p.prepare, train_corpus=p.corpus,
                                    eval_sets=eval_sets),
        "augment.json": AugmentPlan(corpus=p.corpus, augment=loaded.augment),
        "baseline.json": BaselinePlan(corpus=p.corpus, eval_sets=eval_sets, baseline=p.baseline),
        "score.json": ScorePlan(eval_sets=eval_sets, score=p.score),
        "evaluate.json": EvaluatePlan(eval_sets=eval_sets, evaluate=p.evaluate, tracking=p.tracking),
        "audit.json": AuditPlan(corpus=p.corpus, eval_sets=eval_sets, audit=p.audit),
        "report.json": ReportPlan(
            arms={name: arm_seeds(p, name) for name in loaded.arms},
            order=tuple(loaded.arms),  # params.yaml's order (the JSON's keys are sorted)
            # each arm's resolved config without its seed, and what else its scores depend on: the
            # report keys MLflow runs and identifies systems across experiments by them
            configs={name: {k: v for k, v in to_dict(arm).items() if k != "seed"}
                     for name, arm in loaded.arms.items()},
            upstream={"corpus": corpora[p.corpus], "augment": augment, "score": to_dict(p.score)},
            seeds=p.seeds,
            eval_sets=eval_sets,
            corpus=p.corpus,
            augment=loaded.augment,
            report=p.report,
            tracking=p.tracking,
            probe_models=p.probe.models,
            fusions=tuple(fusion_row(p, row, f"report.fusion[{i}]") for i, row in enumerate(p.report.fusion)),
            evaluate=p.evaluate,
        ),
    }
    docs.update(arm_plan_docs(loaded))
    # The pretrain stage reads only what its outputs depend on: with any backbone but `pretrained` it
    # writes two small records, so the pretrain section and the training seed stay out of its plan;
    # with it, the other objective's subsection stays out (changing it re-runs nothing).
    pretrained = p.backbone == PRETRAINED
    unused = [o for o in OBJECTIVES if o != p.pretrain.objective]
    docs["pretrain.json"] = PretrainPlan(
        backbone=p.backbone,
        corpus=p.corpus,
        tiny=p.model.tiny,
        pretrain={k: v for k, v in to_dict(p.pretrain).items() if k not in unused} if pretrained else None,
        seed=p.pretrain.seed if pretrained else p.seeds[0],
    )
    probe = p.probe
    docs["extract.json"] = ExtractPlan(
        eval_sets=eval_sets,
        normalize_input=p.model.normalize_input,
        extract=ExtractSettings(num_samples=probe.num_samples, batch_size=probe.batch_size,
                                threads=probe.threads),
    )
    docs["probe.json"] = ProbePlan(
        eval_sets=eval_sets,
        probe=ProbeSettings(l2_grid=probe.l2_grid, kinds=probe.kinds, n_resamples=probe.n_resamples,
                            seed=probe.seed),
    )
    docs["partial.json"] = PartialPlan(
        eval_sets=eval_sets,
        score=p.score,
        evaluate=p.evaluate,
        arms=tuple(partial_arm(p, loaded.arms["main"], k) for k in p.probe.partial_layers),
    )
    return docs


def arm_plan_docs(loaded: LoadedParams) -> dict[str, Any]:
    """``{"arms/<arm>/s<seed>.json": document}`` for every arm and top-level seed (the DVC matrix).

    A pair the arm trains is an :class:`~sdd.train.params.ArmSeedPlan` (the resolved arm with that
    seed, and the MLflow experiment); a pair outside the arm's own ``seeds`` is a
    :class:`~sdd.core.plandocs.SkippedPair` (why, the arm's name, the seed), and its stages write skip
    records (the report leaves them out). A pair's document depends on nothing but that arm's
    resolved config and its seed, so adding a seed leaves every other document, and stage, alone.

    A scoring-only arm's document also holds ``published``: its weight files and their SHA-256
    (:func:`sdd.models.published_spec.published_record`), so changed weights re-run its stages. This
    reads and hashes the files: missing weights raise :class:`ConfigError` naming the path and the
    fetch command, here in the plan stage, before any heavy work.
    """
    p = loaded.params
    docs: dict[str, Any] = {}
    for name, arm in loaded.arms.items():
        own = arm_seeds(p, name)
        scoring_only = arm.regime == PUBLISHED_REGIME
        weights = _published_files(name, arm.backbone) if scoring_only else None
        for seed in p.seeds:
            key = f"arms/{name}/s{seed}.json"
            if seed in own:
                docs[key] = ArmSeedPlan(arm=dataclasses.replace(arm, seed=seed), tracking=p.tracking,
                                        published=weights)
            elif scoring_only and p.arms[name].seeds is None:
                why = (f"arms.{name} is scoring-only (regime {PUBLISHED_REGIME}): it has no training seed "
                       f"and runs once, with the first top-level seed ({own[0]})")
                docs[key] = SkippedPair(skipped=why, arm=name, seed=seed)
            else:
                docs[key] = SkippedPair(skipped=f"arms.{name}.seeds is {list(own)}", arm=name, seed=seed)
    for name in loaded.dvc_arms:  # arms of params.yaml that a preset dropped (sdd.plan.presets)
        why = f"arms.{name} is not an arm of preset {p.preset!r} (its arms: {sorted(loaded.arms)})"
        for seed in p.seeds:
            docs[f"arms/{name}/s{seed}.json"] = SkippedPair(skipped=why, arm=name, seed=seed)
    return docs


def _published_files(name: str, spec: str) -> PublishedRecord:
    try:
        return build(PublishedRecord, published_record(spec), "published")
    except ConfigError as exc:
        raise ConfigError(f"arms.{name}.backbone: {exc}") from exc
