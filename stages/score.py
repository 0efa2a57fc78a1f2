"""Stage `score@<arm>`: one score file per eval set, `utt_id score`, higher = more bona fide.

Also scores the training corpus's dev split (`dev.txt`): the evaluate stage fits its logistic
calibration there, never on the set it evaluates. `model.json` records which model (arm config and
seed) produced the scores; a skipped arm/seed pair passes its skip record on. A scoring-only arm
(regime `published`: its model folder holds `published.json`) is scored with the published model
at that model's own input length and batch size (AASIST: 64,600 samples, 8 clips), with
`score.threads`; `model.json` then also names its weight files and their SHA-256. For AttM arms, the
learned per-utterance layer weights seen while scoring are summarised in `layer_weights.json` (mean
and std over utterances).
"""

import argparse
from pathlib import Path

from sdd.core import faults
from sdd.core.configbase import build, to_dict
from sdd.core.plandocs import ScorePlan, plan_dict
from sdd.core.sections import ScoreParams
from sdd.core.stage import (
    is_skipped,
    manifest_path,
    read_manifest,
    read_plan,
    run_stage,
    write_json,
    write_skip,
)
from sdd.probing.attm_weights import LayerWeightRecorder
from sdd.scoring import published
from sdd.scoring.score import SAMPLE_RATE, score_manifest, write_scores
from sdd.train.arm_model import load_arm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/score.json")
    ap.add_argument("--model", type=Path, required=True, help="model folder")
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder")
    ap.add_argument("--dev", type=Path, required=True, help="dev manifest of the training corpus")
    ap.add_argument("--out", type=Path, required=True, help="score folder: <eval set id>.txt + dev.txt")
    args = ap.parse_args()

    plan = plan_dict(read_plan(args.plan, ScorePlan))  # validated; passed on as the mapping
    if skip := is_skipped(args.model):
        return write_skip(skip, args.out / "skipped.json")
    params = build(ScoreParams, plan["score"], "score")
    if (record := published.read_record(args.model)) is not None:
        model, params = published.load_for_scoring(record, params)
        sample_rate = SAMPLE_RATE
        write_json(args.out / "model.json", {"arm": record["arm"], "published": {
            k: record[k] for k in ("spec", "files", "input_samples")}})
    else:
        model, arm = load_arm(args.model)
        sample_rate = arm.sample_rate
        write_json(args.out / "model.json", {"arm": to_dict(arm)})
    targets = {
        f"{e['id']}.txt": manifest_path(args.manifests, e["corpus"], e["split"]) for e in plan["eval_sets"]
    }
    names = {f"{e['id']}.txt": e["name"] for e in plan["eval_sets"]} | {"dev.txt": "dev"}
    recorder, weights = LayerWeightRecorder(model), {}
    for name, path in {**targets, "dev.txt": args.dev}.items():
        manifest = read_manifest(path)
        write_scores(
            args.out / name, manifest["utt_id"], score_manifest(model, manifest, params, sample_rate)
        )
        faults.point("score:file_written")
        if recorder.active:
            weights[names[name]] = recorder.take()
    if recorder.active:
        write_json(args.out / "layer_weights.json", {"merge": arm.model.merge, "sets": weights})


if __name__ == "__main__":
    run_stage("score", main)
