"""Training-loader throughput on the demo corpus: utterances per second, both views, 2 s crops.

Usage: ``python benchmarks/train_loader.py [--workers 2] [--epochs 2]`` after ``dvc repro augment``
(it reads ``data/manifests/demo/train.csv`` and ``data/augmented``).

Each utterance is one training pair: its clean audio and one precomputed augmented copy, both decoded
from FLAC, resampled if needed and cropped to the same random 32,000-sample window, as the train
stage's ``DataLoader`` delivers them (``sdd.train.loader``, batch 16, prefetch 2). Nothing else runs:
this is the rate at which the loader could feed a GPU. The in-process loader (0 workers) is timed
side by side.

Headline: ``RESULT train_loader_utt_per_s=<x> target=>=200`` (2 workers).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdd.train.data import PairDataset, load_pairs  # noqa: E402
from sdd.train.loader import BatchDataset, make_loader, run_keys  # noqa: E402

TARGET = 200.0
REPO = Path(__file__).resolve().parents[1]


def throughput(ds: PairDataset, workers: int, epochs: int, batch_size: int) -> float:
    """Utterances (pairs) per second through the loader over ``epochs`` epochs."""
    loader = make_loader(BatchDataset(ds), lambda: run_keys(len(ds), batch_size, 0, epochs, None), workers, 2)
    n, t0 = 0, time.perf_counter()
    for batch in loader:
        n += batch["y"].shape[0]
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    manifest, augmented = REPO / "data/manifests/demo/train.csv", REPO / "data/augmented"
    if not manifest.is_file() or not (augmented / "manifest.csv").is_file():
        sys.exit(f"needs {manifest} and {augmented}/manifest.csv: run `dvc repro augment` first")
    os.chdir(REPO)  # manifest paths are relative to the repo root
    read = lambda p: pd.read_csv(p, keep_default_na=False)  # noqa: E731
    train = read(manifest)
    pairs = load_pairs(train, read(augmented / "manifest.csv"))
    ds = PairDataset(train, 32000, "random", 16000, pairs, augmented)
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    rates = {w: throughput(ds, w, args.epochs, args.batch_size) for w in (0, args.workers)}
    print(f"{len(train)} training utterances x {args.epochs} epochs, batch {args.batch_size}, "
          "2 s crops of both views")
    for w, rate in rates.items():
        print(f"  {w} workers: {rate:.0f} utterances/s")
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    print(f"RESULT train_loader_utt_per_s={rates[args.workers]:.0f} target=>={TARGET:.0f}")


if __name__ == "__main__":
    main()
