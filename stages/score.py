"""Stage `score@<arm>`: one score file per eval set, `utt_id score`, higher = more bona fide.

Also scores the training corpus's dev split (`dev.txt`): the evaluate stage fits its logistic
calibration there, never on the set it evaluates. Every file is scored under the input rule of
`score.input` (the first `score.num_samples` samples, repeat-padded, or whole utterances). `model.json`
records which model (arm config and seed) produced the scores, the input rule (`input`) and the EER
threshold of `dev.txt` under that rule (`dev_threshold`); a skipped arm/seed pair passes its skip
record on. A scoring-only arm
(regime `published`: its model folder holds `published.json`) is scored with the published model
at that model's own input length and batch size (AASIST: 64,600 samples, 8 clips), with
`score.threads`; `model.json` then also names its weight files and their SHA-256. For AttM arms, the
learned per-utterance layer weights seen while scoring are summarised in `layer_weights.json` (mean
and std over utterances). The work is sdd/train/score_arm.py's.
"""

import argparse
import dataclasses
from pathlib import Path

from sdd.core.plandocs import ScorePlan
from sdd.core.stage import read_plan, run_stage
from sdd.train.score_arm import ScoreIO, score_arm_seed

HELP = {
    "plan": "data/plan/score.json", "model": "model folder", "manifests": "manifests folder",
    "dev": "dev manifest of the training corpus", "out": "score folder: <eval set id>.txt + dev.txt",
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name, text in HELP.items():
        ap.add_argument(f"--{name}", type=Path, required=True, help=text)
    args = ap.parse_args()

    plan = read_plan(args.plan, ScorePlan)
    io = ScoreIO(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ScoreIO)})
    score_arm_seed(plan, io)


if __name__ == "__main__":
    run_stage("score", main)
