"""One demo training epoch alone and beside one busy process, with sdd's OpenMP wait setting and without.

Usage: ``python benchmarks/contention.py [--arm main] [--repeats 2]`` after ``dvc repro pretrain augment``
(it reads the arm's plan ``data/plan/arms/<arm>/s0.json``, the demo manifests, ``data/augmented`` and
``models/backbone``). Run it on an otherwise idle machine: it is a timing run.

Each measurement is a fresh child process that trains the arm for exactly one epoch through the
pipeline's own :func:`sdd.train.loop.fit` (no checkpoints, no MLflow) at the plan's thread count, and
reports the epoch's wall time and a SHA-256 of the trained weights. Variants, side by side:

- ``sdd``: the environment as the stages get it (``import sdd`` sets ``GOMP_SPINCOUNT``, see
  ``sdd/__init__.py``);
- ``libgomp default``: ``GOMP_SPINCOUNT=300000``, libgomp's own default, i.e. what the stages did before.

Each runs idle and beside ``python -c 'while True: pass'`` (one busy core of two); with ``--torch-neighbour``
also beside a 2-thread torch loop that runs at libgomp's default (another torch job, e.g. a second
queued experiment), reported beside the headlines. Headlines:

- ``RESULT contention_slowdown=<busy / idle epoch, sdd> x target=<=2.5``
- ``RESULT contention_idle_ratio=<idle epoch sdd / idle epoch libgomp default> x target=<=1.10``

and the same slowdown of the libgomp default for comparison. The weights of every run must be
identical (the wait policy changes scheduling, never arithmetic): the script says so or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SLOWDOWN, TARGET_IDLE = 2.5, 1.10

_CHILD = r"""
import dataclasses, hashlib, json, os, sys, time
from pathlib import Path
import pandas as pd
from sdd.core.configbase import to_dict
from sdd.models.source import resolve_backbone
from sdd.core.stage import read_plan
from sdd.train.loop import fit
from sdd.train.params import ArmSeedPlan

plan = read_plan(sys.argv[1], ArmSeedPlan)
arm = plan.arm
arm = dataclasses.replace(arm, backbone=resolve_backbone(arm.backbone, Path("models/backbone")),
                          train=dataclasses.replace(arm.train, epochs=1))
read = lambda p: pd.read_csv(p, keep_default_na=False)
corpus = arm.corpus
train, dev = read(f"data/manifests/{corpus}/train.csv"), read(f"data/manifests/{corpus}/dev.csv")
aug = read("data/augmented/manifest.csv") if arm.regime != "clean" else None
t0 = time.perf_counter()
model, result = fit(arm, train, dev, aug, Path("data/augmented"), None, None)
seconds = time.perf_counter() - t0
digest = hashlib.sha256()
for name, tensor in sorted(model.state_dict().items()):
    digest.update(name.encode()); digest.update(tensor.detach().cpu().numpy().tobytes())
print(json.dumps({"seconds": seconds, "weights": digest.hexdigest(),
                  "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT")}))
"""


NEIGHBOURS = {
    "idle": None,
    "busy": "while True: pass",
    "torch": (
        "import torch\ntorch.set_num_threads(2)\na = torch.randn(192, 192)\n"
        "while True:\n    a = torch.tanh(a @ a)"
    ),
}


def run_epoch(plan: Path, env: dict[str, str], neighbour: str) -> dict:
    """One epoch in a fresh process, beside :data:`NEIGHBOURS` ``[neighbour]`` (None: nothing)."""
    code = NEIGHBOURS[neighbour]
    spin_env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    spinner = subprocess.Popen([sys.executable, "-c", code], env=spin_env) if code else None
    busy = spinner is not None
    try:
        time.sleep(2.0 if busy else 0.0)  # the neighbour is up and running (torch takes ~1-2 s to import)
        out = subprocess.run([sys.executable, "-c", _CHILD, str(plan)], cwd=REPO, env=env, check=True,
                             capture_output=True, text=True)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arm", default="main", help="an arm of params.yaml (default: main)")
    ap.add_argument("--repeats", type=int, default=2, help="epochs per variant and condition (median)")
    ap.add_argument("--torch-neighbour", action="store_true", help="also beside a 2-thread torch loop")
    args = ap.parse_args()
    plan = REPO / "data/plan/arms" / args.arm / "s0.json"
    needs = [plan, REPO / "data/augmented/manifest.csv", REPO / "models/backbone"]
    if missing := [str(p) for p in needs if not p.exists()]:
        sys.exit(f"needs {', '.join(missing)}: run `dvc repro pretrain augment` first")
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    base.setdefault("OMP_NUM_THREADS", "2")
    base["PYTHONPATH"] = os.pathsep.join([str(REPO), base.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    variants = {"sdd": base, "libgomp default": base | {"GOMP_SPINCOUNT": "300000"}}
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} CPUs", file=sys.stderr)
    conditions = ["idle", "busy"] + (["torch"] if args.torch_neighbour else [])
    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.repeats):  # interleaved, so a drift in machine speed hits every variant alike
        for name, env in variants.items():
            for cond in conditions:
                r = run_epoch(plan, env, cond)
                results.setdefault((name, cond), []).append(r)
                print(f"{name:16s} {cond}: {r['seconds']:.1f} s (GOMP_SPINCOUNT={r['GOMP_SPINCOUNT']})",
                      file=sys.stderr)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    digests = {r["weights"] for v in results.values() for r in v}
    print(f"arm {args.arm}, one epoch, median of {args.repeats}:")
    torch_cols = " beside a 2-thread torch loop (s) | slowdown |" if args.torch_neighbour else ""
    print(f"| variant | idle epoch (s) | beside a busy process (s) | slowdown |{torch_cols}")
    print("|---|---:|---:|---:|" + ("---:|---:|" if args.torch_neighbour else ""))
    for name in variants:
        idle, busy = med[(name, "idle")], med[(name, "busy")]
        row = f"| {name} | {idle:.1f} | {busy:.1f} | {busy / idle:.2f}x |"
        if args.torch_neighbour:
            row += f" {med[(name, 'torch')]:.1f} | {med[(name, 'torch')] / idle:.2f}x |"
        print(row)
    print(f"weights identical across all {sum(map(len, results.values()))} runs: {len(digests) == 1}")
    sdd_idle, sdd_busy = med[("sdd", "idle")], med[("sdd", "busy")]
    old_idle, old_busy = med[("libgomp default", "idle")], med[("libgomp default", "busy")]
    print(f"RESULT contention_slowdown={sdd_busy / sdd_idle:.2f} x target=<={TARGET_SLOWDOWN}")
    print(f"RESULT contention_idle_ratio={sdd_idle / old_idle:.3f} x target=<={TARGET_IDLE}")
    print(f"RESULT contention_slowdown_libgomp_default={old_busy / old_idle:.2f} x")
    if len(digests) != 1:
        sys.exit("the trained weights differ between runs: the wait setting changed the arithmetic")


if __name__ == "__main__":
    main()
