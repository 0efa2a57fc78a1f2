"""Stage `evaluate@<arm>`: metrics per eval set (EER, ASVspoof5 metrics, per attack/condition, CI).

actDCF and Cllr are reported on the raw scores and after a logistic calibration fitted on the
training corpus's dev scores.
"""

import argparse
from pathlib import Path

from sdd import tracking
from sdd.evaluation.eval_sets import evaluate_eval_sets, fit_dev_calibration
from sdd.stage import read_plan, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/evaluate.json")
    ap.add_argument("--arm", required=True)
    ap.add_argument("--scores", type=Path, required=True, help="score folder of the arm")
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder")
    ap.add_argument(
        "--dev", type=Path, required=True, help="dev manifest (calibration is fitted on its scores)"
    )
    ap.add_argument("--out", type=Path, required=True, help="metrics JSON of the arm")
    args = ap.parse_args()

    plan = read_plan(args.plan)
    calibration = fit_dev_calibration(args.scores / "dev.txt", args.dev)
    metrics = evaluate_eval_sets(plan["eval_sets"], args.scores, args.manifests, calibration=calibration,
                                 **plan["evaluate"])
    write_json(args.out, metrics)  # first: the DVC output never depends on the MLflow store
    with tracking.run("evaluate", plan, arm=args.arm, **plan["tracking"]) as run:
        run.log_metrics(metrics)


if __name__ == "__main__":
    run_stage("evaluate", main)
