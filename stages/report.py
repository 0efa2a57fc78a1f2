"""Stage `report`: compare every arm (and the hand-feature baseline) on every eval set.

Writes reports/metrics.json (DVC metrics), reports/README.md, reports/index.html and
reports/figures/*.png, and logs them to MLflow as artifacts of a `report` run.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from sdd import tracking
from sdd.report.augment_figures import augment_figures
from sdd.report.build import collect_metrics, write_report
from sdd.report.probing import load_probing, probing_blocks, probing_metrics
from sdd.stage import read_plan, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/report.json")
    ap.add_argument("--eval", type=Path, required=True, help="folder of <arm>.json metrics")
    ap.add_argument("--train", type=Path, required=True, help="folder of <arm>.json training summaries")
    ap.add_argument("--telemetry", type=Path, required=True, help="folder of <arm>.csv telemetry")
    ap.add_argument("--baseline", type=Path, required=True, help="hand-feature baseline JSON")
    ap.add_argument("--augmented", type=Path, required=True, help="augment stage folder")
    ap.add_argument("--train-manifest", type=Path, required=True)
    ap.add_argument("--probe", type=Path, required=True, help="folder of <probed model>.json probe results")
    ap.add_argument("--partial", type=Path, required=True, help="the partial-model curve JSON")
    ap.add_argument("--pretrain", type=Path, required=True, help="the pretrain summary JSON")
    ap.add_argument("--scores", type=Path, required=True, help="score folders (AttM layer weights)")
    ap.add_argument("--metrics", type=Path, required=True, help="reports/metrics.json")
    ap.add_argument("--out-dir", type=Path, required=True, help="reports/ (README.md, index.html, figures/)")
    args = ap.parse_args()

    plan = read_plan(args.plan)
    load = lambda p: json.loads(p.read_text())  # noqa: E731
    arms, sets = plan["arms"], [e["name"] for e in plan["eval_sets"]]
    train = {a: load(args.train / f"{a}.json") for a in arms}
    metrics = collect_metrics({a: load(args.eval / f"{a}.json") for a in arms}, train, load(args.baseline))
    fig_dir = args.out_dir / "figures"
    probing = load_probing(args.probe, plan["probe_models"], args.partial, args.pretrain, args.scores, arms)
    extra = augment_figures(plan["augment"], args.augmented, args.train_manifest, fig_dir)
    write_report(metrics, sets, {a: pd.read_csv(args.telemetry / f"{a}.csv") for a in arms},
                 {a: pd.DataFrame(train[a]["epochs"]) for a in arms},
                 args.out_dir / "README.md", args.out_dir / "index.html", fig_dir, extra,
                 title=f"sdd report: {tracking.dvc_experiment()}",
                 intro=f"Training corpus: {plan['corpus']}. Arms: {', '.join(arms)}. EERs are percent here; "
                       "metrics.json holds fractions.",
                 extra_blocks=lambda rel: probing_blocks(probing, fig_dir, rel))
    metrics["probing"] = probing_metrics(probing)
    write_json(args.metrics, metrics)
    with tracking.run("report", plan, **plan["tracking"]) as run:
        run.log_metrics(metrics)
        run.log_artifact(args.metrics)
        run.log_artifact(args.out_dir / "README.md")
        run.log_artifact(args.out_dir / "index.html")
        run.log_artifacts(fig_dir, "figures")


if __name__ == "__main__":
    run_stage("report", main)
