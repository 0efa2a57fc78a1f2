"""Stage `partial`: the partial-model curve, opt-in (`probe.partial_layers`, empty by default: then it
only writes an empty table). For each k, `main` fine-tuned on the backbone cut to its first k layers;
EER per eval set, parameters and forward seconds per second of audio (sdd/probing/partial.py).
"""

import argparse
from pathlib import Path

from sdd.core.stage import read_manifest, read_plan, run_stage, write_json
from sdd.train.params import PartialPlan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/partial.json")
    ap.add_argument("--train", type=Path, required=True, help="train manifest")
    ap.add_argument("--dev", type=Path, required=True, help="dev manifest (model selection)")
    ap.add_argument("--augmented", type=Path, required=True, help="augment stage folder")
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder (eval sets)")
    ap.add_argument("--backbone", type=Path, required=True, help="the pretrain stage's models/backbone")
    ap.add_argument("--out", type=Path, required=True, help="result JSON")
    args = ap.parse_args()

    plan = read_plan(args.plan, PartialPlan)
    points = []
    if plan.arms:
        from sdd.probing.partial import run_partial

        needs_aug = any(a.regime != "clean" for a in plan.arms)
        aug = read_manifest(args.augmented / "manifest.csv", ("utt_id", "path")) if needs_aug else None
        train, dev = read_manifest(args.train), read_manifest(args.dev)
        points = run_partial(plan, train, dev, aug, args.augmented, args.manifests, args.backbone)
    write_json(args.out, {"points": points})


if __name__ == "__main__":
    run_stage("partial", main)
