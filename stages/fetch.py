"""Stage `fetch`: download + verify + extract (or generate) every corpus in use.

Raw data lives under <repo root>/<raw-root>/<corpus> (or a corpus's `source_dir`), outside DVC's
cache so large corpora are never stored twice; this stage's DVC output is the small JSON record of
what was fetched and its checksums.
"""

import argparse
from pathlib import Path

from sdd.core.paths import resolve
from sdd.core.plandocs import FetchPlan
from sdd.core.stage import read_plan, run_stage, write_json
from sdd.data.corpora import parse_corpus
from sdd.data.fetchers import fetch_corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", type=Path, required=True, help="data/plan/fetch.json")
    ap.add_argument("--raw-root", default="data/raw", help="raw data folder, relative to the repo root")
    ap.add_argument("--out", type=Path, required=True, help="the fetch record (JSON)")
    args = ap.parse_args()

    plan = read_plan(args.plan, FetchPlan)
    configs = {name: parse_corpus(name, {k: v for k, v in doc.items() if k != "name"})
               for name, doc in plan.corpora.items()}
    record = {name: fetch_corpus(cfg, resolve(args.raw_root) / name) for name, cfg in configs.items()}
    write_json(args.out, record)


if __name__ == "__main__":
    run_stage("fetch", main)
