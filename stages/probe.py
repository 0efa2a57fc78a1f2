"""Stage `probe@<model>`: linear probes on the extracted features (sdd/probing/probes.py): one per
hidden state, and over the first k layers (concatenated means, LinM); the L2 strength of each is chosen
on the training corpus's dev split; EER with bootstrap 95% CIs on dev and every eval set. Reads only the
features, so re-probing with other settings never re-extracts.
"""

import argparse
import time
from pathlib import Path

from sdd.core.stage import read_plan, run_stage, write_json
from sdd.probing.features import load_features
from sdd.probing.params import ProbePlan
from sdd.probing.probes import best_layer, run_probes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/probe.json")
    ap.add_argument("--features", type=Path, required=True, help="the extract stage's folder")
    ap.add_argument("--name", required=True, help="the probed model's name (probe.models)")
    ap.add_argument("--out", type=Path, required=True, help="result JSON")
    args = ap.parse_args()

    plan = read_plan(args.plan, ProbePlan)
    pp = plan.probe
    features, labels, meta = load_features(args.features)
    start = time.perf_counter()
    result = run_probes(features, labels, list(pp.l2_grid), n_resamples=pp.n_resamples, seed=pp.seed,
                        kinds=list(pp.kinds))
    best = best_layer(result["layer"]) if "layer" in result else None
    write_json(
        args.out,
        {
            "model": args.name,
            "info": {k: meta[k] for k in ("kind", "model_type", "num_layers", "hidden_size", "parameters")},
            "splits": {"dev": "dev", **{e.id: e.name for e in plan.eval_sets}},
            "extract_seconds": meta["seconds"],
            "probe_seconds": time.perf_counter() - start,
            "best_layer": best,
            **result,
        },
    )


if __name__ == "__main__":
    run_stage("probe", main)
