"""Stage `extract@<model>`: one forward pass per utterance, every hidden layer pooled over time (mean
and standard deviation), stored as float16 for the probes (sdd/probing/). The extraction settings have
their own plan document, so changing a probe setting never re-runs this stage.
"""

import argparse
from pathlib import Path

from sdd.core.stage import manifest_path, read_manifest, read_plan, run_stage
from sdd.probing.extract import extract_model, probed_model_dir
from sdd.probing.params import ExtractPlan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/extract.json")
    ap.add_argument(
        "--model", type=Path, required=True, help="models/<name>: a backbone folder or checkpoint"
    )
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder (eval sets)")
    ap.add_argument("--train", type=Path, required=True, help="train manifest of the training corpus")
    ap.add_argument("--dev", type=Path, required=True, help="dev manifest of the training corpus")
    ap.add_argument("--out", type=Path, required=True, help="features folder")
    args = ap.parse_args()

    plan = read_plan(args.plan, ExtractPlan)
    splits = {"train": read_manifest(args.train), "dev": read_manifest(args.dev)}
    for e in plan.eval_sets:
        splits[e.id] = read_manifest(manifest_path(args.manifests, e.corpus, e.split))
    extract_model(plan, probed_model_dir(args.model), splits, args.out)


if __name__ == "__main__":
    run_stage("extract", main)
