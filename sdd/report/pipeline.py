"""The report stage's work in one call: :func:`write_pipeline_report`.

From the DVC outputs of every arm and seed (evaluation, training summaries, telemetry, scores), the
hand-feature baseline, the shortcut audit, the augmentation and the probing results (and the fused
systems of ``report.fusion``, :mod:`sdd.report.fusion`), it writes
``metrics.json`` (:func:`sdd.report.stats.report_metrics`, then the probing table), the pages and
figures (:func:`sdd.report.build.write_report`, with the augmentation and probing sections and the
run metadata) and logs them to the pipeline run's MLflow parent run
(:func:`sdd.report.publish.publish_pipeline_report`); the stage durations recorded so far are read
into the metadata and then cleared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdd.core import faults
from sdd.core.stage import STAGE_TIMES, write_json
from sdd.report import tracking
from sdd.report.augment import augment_figures
from sdd.report.build import write_report
from sdd.report.fusion import add_fusions
from sdd.report.inputs import from_pipeline
from sdd.report.metadata import read_stage_times, run_metadata
from sdd.report.params import ReportPlan
from sdd.report.probing import load_probing, probing_blocks, probing_metrics
from sdd.report.publish import publish_pipeline_report
from sdd.report.render import Figure, Section
from sdd.report.stats import report_metrics

__all__ = ["ReportIO", "write_pipeline_report"]


@dataclass(frozen=True)
class ReportIO:
    """The report stage's inputs and outputs (``dvc.yaml`` owns every path)."""

    eval: Path  # folder of <arm>/s<seed>.json metrics
    train: Path  # folder of <arm>/s<seed>.json training summaries
    telemetry: Path  # folder of <arm>/s<seed>.csv telemetry
    scores: Path  # score folders
    manifests: Path  # manifests folder
    baseline: Path  # hand-feature baseline JSON
    audit: Path  # shortcut audit JSON
    augmented: Path  # augment stage folder
    train_manifest: Path  # the training corpus's train manifest
    params: Path  # params.yaml (its diff from the committed one goes into the metadata)
    probe: Path  # folder of <probed model>.json probe results
    partial: Path  # the partial-model curve JSON
    pretrain: Path  # the pretrain summary JSON
    metrics: Path  # reports/metrics.json
    out_dir: Path  # reports/ (README.md, index.html, figures/)


def write_pipeline_report(plan: ReportPlan, io: ReportIO) -> None:
    """Compare every arm of ``plan`` (the report plan document, as :func:`sdd.core.stage.read_plan`
    reads it) over its seeds and the hand-feature baseline on every eval set; write and log the report
    (module docstring)."""
    experiment = tracking.dvc_experiment()
    arms = ", ".join(f"{a} ({', '.join(map(str, plan.arms[a]))})" for a in plan.order)
    fused = "".join(
        f". Fused system {r.name} (seeds {', '.join(map(str, r.seeds))}): linear logistic-regression "
        f"fusion of {' and '.join(r.arms)}, fitted on the dev scores of {plan.corpus}"
        for r in plan.fusions
    )
    inp = from_pipeline(plan, eval_dir=io.eval, train_dir=io.train, telemetry_dir=io.telemetry,
                        scores_dir=io.scores, manifests_dir=io.manifests, baseline=io.baseline,
                        audit=io.audit, train_manifest=io.train_manifest,
                        title=f"sdd report: {experiment}",
                        intro=f"Training corpus: {plan.corpus}. Arms (seeds): "
                              + arms + fused
                              + ". EERs are percent here; metrics.json holds fractions.")  # fmt: skip
    add_fusions(inp, plan, scores_dir=io.scores, manifests_dir=io.manifests)
    metrics = report_metrics(inp)
    aug = augment_figures(plan.augment, io.augmented, io.train_manifest, io.out_dir / "figures")
    probing = load_probing(io.probe, plan.probe_models, io.partial, io.pretrain, io.scores, plan.arms)
    sections = [Section("Augmentation", [("fig", Figure(path, caption)) for caption, path in aug]),
                Section("Layer-wise probes (frozen features, logistic regression)",
                        probing_blocks(probing, io.out_dir / "figures"))]  # fmt: skip
    meta = run_metadata(Path.cwd(), experiment=experiment, seeds=list(plan.seeds), params_file=io.params,
                        durations=read_stage_times(STAGE_TIMES))  # fmt: skip
    files = write_report(inp, metrics, io.out_dir, metadata=meta, sections=sections)
    faults.point("report:figures_written")
    metrics["probing"] = probing_metrics(probing)  # after the pages: it is a table, not a system
    write_json(io.metrics, metrics)
    publish_pipeline_report(inp, metrics, plan, train_dir=io.train, eval_dir=io.eval,
                            telemetry_dir=io.telemetry, report_files=[*files, io.metrics],
                            out_dir=io.out_dir, metadata=meta)  # fmt: skip
    read_stage_times(STAGE_TIMES, clear=True)
