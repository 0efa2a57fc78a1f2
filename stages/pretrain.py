"""Stage `pretrain`: the self-supervised demo backbone (HuBERT's or wav2vec 2.0's objective, labels unused).

With `backbone: pretrained` it pretrains `pretrain.init` with `pretrain.objective` on the training
corpus's train audio and writes models/backbone (save_pretrained; the arms start from it) and
models/random (the random init it started from: the probes' control); with any other backbone it only
writes two small records. See sdd/pretrain/ and the README ("A self-supervised demo backbone").
"""

import argparse
from pathlib import Path

import pandas as pd

from sdd.core import atomic
from sdd.core.stage import read_manifest, read_plan, run_stage, write_json
from sdd.pretrain.params import PretrainPlan
from sdd.pretrain.run import run_pretrain_plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/pretrain.json")
    ap.add_argument("--train", type=Path, required=True, help="train manifest (audio paths only are read)")
    ap.add_argument("--backbone", type=Path, required=True, help="out: the backbone the arms start from")
    ap.add_argument("--random", type=Path, required=True, help="out: the random-init control")
    ap.add_argument("--metrics", type=Path, required=True, help="out: summary JSON")
    ap.add_argument("--log", type=Path, required=True, help="out: per-step CSV (dvc plots)")
    args = ap.parse_args()

    train = read_manifest(args.train)
    summary = run_pretrain_plan(read_plan(args.plan, PretrainPlan), train, args.backbone, args.random)
    rows = summary.pop("log", [])
    # each objective logs its own columns (step and loss in both: the dvc plot's x and y)
    atomic.write_csv(pd.DataFrame(rows, columns=list(rows[0]) if rows else ["step", "loss"]), args.log)
    write_json(args.metrics, summary)


if __name__ == "__main__":
    run_stage("pretrain", main)
