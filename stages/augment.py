"""Stage `augment`: precomputed, deterministic augmented copies of the training utterances.

Each copy depends only on (utt_id, policy, copy index, augment.seed); the output folder is
persistent, so a killed run resumes where it stopped. Writes <out>/manifest.csv pairing each copy
with its clean source and the exact parameters drawn.
"""

import argparse
from pathlib import Path

from sdd.augment.params import AugmentPlan
from sdd.augment.precompute import precompute
from sdd.core.stage import read_manifest, read_plan, run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/augment.json")
    ap.add_argument("--manifest", type=Path, required=True, help="the training corpus's train manifest")
    ap.add_argument("--out", type=Path, required=True, help="augmented copies folder")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    params = read_plan(args.plan, AugmentPlan).augment
    precompute(read_manifest(args.manifest), args.out, params, workers=args.workers)


if __name__ == "__main__":
    run_stage("augment", main)
