"""The report's fused systems (``report.fusion``): each row's arms fused seed by seed by
:func:`sdd.evaluation.fuse.fuse_folders` (linear logistic regression fitted on the training corpus's
dev scores only, BOSARIS convention: :mod:`sdd.metrics.fusion`), then evaluated exactly as the
evaluate stage evaluates an arm's score folder (the same calibration on the fused dev scores, the same
metrics, condition breakdowns and interval settings) and read into :class:`~sdd.report.inputs.SeedRun`
like any arm, so the report's statistics, paired comparison with the reference and figures treat a
fused system as one more system.

A fused seed's training record: its trainable parameters are the fusion's (one weight per arm and the
offset), its total parameters those plus the fused models'; epochs and seconds do not exist for it.
The fusion itself (weights, offset, prior, dev trial counts) is kept in the seed's ``fusion`` entry.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.core.stage import manifest_path
from sdd.evaluation.eval_sets import evaluate_eval_sets, fit_dev_calibration, scored_trials
from sdd.evaluation.fuse import MANIFEST_FORMAT, fuse_folders, read_dev_labels
from sdd.report.inputs import ReportInput, SeedRun
from sdd.report.params import FusionRow, ReportPlan
from sdd.report.sections.common import FUSION_REGIME

__all__ = ["add_fusions", "fused_seed"]


def fused_seed(
    row: FusionRow, seed: int, plan: ReportPlan, *, scores_dir: Path, manifests_dir: Path,
    total_parameters: int | None,
) -> SeedRun:  # fmt: skip
    """Fuse the runs of ``row``'s arms for fused seed ``seed`` and evaluate the fused scores."""
    folders = [scores_dir / arm / f"s{row.arm_seed(arm, seed)}" for arm in row.arms]
    dev_manifest = manifest_path(manifests_dir, plan.corpus, "dev")
    labels = read_dev_labels(dev_manifest, MANIFEST_FORMAT)
    ev = plan.evaluate
    with tempfile.TemporaryDirectory(prefix="sdd-fusion-") as tmp:
        out = Path(tmp)
        fusion, _ = fuse_folders(folders, labels, out, files=[f"{e.id}.txt" for e in plan.eval_sets])
        calibration = fit_dev_calibration(out / "dev.txt", dev_manifest)
        metrics = evaluate_eval_sets(plan.eval_sets, out, manifests_dir, calibration=calibration, ci=ev.ci,
                                     n_resamples=ev.n_resamples, seed=ev.seed)  # fmt: skip
        trials = {e.name: scored_trials(out, manifests_dir, e) for e in plan.eval_sets}
    k = len(row.arms)
    return SeedRun(
        seed=seed,
        eval=metrics,
        train={
            "trainable_parameters": k + 1,
            "total_parameters": None if total_parameters is None else total_parameters + k + 1,
            "epochs": None,
            "epochs_to_best": None,
            "seconds": None,
            "peak_rss_mb": None,
        },
        epochs=pd.DataFrame(),
        telemetry=pd.DataFrame(),
        trials=trials,
        source="fusion of " + ", ".join(f"{a}/s{row.arm_seed(a, seed)}" for a in row.arms),
        fusion={"arms": list(row.arms), **fusion.to_dict()},
    )


def add_fusions(inp: ReportInput, plan: ReportPlan, *, scores_dir: Path, manifests_dir: Path) -> None:
    """Add every fused system of ``plan`` to ``inp`` (after the arms), with its config: ``regime``
    :data:`FUSION_REGIME`, the fused arms and the prior."""
    for row in plan.fusions:
        runs: dict[int, SeedRun] = {}
        for seed in row.seeds:
            totals = [inp.systems[a][row.arm_seed(a, seed)].train.get("total_parameters") for a in row.arms]
            total = sum(totals) if all(isinstance(t, int) for t in totals) else None
            runs[seed] = fused_seed(row, seed, plan, scores_dir=scores_dir, manifests_dir=manifests_dir,
                                    total_parameters=total)  # fmt: skip
        inp.systems[row.name] = runs
        first: dict[str, Any] = next(iter(runs.values())).fusion or {}
        inp.configs[row.name] = {"regime": FUSION_REGIME, "align": "none", "fusion": list(row.arms),
                                 "prior": first.get("prior")}  # fmt: skip
