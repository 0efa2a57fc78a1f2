"""Stage `train@<arm>-<seed>`: train one arm with one seed on the training corpus; select on its dev
split only.

Writes the model folder (model.safetensors + config.json with the full resolved config and the dev
EER threshold that `sdd score --decisions` applies), per-step and per-epoch telemetry for `dvc plots`,
and the per-epoch log and summary metrics (with trainable/total parameters and this process's peak
RSS); the same dicts, the telemetry and the model (an MLflow pyfunc model holding the weights,
sdd/report/tracking_model.py) go to the arm/seed's MLflow child run. A pair
outside the arm's `seeds` writes skip records only; a scoring-only arm (regime `published`, the
published AASIST) trains nothing and records its weights (sdd/train/run.py says what each case writes).
A killed run resumes from --checkpoints, keyed by the arm's config and its backbone's content. Runs
under `torchrun`; `SDD_NPROC_PER_NODE=N` relaunches it on N local processes (docs/training.md,
"Training on several GPUs or nodes").
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from sdd.core.configbase import to_dict
from sdd.core.plandocs import SkippedPair
from sdd.core.stage import read_plan, run_stage
from sdd.report import tracking, tracking_model
from sdd.train import distributed
from sdd.train.params import ArmSeedPlan
from sdd.train.run import TrainIO, train_arm_seed

HELP = {
    "plan": "data/plan/arms/<arm>/s<seed>.json", "train": "train manifest",
    "dev": "dev manifest (model selection)", "augmented": "augment stage folder",
    "backbone": "the pretrain stage's models/backbone (read when the backbone is `pretrained`)",
    "checkpoints": "resumable checkpoints (outside outs)", "out": "model folder",
    "telemetry": "per-step CSV", "epochs": "per-epoch CSV", "metrics": "summary + per-epoch JSON",
}  # fmt: skip


def main() -> None:
    distributed.relaunch_if_requested(__file__, sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__)
    for name, text in HELP.items():
        ap.add_argument(f"--{name}", type=Path, required=True, help=text)
    args = ap.parse_args()

    plan = read_plan(args.plan, ArmSeedPlan | SkippedPair)
    io = TrainIO(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainIO)})
    is_main = distributed.context().is_main
    logged = is_main and isinstance(plan, ArmSeedPlan)
    with (
        tracking.arm_run(
            "train", to_dict(plan.arm), experiment=plan.tracking.experiment, run_type=tracking_model.ModelRun
        )
        if logged
        else tracking.off()
    ) as run:
        train_arm_seed(plan, io, run, is_main)
    distributed.shutdown()


if __name__ == "__main__":
    run_stage("train", main)
