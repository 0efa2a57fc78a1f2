"""Stage `report`: compare every arm (over its seeds) and the hand-feature baseline on every eval set.

Writes reports/metrics.json (DVC metrics: each seed's metrics, seed aggregates, paired comparisons
with the reference arm, shortcut flags), reports/README.md, reports/index.html and
reports/figures/*.png, and logs them to this pipeline run's MLflow parent run, with a child run per
arm and seed.
"""

import argparse
from pathlib import Path

from sdd.core import faults
from sdd.core.stage import STAGE_TIMES, read_plan, run_stage, write_json
from sdd.report import tracking
from sdd.report.augment_figures import augment_figures
from sdd.report.build import write_report
from sdd.report.inputs import from_pipeline
from sdd.report.metadata import read_stage_times, run_metadata
from sdd.report.probing import load_probing, probing_blocks, probing_metrics
from sdd.report.publish import publish_pipeline_report
from sdd.report.render import Figure, Section
from sdd.report.stats import report_metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name, what in [("plan", "data/plan/report.json"), ("eval", "folder of <arm>/s<seed>.json metrics"),
                       ("train", "folder of <arm>/s<seed>.json training summaries"),
                       ("telemetry", "folder of <arm>/s<seed>.csv telemetry"), ("scores", "score folders"),
                       ("manifests", "manifests folder"), ("baseline", "hand-feature baseline JSON"),
                       ("audit", "shortcut audit JSON"), ("augmented", "augment stage folder"),
                       ("train-manifest", "the training corpus's train manifest"),
                       ("params", "params.yaml (its diff from the committed one goes into the metadata)"),
                       ("probe", "folder of <probed model>.json probe results"),
                       ("partial", "the partial-model curve JSON"), ("pretrain", "the pretrain summary JSON"),
                       ("metrics", "reports/metrics.json"),
                       ("out-dir", "reports/ (README.md, index.html, figures/)")]:
        ap.add_argument(f"--{name}", type=Path, required=True, help=what)
    args = ap.parse_args()

    plan = read_plan(args.plan)
    experiment = tracking.dvc_experiment()
    arms = ", ".join(f"{a} ({', '.join(map(str, plan['arms'][a]))})" for a in plan["order"])
    inp = from_pipeline(plan, eval_dir=args.eval, train_dir=args.train, telemetry_dir=args.telemetry,
                        scores_dir=args.scores, manifests_dir=args.manifests, baseline=args.baseline,
                        audit=args.audit, train_manifest=args.train_manifest,
                        title=f"sdd report: {experiment}",
                        intro=f"Training corpus: {plan['corpus']}. Arms (seeds): "
                              + arms + ". EERs are percent here; metrics.json holds fractions.")
    metrics = report_metrics(inp)
    aug = augment_figures(plan["augment"], args.augmented, args.train_manifest, args.out_dir / "figures")
    probing = load_probing(args.probe, plan["probe_models"], args.partial, args.pretrain, args.scores,
                           plan["arms"])
    sections = [Section("Augmentation", [("fig", Figure(path, caption)) for caption, path in aug]),
                Section("Layer-wise probes (frozen features, logistic regression)",
                        probing_blocks(probing, args.out_dir / "figures"))]
    meta = run_metadata(Path.cwd(), experiment=experiment, seeds=plan["seeds"], params_file=args.params,
                        durations=read_stage_times(STAGE_TIMES))
    files = write_report(inp, metrics, args.out_dir, metadata=meta, sections=sections)
    faults.point("report:figures_written")
    metrics["probing"] = probing_metrics(probing)  # after the pages: it is a table, not a system
    write_json(args.metrics, metrics)
    publish_pipeline_report(inp, metrics, plan, train_dir=args.train, eval_dir=args.eval,
                            telemetry_dir=args.telemetry, report_files=[*files, args.metrics],
                            out_dir=args.out_dir, metadata=meta)
    read_stage_times(STAGE_TIMES, clear=True)


if __name__ == "__main__":
    run_stage("report", main)
