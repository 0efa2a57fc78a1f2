"""The train stage's work for one (arm, seed), in one call: :func:`train_arm_seed`.

Its three cases write the same four outputs that DVC expects (the model folder, the per-step
telemetry CSV, the per-epoch CSV, the metrics JSON), the two CSVs in one place:

- **skipped** (the pair lies outside the arm's ``seeds``): skip records and empty CSVs;
- **scoring-only** (regime ``published``): the published weights' record
  (:func:`sdd.scoring.published.write_model`) and empty CSVs;
- **trained**: :func:`sdd.train.loop.fit` from the arm's resumable checkpoints, then the model folder
  with the full resolved config and the dev-EER threshold, and the telemetry.

The MLflow run is opened by the caller (``stages/train.py``; :mod:`sdd.report.tracking` sits above this
package) and passed in as ``run``, which needs only :class:`RunLog`'s three methods.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sdd.core import atomic, faults
from sdd.core.paths import resolve
from sdd.core.plandocs import SkippedPair, plan_dict
from sdd.core.sections import PUBLISHED_REGIME
from sdd.core.stage import peak_rss_mb, read_manifest, write_json, write_skip
from sdd.models.detector import decision_threshold_record, parameter_counts
from sdd.models.source import resolve_backbone
from sdd.scoring import published
from sdd.train.arm_model import save_arm
from sdd.train.checkpoint import Checkpoints
from sdd.train.loop import EPOCH_COLUMNS, TELEMETRY_COLUMNS, fit
from sdd.train.params import ArmSeedPlan

__all__ = ["RunLog", "TrainIO", "train_arm_seed"]


@dataclass(frozen=True)
class TrainIO:
    """The train stage's inputs and outputs (``dvc.yaml`` owns every path)."""

    train: Path  # the training corpus's train manifest
    dev: Path  # its dev manifest (model selection only)
    augmented: Path  # the augment stage's folder (its manifest.csv and the copies)
    backbone: Path  # the pretrain stage's models/backbone (read when the backbone is `pretrained`)
    checkpoints: Path  # resumable checkpoints (outside DVC's outputs)
    out: Path  # the model folder
    telemetry: Path  # per-step CSV
    epochs: Path  # per-epoch CSV
    metrics: Path  # summary + per-epoch JSON


class RunLog(Protocol):
    """What :func:`train_arm_seed` logs to (an :mod:`sdd.report.tracking` run, or one that logs nothing)."""

    def log_epoch(self, row: dict[str, Any]) -> None: ...

    def log_train(self, summary: dict[str, Any], train_json: Path, telemetry: Path) -> None: ...

    def log_model(self, folder: Path, example: Path | None = None) -> None: ...


def _write_tables(io: TrainIO, telemetry: list, epochs: list) -> None:
    """The per-step and per-epoch CSVs (with their header when empty), for ``dvc plots``."""
    import pandas as pd

    atomic.write_csv(pd.DataFrame(telemetry, columns=list(TELEMETRY_COLUMNS)), io.telemetry)
    atomic.write_csv(pd.DataFrame(epochs, columns=list(EPOCH_COLUMNS)), io.epochs)


def _finish(summary: dict[str, Any], telemetry: list, epochs: list, io: TrainIO, run: RunLog) -> None:
    _write_tables(io, telemetry, epochs)
    write_json(io.metrics, {"summary": summary, "epochs": epochs})
    run.log_train(summary, io.metrics, io.telemetry)


def train_arm_seed(plan: ArmSeedPlan | SkippedPair, io: TrainIO, run: RunLog, is_main: bool = True) -> None:
    """Run the train stage for the arm/seed plan document ``plan`` (``data/plan/arms/<arm>/s<seed>.json``).

    Args:
        plan: the plan document: a skipped pair, or the arm (+ ``published`` for a scoring-only arm).
        io: the stage's paths.
        run: where epochs, the summary and the model are logged.
        is_main: False on the non-zero ranks of a ``torchrun`` job, which train but write nothing.
    """
    if isinstance(plan, SkippedPair):
        if is_main:
            _write_tables(io, [], [])
            write_skip(plan, io.out / "skipped.json", io.metrics)
        return
    arm = plan.arm
    if arm.regime == PUBLISHED_REGIME:
        if is_main:
            summary = published.write_model(plan_dict(plan), io.out) | {"peak_rss_mb": peak_rss_mb()}
            _finish(summary, [], [], io, run)
        return
    aug = read_manifest(io.augmented / "manifest.csv", ("utt_id", "path")) if arm.regime != "clean" else None
    # `pretrained` -> the pretrain stage's folder; the saved config keeps the name
    run_arm = dataclasses.replace(arm, backbone=resolve_backbone(arm.backbone, io.backbone))
    dev = read_manifest(io.dev)
    model, result = fit(
        run_arm, read_manifest(io.train), dev, aug, io.augmented, run.log_epoch, resolve(io.checkpoints)
    )
    if not is_main:
        return
    summary = result.summary
    summary.update(parameter_counts(model), peak_rss_mb=peak_rss_mb())
    threshold = decision_threshold_record(summary["dev_eer_threshold"], summary["final_dev_eer"])
    save_arm(model, arm, io.out, extra={"train_summary": summary, "decision_threshold": threshold})
    faults.point("train:model_written")
    _finish(summary, result.telemetry, result.epochs, io, run)
    run.log_model(io.out, example=resolve(dev["path"].iloc[0]))  # the input example: a dev clip
    Checkpoints(result.checkpoint).remove()
