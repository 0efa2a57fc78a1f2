"""Do two runs report the same results? Compares two ``reports/metrics.json`` files leaf by leaf.

    python benchmarks/same_metrics.py BEFORE/reports/metrics.json AFTER/reports/metrics.json

The evidence for a change that must not alter results (a refactor, a dependency bump): run
``make repro`` (or ``benchmarks/make_repro_time.py --keep``) on the same machine before and after, then
compare. Machine-dependent keys (wall and CPU seconds, peak memory:
:data:`sdd.report.stats.MACHINE_KEYS`) are skipped; every other value must be exactly equal.

Prints each difference (up to ``--show``) and
``RESULT metrics_differing=<n> compared=<m> target=<=0``; exits 1 when any value differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sdd.report.stats import MACHINE_KEYS, metrics_differences


def count_leaves(doc: Any) -> int:
    if isinstance(doc, dict):
        return sum(count_leaves(v) for k, v in doc.items() if k not in MACHINE_KEYS)
    if isinstance(doc, list):
        return sum(count_leaves(v) for v in doc)
    return 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--show", type=int, default=30, help="differences to print (default 30)")
    args = ap.parse_args()
    docs = []
    for path in (args.before, args.after):
        try:
            docs.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"{path}: cannot read metrics ({exc}); expected a reports/metrics.json") from exc
    diffs = metrics_differences(*docs)
    for where, a, b in diffs[: args.show]:
        print(f"{where}: {a!r} -> {b!r}")
    if len(diffs) > args.show:
        print(f"... and {len(diffs) - args.show} more")
    print(f"skipped keys: {', '.join(sorted(MACHINE_KEYS))}")
    print(f"RESULT metrics_differing={len(diffs)} compared={count_leaves(docs[0])} target=<=0")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
