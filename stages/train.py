"""Stage `train@<arm>-<seed>`: train one arm with one seed on the training corpus; select on its dev
split only.

Writes the model folder (model.safetensors + config.json with the full resolved config and the dev
EER threshold that `sdd score --decisions` applies), the per-step telemetry table (loss,
cos(g_clean, g_aug), conflict flag) for `dvc plots`, and the per-epoch log and summary metrics (with
trainable/total parameters and this process's peak RSS); the same dicts, the telemetry and the weights
go to the arm/seed's MLflow child run. A pair outside the arm's `seeds` writes skip records only.
"""

import argparse
from pathlib import Path

import pandas as pd

from sdd import atomic, tracking
from sdd.models.detector import decision_threshold_record, parameter_counts, save_detector
from sdd.stage import peak_rss_mb, read_plan, run_stage, write_json, write_skip
from sdd.train.loop import TELEMETRY_COLUMNS, fit
from sdd.train.params import arm_from_dict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/arms/<arm>.json")
    ap.add_argument("--train", type=Path, required=True, help="train manifest")
    ap.add_argument("--dev", type=Path, required=True, help="dev manifest (model selection)")
    ap.add_argument("--augmented", type=Path, required=True, help="augment stage folder")
    ap.add_argument("--out", type=Path, required=True, help="model folder")
    ap.add_argument("--telemetry", type=Path, required=True, help="per-step CSV")
    ap.add_argument("--metrics", type=Path, required=True, help="summary + per-epoch JSON")
    args = ap.parse_args()

    plan = read_plan(args.plan)
    if "skipped" in plan:
        atomic.write_csv(pd.DataFrame(columns=list(TELEMETRY_COLUMNS)), args.telemetry)
        return write_skip(plan, args.out / "skipped.json", args.metrics)
    arm = arm_from_dict(plan["arm"])
    read = lambda p: pd.read_csv(p, keep_default_na=False)  # noqa: E731
    aug = read(args.augmented / "manifest.csv") if arm.regime != "clean" else None
    with tracking.arm_run("train", plan["arm"], **plan["tracking"]) as run:
        model, result = fit(arm, read(args.train), read(args.dev), aug, args.augmented,
                            on_epoch=run.log_epoch)
        result.summary.update(parameter_counts(model), peak_rss_mb=peak_rss_mb())
        s = result.summary
        threshold = decision_threshold_record(s["dev_eer_threshold"], s["final_dev_eer"])
        save_detector(model, arm, args.out, extra={"train_summary": s, "decision_threshold": threshold})
        atomic.write_csv(pd.DataFrame(result.telemetry, columns=list(TELEMETRY_COLUMNS)), args.telemetry)
        write_json(args.metrics, {"summary": result.summary, "epochs": result.epochs})
        run.log_train(result.summary, args.metrics, args.telemetry)
        run.log_artifacts(args.out, "model")


if __name__ == "__main__":
    run_stage("train", main)
