"""Stage `plan`: validate params.yaml and resolve it into one small JSON document per stage and arm.

Every other stage depends on its own document under data/plan/ instead of on params.yaml, so DVC
re-runs exactly what a change affects; a bad value stops the DAG here, before any work.
"""

import argparse
import shutil
from pathlib import Path

from sdd.core.stage import run_stage, write_plan
from sdd.plan.assemble import load_params, make_plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, required=True, help="plan folder (data/plan)")
    args = ap.parse_args()

    docs = make_plan(load_params(args.params))  # raises ConfigError before anything is written
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write_plan(docs, tmp)
    shutil.rmtree(args.out, ignore_errors=True)
    tmp.rename(args.out)


if __name__ == "__main__":
    run_stage("plan", main)
