"""The demo's positive control: does the pipeline detect that augmentation helps under a channel shift?

Usage: ``python benchmarks/demo_power.py [--seeds 0 1 2] [--ref HEAD] [--keep]``

The demo trains on studio-like audio and ``demo:eval_degraded`` adds telephony, codec, packet-loss
and low-SNR noise conditions that the default training augmentation (RawBoost LnL + ISD + SSI) does
not contain (docs/data.md, "The demo corpus"). RawBoost's and DPDA's premise is that augmentation
helps under such a shift, so ``clean`` (no augmentation) should be worse than ``main`` (the dual-path
regime over the RawBoost copies) on ``eval_degraded``: a known effect the demo must be able to detect.

The script clones the committed HEAD (``--ref``) into a temporary folder, keeps only the arms
``main`` and ``clean`` of its params.yaml, sets ``seeds`` (default 0, 1, 2), turns off probing, the
hand-feature baseline and the shortcut audit (they do not enter the comparison), and runs the pipeline
itself with ``dvc repro`` in this Python environment, importing the clone's ``sdd`` (``--clone DIR``
continues in a clone a previous run kept, e.g. after an interruption): the real fetch, prepare,
augment, pretrain, train, score, evaluate and report stages. It then reads ``reports/metrics.json``.
The report's paired comparison of ``clean`` with the reference ``main``, Holm-corrected over its family,
is here exactly the pre-declared family of two comparisons: ``clean`` vs ``main`` on ``demo:eval`` and on
``demo:eval_degraded``.

``--set KEY=VALUE`` (repeatable, ``dvc exp run -S``'s syntax, YAML values) changes params of the clone
for a diagnostic: the run then prints ``DIAGNOSTIC clean_minus_main_pp=...`` instead of the RESULT, since
it is no longer the pre-declared control. E.g. the band-limiting diagnostic of the docs' "Positive
control" section (RawBoost plus a telephone band on half the copies, which is the test's own kind and
so never the default): ``--set 'augment.policies={rb4tel: [{op: lnl}, {op: isd}, {op: ssi}, {op:
telephone, prob: 0.5}]}' --set augment.policy=rb4tel``.

Headline: ``RESULT demo_positive_control_pp=<mean EER(clean) - mean EER(main) on eval_degraded, in
percentage points> detected=<yes|no> target=>=3``, where detected = the report flags the difference
(its Holm-corrected interval excludes 0) and clean is the worse one. The other comparison, the seed
means and standard deviations, and each comparison's minimum detectable difference at 80 % power
(the report's MDD: what the instrument could have detected) are printed beside it.
"""

from __future__ import annotations

import argparse
import json
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
TARGET_PP = 3.0
SETS = ("demo:eval", "demo:eval_degraded")


def set_dotted(params: dict, assignment: str) -> None:
    """Apply ``key.sub=<YAML value>`` to ``params`` in place (``dvc exp run -S``'s syntax)."""
    key, sep, value = assignment.partition("=")
    if not sep or not key:
        sys.exit(f"--set {assignment!r}: expected KEY=VALUE, e.g. augment.copies=8")
    *parents, last = key.split(".")
    node = params
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = parse_yaml(value)  # YAML 1.2, as dvc exp run -S reads it


def prepare_clone(work: Path, ref: str, seeds: list[int], overrides: list[str]) -> Path:
    """A clone of ``ref`` whose params.yaml trains ``main`` and ``clean`` at ``seeds`` and nothing else,
    with ``overrides`` (``--set``) applied last."""
    clone = work / "repo"
    subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", ref], cwd=clone, check=True)
    if (REPO.parent / "shared").is_dir():
        shutil.copytree(REPO.parent / "shared", work / "shared", symlinks=True)
    params = read_yaml(clone / "params.yaml")
    if params.get("corpus") != "demo" or list(params.get("eval_sets", [])) != list(SETS):
        sys.exit(f"{ref}'s params.yaml does not train on the demo with eval sets {list(SETS)}")
    params["arms"] = {name: params["arms"][name] for name in ("main", "clean")}
    params["seeds"] = seeds
    params["probe"]["models"] = ["random"]  # the report stage needs one probe output; the cheapest
    params["probe"]["partial_layers"] = []
    params["baseline"]["enabled"] = False
    params["audit"]["enabled"] = False
    params["report"]["reference"] = "main"
    for assignment in overrides:
        set_dotted(params, assignment)
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return clone


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default 0 1 2)")
    ap.add_argument("--ref", default="HEAD", help="the commit to clone (default HEAD)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary clone (its path is printed)")
    ap.add_argument("--clone", type=Path, help="continue in this kept clone (its params.yaml as it is)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a diagnostic: change a param (YAML value, repeatable), e.g. "
                    "augment.policy=rawboost5; the run then prints a DIAGNOSTIC line, not the RESULT")
    args = ap.parse_args()
    work = args.clone.resolve().parent if args.clone else Path(tempfile.mkdtemp(prefix="sdd-power-"))
    if args.clone:
        args.keep = True
        args.seeds = read_yaml(args.clone / "params.yaml")["seeds"]
    try:
        seeds = sorted(set(args.seeds))
        clone = args.clone.resolve() if args.clone else prepare_clone(work, args.ref, seeds, args.set)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_", "SDD_"))}
        bindir = Path(sys.executable).parent
        env.update(PATH=f"{bindir}{os.pathsep}{env['PATH']}", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2",
                   DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1",
                   PYTHONPATH=str(clone))  # the stages import the clone's sdd, not this checkout's
        print(f"running `dvc repro` in {clone} (arms main and clean, seeds {args.seeds})", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(["dvc", "repro"], cwd=clone, env=env)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            print(f"`dvc repro` failed (exit code {proc.returncode}) after {seconds:.0f} s", file=sys.stderr)
            return proc.returncode
        metrics = json.loads((clone / "reports/metrics.json").read_text())
        systems = metrics["systems"] if "systems" in metrics else metrics
        print(f"pipeline: {seconds:.0f} s; EER in %, mean +- std over seeds {args.seeds}")
        print("| eval set | clean | main | clean - main (pp) | Holm CI (pp) | flagged | MDD 80% power (pp) |")
        print("|---|---:|---:|---:|---:|---|---:|")
        rows = {}
        for s in SETS:
            c, m = systems["clean"][s], systems["main"][s]
            cmp = c["vs_reference"]
            diff = 100 * (c["eer"] - m["eer"])
            lo, hi = (100 * x for x in cmp["holm_ci"])
            std = lambda a: f" +- {100 * a['eer_std']:.2f}" if a.get("eer_std") is not None else ""  # noqa: E731
            print(f"| {s} | {100 * c['eer']:.2f}{std(c)} | {100 * m['eer']:.2f}{std(m)} | {diff:+.2f} | "
                  f"[{lo:+.2f}, {hi:+.2f}] | {cmp['significant']} | {100 * cmp['mdd']:.2f} |")
            if cmp.get("n_comparisons") != len(SETS):
                sys.exit(f"the report's Holm family has {cmp.get('n_comparisons')} comparisons, expected 2")
            rows[s] = (diff, bool(cmp["significant"]))
        diff, flagged = rows["demo:eval_degraded"]
        detected = "yes" if flagged and diff > 0 else "no"
        if args.set:  # not the default params: not the positive control
            print(f"DIAGNOSTIC clean_minus_main_pp={diff:.2f} flagged={detected} with {' '.join(args.set)}")
        else:
            print(f"RESULT demo_positive_control_pp={diff:.2f} detected={detected} target=>={TARGET_PP:g}")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
