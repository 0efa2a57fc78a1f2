"""Run the faults module (tests/pipeline/test_faults.py) and print its two RESULT lines.

    python benchmarks/faults_summary.py

``RESULT bad_inputs_clear=<passed>/<total>``: rows of the bad-input catalogue that gave the expected
one clear error (or behaviour); ``RESULT kills_survived=<passed>/<total>``: stages (fetch, prepare,
augment, pretrain, train, score, extract, probe, report) whose re-run after a SIGKILL of the process
group at a named point wrote the same outputs as an uninterrupted run. Targets: every row and every
kill passes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE = "tests/pipeline/test_faults.py"


def main() -> int:
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", MODULE],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    tail = [line for line in proc.stdout.splitlines() if " passed" in line or " failed" in line][-1:]
    print(f"{MODULE}: {' '.join(tail)} in {time.time() - t0:.0f} s")
    for line in results:
        total = line.rpartition("/")[2]
        print(f"{line} target={total}/{total}")
    if not results:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
