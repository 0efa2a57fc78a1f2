"""What a comparative report is made of (:class:`ReportInput`), read from the pipeline's DVC outputs.

The pipeline's report stage builds a :class:`ReportInput` with :func:`from_pipeline`; ``sdd compare``
builds the same structure from MLflow runs (:mod:`sdd.report.compare`). Everything after that,
statistics (:mod:`sdd.report.stats`), figures and pages (:mod:`sdd.report.build` with its sections), is
shared, so both give the same numbers from the same runs.

A *system* is one configuration (an arm, in the pipeline) trained with one or more seeds; each seed
is a :class:`SeedRun`. In the pipeline, systems are the arms; across MLflow runs, runs of the same
arm with the same resolved config and upstream data (:func:`system_digest`) are one system, whatever
experiment they came from, so seeds from ``dvc exp run --queue -S 'seeds=[1,2]'`` join seed 0 of the
workspace run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.core.sections import ReportParams
from sdd.core.stage import read_manifest
from sdd.evaluation.eval_sets import TRIAL_COLUMNS, scored_trials
from sdd.report.params import ReportPlan
from sdd.report.tracking import config_digest

__all__ = ["ReportInput", "SeedRun", "from_pipeline", "read_trials_csv", "seen_attacks", "system_digest"]


@dataclass
class SeedRun:
    """One trained seed of one system.

    Attributes:
        seed: the training seed.
        eval: eval set name -> the evaluate stage's metrics dict (fractions).
        train: the train stage's summary dict (``reports/train/<arm>/s<seed>.json`` ``summary``).
        epochs: per-epoch rows (``epoch``, ``train_loss``, ``dev_loss``, ``dev_eer``, ...).
        telemetry: per-step rows (``step``, ``epoch``, ``loss``, ``cos``, ``conflict``, ...; columns an
            arm lacks are absent or NaN).
        trials: eval set name -> scored trials (:data:`sdd.evaluation.eval_sets.TRIAL_COLUMNS`).
        source: where it came from (a DVC output path or an MLflow run id), for the report's metadata.
        fusion: a fused system's fusion (:mod:`sdd.report.fusion`: arms, weights, offset, prior, ...);
            None for an arm.
    """

    seed: int
    eval: dict[str, dict[str, Any]]
    train: dict[str, Any]
    epochs: pd.DataFrame
    telemetry: pd.DataFrame
    trials: dict[str, pd.DataFrame]
    source: str = ""
    fusion: dict[str, Any] | None = None


@dataclass
class ReportInput:
    """Everything a comparative report shows.

    Attributes:
        systems: system name -> seed -> :class:`SeedRun` (insertion order is the report's order).
        configs: system name -> its resolved config without the seed (``regime``, ``align``, ...).
        eval_sets: eval set names, in order.
        reference: the system every other one is compared with (None: no comparisons).
        baseline: the hand-feature baseline, eval set -> metrics (may be empty).
        audit: the shortcut audit, eval set -> :meth:`sdd.audit.shortcuts.ShortcutAudit.to_dict` plus
            ``flagged`` (may be empty).
        seen_attacks: attack ids present in the training corpus's train split.
        stats: the ``report`` params section (:class:`~sdd.core.sections.ReportParams`: reference,
            n_resamples, seed, alpha, block_by_speaker, shortcut_factor).
        title, intro: the report's heading and first paragraph.
    """

    systems: dict[str, dict[int, SeedRun]]
    configs: dict[str, dict[str, Any]]
    eval_sets: list[str]
    reference: str | None
    stats: ReportParams
    baseline: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    seen_attacks: set[str] = field(default_factory=set)
    title: str = "sdd report"
    intro: str = ""


def system_digest(config: Mapping[str, Any], upstream: Mapping[str, Any]) -> str:
    """Identity of a system across experiments: its config without the seed and the upstream data
    config it was trained and scored on (training corpus, augmentation, scoring)."""
    return config_digest(
        {"arm": {k: v for k, v in config.items() if k != "seed"}, "upstream": dict(upstream)}
    )


def seen_attacks(train_manifest: pd.DataFrame) -> set[str]:
    """Attack ids of the spoofs in a training manifest (``-`` marks bona fide)."""
    spoof = train_manifest[train_manifest["label"] == "spoof"]
    return {str(a) for a in spoof["attack"]} - {"-"}


def read_trials_csv(path: Path) -> pd.DataFrame:
    """A scored-trials table written by :meth:`sdd.report.tracking.Run.log_table`: floats were written as
    their shortest round-trip repr, which pandas' parser reads back exactly (tested)."""
    return pd.read_csv(
        path, keep_default_na=False, dtype={"utt_id": str, "label": str, "speaker": str, "attack": str}
    )[list(TRIAL_COLUMNS)]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def from_pipeline(
    plan: ReportPlan,
    *,
    eval_dir: Path,
    train_dir: Path,
    telemetry_dir: Path,
    scores_dir: Path,
    manifests_dir: Path,
    baseline: Path,
    audit: Path,
    train_manifest: Path,
    title: str,
    intro: str,
) -> ReportInput:
    """Read the DVC outputs of every arm and seed the report plan (``data/plan/report.json``, read
    with :func:`sdd.core.stage.read_plan`) names.

    Per arm and seed: ``<eval_dir>/<arm>/s<seed>.json``, ``<train_dir>/<arm>/s<seed>.json``,
    ``<telemetry_dir>/<arm>/s<seed>.csv`` and the score folder ``<scores_dir>/<arm>/s<seed>``.
    """
    systems: dict[str, dict[int, SeedRun]] = {}
    for arm in plan.order:
        seeds = plan.arms[arm]
        systems[arm] = {}
        for seed in seeds:
            rel = f"{arm}/s{seed}"
            train = _read_json(train_dir / f"{rel}.json")
            systems[arm][seed] = SeedRun(
                seed=seed,
                eval=_read_json(eval_dir / f"{rel}.json"),
                train=train["summary"],
                epochs=pd.DataFrame(train["epochs"]),
                telemetry=pd.read_csv(telemetry_dir / f"{rel}.csv"),
                trials={
                    e.name: scored_trials(scores_dir / rel, manifests_dir, e) for e in plan.eval_sets
                },
                source=rel,
            )
    manifest = read_manifest(train_manifest)
    return ReportInput(
        systems=systems,
        configs=plan.configs,
        eval_sets=[e.name for e in plan.eval_sets],
        reference=plan.report.reference,
        stats=plan.report,
        baseline=_read_json(baseline),
        audit=_read_json(audit),
        seen_attacks=seen_attacks(manifest),
        title=title,
        intro=intro,
    )
