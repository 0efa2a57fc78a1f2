"""Stage `report`: compare every arm (over its seeds) and the hand-feature baseline on every eval set.

Writes reports/metrics.json (DVC metrics: each seed's metrics, seed aggregates, paired comparisons
with the reference arm, shortcut flags), reports/README.md, reports/index.html and
reports/figures/*.png, and logs them to this pipeline run's MLflow parent run, with a child run per
arm and seed (sdd/report/pipeline.py).
"""

import argparse
import dataclasses
from pathlib import Path

from sdd.core.stage import read_plan, run_stage
from sdd.report.params import ReportPlan
from sdd.report.pipeline import ReportIO, write_pipeline_report

HELP = {
    "plan": "data/plan/report.json", "eval": "folder of <arm>/s<seed>.json metrics",
    "train": "folder of <arm>/s<seed>.json training summaries",
    "telemetry": "folder of <arm>/s<seed>.csv telemetry", "scores": "score folders",
    "manifests": "manifests folder", "baseline": "hand-feature baseline JSON",
    "audit": "shortcut audit JSON", "augmented": "augment stage folder",
    "train-manifest": "the training corpus's train manifest",
    "params": "params.yaml (its diff from the committed one goes into the metadata)",
    "probe": "folder of <probed model>.json probe results",
    "partial": "the partial-model curve JSON", "pretrain": "the pretrain summary JSON",
    "metrics": "reports/metrics.json", "out-dir": "reports/ (README.md, index.html, figures/)",
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name, text in HELP.items():
        ap.add_argument(f"--{name}", type=Path, required=True, help=text)
    args = ap.parse_args()

    plan = read_plan(args.plan, ReportPlan)
    io = ReportIO(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ReportIO)})
    write_pipeline_report(plan, io)


if __name__ == "__main__":
    run_stage("report", main)
