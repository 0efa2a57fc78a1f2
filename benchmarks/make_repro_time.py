"""Time `make repro` in a fresh clone: the README's first command, from nothing to the full report.

    python benchmarks/make_repro_time.py                       # the real measurement (creates .venv too)
    python benchmarks/make_repro_time.py --venv .venv \\
        --params train.epochs=1 train.average_best=1 arms.attm.train.freeze_backbone_epochs=0 \\
        corpora.demo.n_per_split=8                              # a quick dry run of the script itself

The clone is made from this repository's committed HEAD (`--ref` to choose) in a temporary folder,
with a copy of `../shared` beside it when there is one (as CI has). Without `--venv`, the clone's
`make repro` builds its own `.venv` from `requirements.lock` (so the time includes the set-up, as a new
user sees it). With `--venv DIR`, that environment is used instead and `dvc repro` runs directly
(`make` would re-install into it): a dry run that checks the pipeline and the report, not the
set-up. `--params KEY=VALUE` (dotted keys, YAML values) overrides params.yaml in the clone.

Prints `RESULT make_repro_seconds=<seconds> target=<=1500` (and `dry_run=1` with --venv or --params;
only a run without either is the measurement). Run by hand, not in the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sdd.core.yamlfile import parse_yaml, read_yaml

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 1500


def set_param(params: dict, dotted: str) -> None:
    key, sep, value = dotted.partition("=")
    if not sep:
        raise SystemExit(f"--params {dotted!r}: expected KEY=VALUE, e.g. train.epochs=1")
    node = params
    *parents, last = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = parse_yaml(value)  # YAML 1.2, as dvc exp run -S reads it


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default="HEAD", help="the commit to clone (default HEAD)")
    ap.add_argument("--venv", type=Path, help="use this environment and run `dvc repro` (a dry run)")
    ap.add_argument("--params", nargs="*", default=[], metavar="KEY=VALUE", help="params.yaml overrides")
    ap.add_argument("--keep", action="store_true", help="keep the temporary clone (its path is printed)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sdd-repro-"))
    clone = work / "repo"
    try:
        subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", args.ref], cwd=clone, check=True)
        if (REPO.parent / "shared").is_dir():
            shutil.copytree(REPO.parent / "shared", work / "shared", symlinks=True)
        if args.params:
            params = read_yaml(clone / "params.yaml")
            for item in args.params:
                set_param(params, item)
            (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_", "SDD_"))}
        if args.venv:
            venv = args.venv.resolve()
            env.update(
                PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
                VIRTUAL_ENV=str(venv),
                OMP_NUM_THREADS="2",
                MKL_NUM_THREADS="2",
                DVC_NO_ANALYTICS="1",
                HF_HUB_OFFLINE="1",
                PYTHONPATH=str(clone),  # the stages import the clone's sdd, not the venv's editable one
            )
            cmd = ["dvc", "repro"]
        else:
            cmd = ["make", "repro"]
        print(f"running `{' '.join(cmd)}` in {clone}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=clone, env=env)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            print(
                f"`{' '.join(cmd)}` failed with exit code {proc.returncode} after {seconds:.0f} s",
                file=sys.stderr,
            )
            return proc.returncode
        for out in ("reports/index.html", "reports/metrics.json"):
            if not (clone / out).is_file():
                print(f"{out} is missing after the run", file=sys.stderr)
                return 1
        dry = " dry_run=1" if (args.venv or args.params) else ""
        print(f"RESULT make_repro_seconds={seconds:.0f} target=<={TARGET_S}{dry}")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
