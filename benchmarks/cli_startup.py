"""`sdd score` on one clip in a fresh process: wall time and peak memory (issue 22, item 5).

A user who scores files one by one from a shell loop pays the command's start-up on every file. This
script runs ``python -m sdd.cli score --model MODEL CLIP`` (what the ``sdd`` program runs) in a fresh
process ``--runs`` times after one untimed warm-up (the file cache then holds torch's libraries, as in a
loop), with this checkout first on ``PYTHONPATH`` and 2 threads (the Makefile's setting), and reports
the median wall time and the peak RSS. The peak is the process's ``ru_maxrss`` from ``os.wait4``: this
script imports nothing heavy, so a child's peak is its own (on Linux a child's count starts from its
parent's RSS at fork).

Side by side, in the same run:

- ``python -c "import torch"``, the floor: what importing torch (the lock's CUDA build) and exiting
  cost, before any of sdd runs;
- with ``--baseline DIR``, the same command from another checkout (e.g. the commit before a change,
  ``git worktree add /tmp/before <commit>``); its printed scores must equal this checkout's, exactly.

The clip is realmini's ``audio/wavefake_tests/LJSpeech/LJ001-0001.wav`` from ``../shared/data`` (bona
fide LJSpeech, 9.66 s at 22.05 kHz, so it is resampled; realmini's longest 22.05 kHz clip, the issue's
"one 10 s clip"); the model is the checkout's ``models/main/s0`` (written by ``make repro``). Prints
each variant's median and peak, their ratios to the issue's reference (9.0 s and 1.0 GB on the machine
it was filed on), and::

    RESULT score_one_clip_seconds=<x> s target=<=3
    RESULT score_one_clip_peak_mb=<x> MB target=<=600

Run by hand on an idle machine (other processes on the 2 cores slow every variant):
``.venv/bin/python benchmarks/cli_startup.py [--model DIR] [--clip FILE] [--runs N] [--baseline DIR]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = (
    REPO.parent / "shared" / "data" / "realmini" / "audio" / "wavefake_tests" / "LJSpeech" / "LJ001-0001.wav"
)
MODEL = REPO / "models" / "main" / "s0"
REFERENCE_S, REFERENCE_MB = 9.0, 1000.0  # the figures for the same command, before
TARGET_S, TARGET_MB = 3.0, 600.0


def run_once(cmd: list[str], checkout: Path) -> tuple[float, float, str]:
    """One fresh process: (wall seconds, peak RSS MB, stdout). Exits the benchmark if it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SDD_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(checkout), HF_HUB_OFFLINE="1")
    env.setdefault("OMP_NUM_THREADS", "2")
    env.setdefault("MKL_NUM_THREADS", "2")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=checkout, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(cmd)}` in {checkout} failed (exit code {proc.returncode}):\n{stderr}")
    return seconds, usage.ru_maxrss / 1024, stdout  # ru_maxrss is in KiB on Linux


def measure(name: str, cmd: list[str], checkout: Path, runs: int) -> dict:
    run_once(cmd, checkout)  # warm-up: the file cache, as for the second file of a loop
    results = [run_once(cmd, checkout) for _ in range(runs)]
    outputs = {out for _, _, out in results}
    if len(outputs) != 1:
        raise SystemExit(f"{name}: the runs printed different outputs: {sorted(outputs)}")
    return {
        "name": name,
        "seconds": statistics.median(s for s, _, _ in results),
        "all_seconds": [s for s, _, _ in results],
        "peak_mb": max(m for _, m, _ in results),
        "stdout": outputs.pop(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=MODEL, help=f"a trained checkpoint (default {MODEL})")
    ap.add_argument("--clip", type=Path, default=CLIP, help="the audio file to score (default: realmini's)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per variant (default 5; median reported)")
    ap.add_argument(
        "--baseline", type=Path, help="another checkout to run the same command from, side by side"
    )
    args = ap.parse_args()
    if not (args.model / "config.json").is_file():
        raise SystemExit(f"{args.model}: no trained model there (config.json missing); run `make repro` "
                         "first (it writes models/main/s0), or pass --model DIR")  # fmt: skip
    if not args.clip.is_file():
        raise SystemExit(f"{args.clip}: missing; this benchmark scores realmini's clip from ../shared beside "
                         "the checkout (absent in a user's clone), or pass --clip FILE")  # fmt: skip
    if args.runs < 1:
        raise SystemExit(f"--runs {args.runs}: expected at least 1")
    if args.baseline is not None and not (args.baseline / "sdd" / "cli.py").is_file():
        raise SystemExit(f"--baseline {args.baseline}: not an sdd checkout (sdd/cli.py missing)")

    score = [
        sys.executable,
        "-m",
        "sdd.cli",
        "score",
        "--model",
        str(args.model.resolve()),
        str(args.clip.resolve()),
    ]
    variants = [measure("sdd score (this checkout)", score, REPO, args.runs)]
    if args.baseline is not None:
        variants.append(measure(f"sdd score ({args.baseline})", score, args.baseline.resolve(), args.runs))
    variants.append(measure('python -c "import torch" (floor)', [sys.executable, "-c", "import torch"], REPO,
                            args.runs))  # fmt: skip

    print(f"clip {args.clip} (one file), model {args.model}, {args.runs} fresh processes per variant after a "
          f"warm-up; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '2')}")  # fmt: skip
    print(f"{'variant':<48} {'median s':>9} {'x 9.0 s':>8} {'peak MB':>8} {'x 1.0 GB':>9}  runs (s)")
    for v in variants:
        runs = " ".join(f"{s:.2f}" for s in v["all_seconds"])
        print(f"{v['name']:<48} {v['seconds']:>9.2f} {v['seconds'] / REFERENCE_S:>8.2f} {v['peak_mb']:>8.0f} "
              f"{v['peak_mb'] / REFERENCE_MB:>9.2f}  {runs}")  # fmt: skip
    ours = variants[0]
    print(f"output:\n{ours['stdout'].strip()}")
    same = True
    if args.baseline is not None:
        # the scores, not the header (`# ...` lines), which a checkout before the header lacks
        scores = [[ln for ln in v["stdout"].splitlines() if not ln.startswith("#")] for v in variants[:2]]
        same = scores[0] == scores[1]
        verdict = "identical scores" if same else "DIFFERENT scores"
        print(f"output of {args.baseline} ({verdict}):\n{variants[1]['stdout'].strip()}")
    print(f"RESULT score_one_clip_seconds={ours['seconds']:.2f} s target=<={TARGET_S:g}")
    print(f"RESULT score_one_clip_peak_mb={ours['peak_mb']:.0f} MB target=<={TARGET_MB:g}")
    if not same:
        print("the scores differ from the baseline's: the figures above are not of the same computation")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
