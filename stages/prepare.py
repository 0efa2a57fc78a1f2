"""Stage `prepare`: one validated manifest per corpus and split, then the leakage guard.

Writes <out>/<corpus>/<split>.csv (utt_id, path, speaker, label, attack, condition, split,
duration_s, sample_rate). Fails if any evaluation set shares speakers or utterances with the
training corpus's train/dev splits.
"""

import argparse
from pathlib import Path

from sdd.core.paths import resolve
from sdd.core.plandocs import PreparePlan
from sdd.core.stage import read_plan, run_stage
from sdd.data.corpora import parse_corpus
from sdd.data.leakage import check_leakage
from sdd.data.prepare import prepare_corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/prepare.json")
    ap.add_argument("--fetched", type=Path, required=True, help="the fetch record (a dependency only)")
    ap.add_argument("--raw-root", default="data/raw", help="raw data folder, relative to the repo root")
    ap.add_argument("--out", type=Path, required=True, help="manifests folder")
    args = ap.parse_args()

    plan = read_plan(args.plan, PreparePlan)
    opts = plan.prepare
    manifests = {}
    for name, doc in plan.corpora.items():
        cfg = parse_corpus(name, {k: v for k, v in doc.items() if k != "name"})
        manifests[name] = prepare_corpus(cfg, resolve(args.raw_root) / name, args.out / name,
                                         on_bad_audio=opts.on_bad_audio, workers=opts.workers)
    train = manifests[plan.train_corpus]
    check_leakage({s: train[s] for s in ("train", "dev")},
                  {e.name: manifests[e.corpus][e.split] for e in plan.eval_sets})


if __name__ == "__main__":
    run_stage("prepare", main)
