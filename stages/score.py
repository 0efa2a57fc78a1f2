"""Stage `score@<arm>`: one score file per eval set, `utt_id score`, higher = more bona fide.

Also scores the training corpus's dev split (`dev.txt`): the evaluate stage fits its logistic
calibration there, never on the set it evaluates. For AttM arms, the learned per-utterance layer
weights seen while scoring are summarised in `layer_weights.json` (mean and std over utterances).
"""

import argparse
from pathlib import Path

import pandas as pd

from sdd.configbase import build
from sdd.models.detector import load_detector
from sdd.params import ScoreParams
from sdd.probing.attm_weights import LayerWeightRecorder
from sdd.scoring import score_manifest, write_scores
from sdd.stage import read_plan, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/score.json")
    ap.add_argument("--model", type=Path, required=True, help="model folder")
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder")
    ap.add_argument("--dev", type=Path, required=True, help="dev manifest of the training corpus")
    ap.add_argument("--out", type=Path, required=True, help="score folder: <eval set id>.txt + dev.txt")
    args = ap.parse_args()

    plan = read_plan(args.plan)
    params = build(ScoreParams, plan["score"], "score")
    model, arm = load_detector(args.model)
    targets = {
        f"{e['id']}.txt": args.manifests / e["corpus"] / f"{e['split']}.csv" for e in plan["eval_sets"]
    }
    names = {f"{e['id']}.txt": e["name"] for e in plan["eval_sets"]} | {"dev.txt": "dev"}
    recorder, weights = LayerWeightRecorder(model), {}
    for name, manifest_path in {**targets, "dev.txt": args.dev}.items():
        manifest = pd.read_csv(manifest_path, keep_default_na=False)
        write_scores(
            args.out / name, manifest["utt_id"], score_manifest(model, manifest, params, arm.sample_rate)
        )
        if recorder.active:
            weights[names[name]] = recorder.take()
    if recorder.active:
        write_json(args.out / "layer_weights.json", {"merge": arm.model.merge, "sets": weights})


if __name__ == "__main__":
    run_stage("score", main)
