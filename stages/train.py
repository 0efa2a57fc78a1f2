"""Stage `train@<arm>-<seed>`: train one arm with one seed on the training corpus; select on its dev
split only.

Writes the model folder (model.safetensors + config.json with the full resolved config and the dev
EER threshold that `sdd score --decisions` applies), per-step and per-epoch telemetry for `dvc plots`,
and the per-epoch log and summary metrics (with trainable/total parameters and this process's peak
RSS); the same dicts, the telemetry and the weights go to the arm/seed's MLflow child run. A pair
outside the arm's `seeds` writes skip records only. A scoring-only arm (regime `pretrained`, the
published AASIST) trains nothing: it writes `pretrained.json` (spec, weight files and their SHA-256,
parameter count), empty telemetry, and the train metrics of what exists (sdd/pretrained_arm.py). A
killed run resumes from --checkpoints, keyed by the arm's config and its backbone's content (a
models/backbone pretrained again is another key: the run starts fresh). Runs under `torchrun`;
`SDD_NPROC_PER_NODE=N` relaunches it on N local processes (README, "Training").
"""

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd

from sdd import atomic, faults, pretrained_arm, tracking
from sdd.models.detector import decision_threshold_record, parameter_counts
from sdd.models.source import resolve_backbone
from sdd.paths import resolve
from sdd.stage import peak_rss_mb, read_plan, run_stage, write_json, write_skip
from sdd.train import distributed
from sdd.train.arm_model import save_arm
from sdd.train.checkpoint import Checkpoints
from sdd.train.loop import EPOCH_COLUMNS, TELEMETRY_COLUMNS, fit
from sdd.train.params import PRETRAINED_REGIME, arm_from_dict


def main() -> None:
    distributed.relaunch_if_requested(__file__, sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/arms/<arm>/s<seed>.json")
    ap.add_argument("--train", type=Path, required=True, help="train manifest")
    ap.add_argument("--dev", type=Path, required=True, help="dev manifest (model selection)")
    ap.add_argument("--augmented", type=Path, required=True, help="augment stage folder")
    ap.add_argument("--backbone", type=Path, required=True,
                    help="the pretrain stage's models/backbone (read when the backbone is `pretrained`)")
    ap.add_argument("--checkpoints", type=Path, required=True, help="resumable checkpoints (outside outs)")
    ap.add_argument("--out", type=Path, required=True, help="model folder")
    ap.add_argument("--telemetry", type=Path, required=True, help="per-step CSV")
    ap.add_argument("--epochs", type=Path, required=True, help="per-epoch CSV")
    ap.add_argument("--metrics", type=Path, required=True, help="summary + per-epoch JSON")
    args = ap.parse_args()

    plan = read_plan(args.plan)
    main_rank = distributed.context().is_main
    if "skipped" in plan:
        if main_rank:
            atomic.write_csv(pd.DataFrame(columns=list(TELEMETRY_COLUMNS)), args.telemetry)
            atomic.write_csv(pd.DataFrame(columns=list(EPOCH_COLUMNS)), args.epochs)
            write_skip(plan, args.out / "skipped.json", args.metrics)
        return distributed.shutdown()
    arm = arm_from_dict(plan["arm"])
    if arm.regime == PRETRAINED_REGIME:
        if main_rank:
            with tracking.arm_run("train", plan["arm"], **plan["tracking"]) as run:  # params, no weights
                summary = pretrained_arm.write_model(plan, args.out) | {"peak_rss_mb": peak_rss_mb()}
                atomic.write_csv(pd.DataFrame(columns=list(TELEMETRY_COLUMNS)), args.telemetry)
                atomic.write_csv(pd.DataFrame(columns=list(EPOCH_COLUMNS)), args.epochs)
                write_json(args.metrics, {"summary": summary, "epochs": []})
                run.log_train(summary, args.metrics, args.telemetry)
        return distributed.shutdown()
    read = lambda p: pd.read_csv(p, keep_default_na=False)  # noqa: E731
    aug = read(args.augmented / "manifest.csv") if arm.regime != "clean" else None
    ckpt_root = resolve(args.checkpoints)
    log_run = tracking.arm_run("train", plan["arm"], **plan["tracking"]) if main_rank else None
    with log_run or tracking.off() as run:
        # `pretrained` -> the pretrain stage's folder; the saved config keeps the name
        run_arm = dataclasses.replace(arm, backbone=resolve_backbone(arm.backbone, args.backbone))
        model, result = fit(
            run_arm, read(args.train), read(args.dev), aug, args.augmented, run.log_epoch, ckpt_root
        )
        if main_rank:
            s = result.summary
            s.update(parameter_counts(model), peak_rss_mb=peak_rss_mb())
            threshold = decision_threshold_record(s["dev_eer_threshold"], s["final_dev_eer"])
            save_arm(model, arm, args.out, extra={"train_summary": s, "decision_threshold": threshold})
            faults.point("train:model_written")
            atomic.write_csv(pd.DataFrame(result.telemetry, columns=list(TELEMETRY_COLUMNS)), args.telemetry)
            atomic.write_csv(pd.DataFrame(result.epochs, columns=list(EPOCH_COLUMNS)), args.epochs)
            write_json(args.metrics, {"summary": s, "epochs": result.epochs})
            run.log_train(s, args.metrics, args.telemetry)
            run.log_artifacts(args.out, "model")
            Checkpoints(result.checkpoint).remove()
    distributed.shutdown()


if __name__ == "__main__":
    run_stage("train", main)
