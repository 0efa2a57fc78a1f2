"""Stage `evaluate@<arm>-<seed>`: metrics per eval set (EER, ASVspoof5 metrics, per attack/condition, CI).

actDCF and Cllr are reported on the raw scores and after a logistic calibration fitted on the
training corpus's dev scores. Each eval set's metrics name the evaluation convention (``convention``:
the input rule the score stage recorded, the trial subset, the score polarity). The metrics and the
scored trials (scores with labels, speakers and attacks) go to the arm/seed's MLflow child run, which
`sdd compare` reads.
"""

import argparse
import json
from pathlib import Path

from sdd.core.plandocs import EvaluatePlan
from sdd.core.stage import is_skipped, read_plan, run_stage, write_json, write_skip
from sdd.evaluation.eval_sets import evaluate_eval_sets, fit_dev_calibration, read_input_rule, scored_trials
from sdd.report import tracking


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/evaluate.json")
    ap.add_argument("--scores", type=Path, required=True, help="score folder of the arm and seed")
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder")
    ap.add_argument(
        "--dev", type=Path, required=True, help="dev manifest (calibration is fitted on its scores)"
    )
    ap.add_argument("--out", type=Path, required=True, help="metrics JSON of the arm and seed")
    args = ap.parse_args()

    plan = read_plan(args.plan, EvaluatePlan)
    if skip := is_skipped(args.scores):
        return write_skip(skip, args.out)
    calibration = fit_dev_calibration(args.scores / "dev.txt", args.dev)
    ev = plan.evaluate
    metrics = evaluate_eval_sets(plan.eval_sets, args.scores, args.manifests, calibration=calibration,
                                 ci=ev.ci, n_resamples=ev.n_resamples, seed=ev.seed,
                                 input=read_input_rule(args.scores), trial_names=plan.trials)
    write_json(args.out, metrics)
    arm = json.loads((args.scores / "model.json").read_text())["arm"]
    with tracking.arm_run("evaluate", arm, experiment=plan.tracking.experiment) as run:
        run.log_eval(metrics, args.out,
                     {e.id: scored_trials(args.scores, args.manifests, e) for e in plan.eval_sets})


if __name__ == "__main__":
    run_stage("evaluate", main)
