"""Stage `audit`: the shortcut audit of every eval set (sdd.audit.shortcuts), cached by DVC.

One-feature EERs (silences, duration, level, DC, spectral shape), pooled and per attack, each in its
better direction, and the EER of a logistic regression on MFCC statistics fitted on the training
corpus's train split. The report flags a shortcut beside every arm whose EER it comes close to.
"""

import argparse
from pathlib import Path

import pandas as pd

from sdd.audit.shortcuts import audit_manifests, flag_shortcuts
from sdd.core.plandocs import AuditPlan
from sdd.core.stage import manifest_path, read_manifest, read_plan, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/audit.json")
    ap.add_argument("--manifests", type=Path, required=True, help="manifests folder")
    ap.add_argument("--out", type=Path, required=True, help="audit JSON (reports/audit.json)")
    args = ap.parse_args()

    plan = read_plan(args.plan, AuditPlan)
    opts = plan.audit
    result = {}
    if opts.enabled:
        def read(corpus: str, split: str) -> pd.DataFrame:
            return read_manifest(manifest_path(args.manifests, corpus, split))

        evals = {e.name: read(e.corpus, e.split) for e in plan.eval_sets}
        audits = audit_manifests(evals, read(plan.corpus, "train"), workers=opts.workers,
                                 silence_db=opts.silence_db)
        result = {name: {**a.to_dict(), "flagged": [vars(s) for s in flag_shortcuts(a)]}
                  for name, a in audits.items()}
    write_json(args.out, result)


if __name__ == "__main__":
    run_stage("audit", main)
