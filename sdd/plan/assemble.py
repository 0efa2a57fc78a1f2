"""The plan: ``params.yaml`` -> validated, frozen dataclasses -> one small JSON document per stage.

``params.yaml`` holds top-level toggles (``corpus``, ``eval_sets``, ``backbone``, ``align``, ``lora``,
``seeds``, ``regime``), one section per stage plus the ``aligner`` settings, named ``corpora`` and
named ``arms`` (small overrides of the base). :func:`load_params` validates all of it at once (unknown
keys, wrong types and bad choices raise :class:`~sdd.core.configbase.ConfigError` naming the key, the value
and the allowed values). :func:`make_plan` resolves it into one small JSON document per stage (and per
arm and seed), which the ``plan`` stage writes under ``data/plan/``; every other stage depends on its
own plan file instead of on ``params.yaml``, so DVC re-runs exactly the stages whose resolved inputs
changed (``-S align=true`` re-runs only the arms that inherit ``align``).

**Seeds.** ``seeds`` (default ``[0]``) lists the training seeds; ``dvc.yaml``'s ``train``, ``score``
and ``evaluate`` stages are a DVC ``matrix`` over ``arms`` x ``seeds`` (stage ``train@main-0``), and
the plan writes one document per pair, ``arms/<arm>/s<seed>.json``. An arm may restrict itself to a
subset (``arms.<arm>.seeds``); DVC still sees the pairs it skips, so their documents say
``{"skipped": ...}`` and the stages write a small skip record instead of training (see
:func:`arm_plan_docs`). ``-S 'seeds=[0,1]'`` adds only the new pairs' documents: the existing ones,
and so their stages, are unchanged.

**Scoring-only arms.** An arm ``{backbone: "aasist:<path>", regime: published}`` trains nothing: it
scores the published AASIST (Jung et al., ICASSP 2022) as it is. It has no training seed, so it runs
with the first top-level seed only (its other pairs are skipped as above), and none of the training
toggles or sections apply to it (its resolved config carries their defaults, so ``-S align=...`` or
``-S train.lr=...`` leave it cached). Its plan document records the SHA-256 of the weights and config
(:func:`sdd.models.published_spec.published_record`), checked at plan time, so other weights re-run its
stages and missing ones stop the plan with the command that fetches them.

**Where it is.** This module is the plan's entry point (``from sdd.plan.assemble import load_params,
make_plan``) and its overview; the work is in one module per idea: the shape of ``params.yaml``
(:mod:`sdd.plan.schema`), a paper preset applied before validation (:mod:`sdd.plan.presets`), arm
resolution (:mod:`sdd.plan.arms`), validation and loading (:mod:`sdd.plan.validate`; settings that
contradict each other: :mod:`sdd.plan.consistency`) and the
plan documents (:mod:`sdd.plan.documents`, typed by :mod:`sdd.core.plandocs` and the packages'
``params`` modules). Each section's type lives beside the code that reads it (:mod:`sdd.models.params`,
:mod:`sdd.train.params`, :mod:`sdd.augment.params`, :mod:`sdd.core.sections`, the corpus recipes of
:mod:`sdd.data.corpora`), and nothing below imports the plan package.
"""

from __future__ import annotations

from sdd.plan.arms import is_scoring_only, partial_arm, resolve_arm
from sdd.plan.documents import arm_plan_docs, eval_set_id, make_plan, plan_documents
from sdd.plan.schema import ArmOverrides, LoadedParams, Params
from sdd.plan.validate import load_params, validate_params

__all__ = [
    "ArmOverrides",
    "LoadedParams",
    "Params",
    "arm_plan_docs",
    "eval_set_id",
    "is_scoring_only",
    "load_params",
    "make_plan",
    "partial_arm",
    "plan_documents",
    "resolve_arm",
    "validate_params",
]
