"""Stage `baseline`: logistic regression on utterance-level hand features, per eval set and attack.

A difficulty check of the corpus (a trained model should beat it by far) printed in the report.
"""

import argparse
from pathlib import Path

import pandas as pd

from sdd.audit.baseline import hand_feature_baseline
from sdd.core.plandocs import BaselinePlan
from sdd.core.stage import manifest_path, read_manifest, read_plan, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/baseline.json")
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder")
    ap.add_argument("--out", type=Path, required=True, help="baseline metrics (JSON)")
    args = ap.parse_args()

    plan = read_plan(args.plan, BaselinePlan)
    result = {}
    if plan.baseline.enabled:
        def read(corpus: str, split: str) -> pd.DataFrame:
            return read_manifest(manifest_path(args.manifests, corpus, split))

        evals = {e.name: read(e.corpus, e.split) for e in plan.eval_sets}
        result = hand_feature_baseline(read(plan.corpus, "train"), evals, seed=plan.baseline.seed)
    write_json(args.out, result)


if __name__ == "__main__":
    run_stage("baseline", main)
