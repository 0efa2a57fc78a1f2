"""Parity and speed of our AASIST with the published weights (issue 10).

Loads the official ``AASIST.pth`` and ``AASIST-L.pth`` with their ``.conf`` from ``../shared/data/aasist``
and scores every clip of ``reference_scores.tsv`` (the official implementation's logits on the 100
LibriSpeech clips of realmini): input = the first 64,600 samples at 16 kHz, repeat-padded when
shorter, float32, eval mode. The baseline is the authors' code itself, through its released logits
(it is not run here). Prints, per variant, the largest absolute error of each logit and of the
log-odds, the worst clip, and the wall time per clip (decode + forward, batches of ``--batch-size``
on ``--threads`` threads).

Headline: ``RESULT aasist_max_abs_logit_error=<v> target=<=0.001`` (both variants, both logits) and
``RESULT aasist_seconds_per_clip=<v> s`` (AASIST, no target).

Run: ``.venv/bin/python benchmarks/aasist_parity.py [--threads 2] [--batch-size 8]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sdd.audio.crop import crop_or_pad
from sdd.audio.io import read_audio
from sdd.models.published import load_aasist

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TARGET = 1e-3
# variant -> reference columns (spoof, bona fide): our logit order.
COLUMNS = {
    "AASIST": ("aasist_spoof_logit", "aasist_bonafide_logit"),
    "AASIST-L": ("aasist_l_spoof_logit", "aasist_l_bonafide_logit"),
}


def run(variant: str, folder: Path, ref: pd.DataFrame, batch_size: int) -> tuple[np.ndarray, float]:
    """Logits (N, 2) for every reference clip and the wall seconds spent (decode + forward)."""
    model, config = load_aasist(folder / f"{variant}.pth")
    paths = [folder.parent / "realmini" / p for p in ref["path"]]
    out = []
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(paths), batch_size):
            batch = [crop_or_pad(read_audio(p, 16000)[0], config.nb_samp) for p in paths[i : i + batch_size]]
            out.append(model(torch.from_numpy(np.stack(batch))).numpy())  # (B, 2)
    return np.concatenate(out), time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--batch-size", type=int, default=8, help="clips per forward (default 8)")
    args = ap.parse_args()
    folder = SHARED / "data" / "aasist"
    if not (folder / "reference_scores.tsv").is_file():
        print(f"{folder}: absent; needs the published AASIST weights and reference scores", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    ref = pd.read_csv(folder / "reference_scores.tsv", sep="\t")
    print(f"{len(ref)} reference clips, {args.threads} threads, batches of {args.batch_size}")
    header = ("variant", "max|d spoof|", "max|d bona|", "max|d log-odds|", "s/clip")
    print(f"{header[0]:<9} {header[1]:>12} {header[2]:>12} {header[3]:>16} {header[4]:>7}  worst clip")
    worst_logit, seconds = 0.0, {}
    for variant, cols in COLUMNS.items():
        logits, wall = run(variant, folder, ref, args.batch_size)
        err = np.abs(logits - ref[list(cols)].to_numpy())  # (N, 2)
        err_lo = np.abs((logits[:, 1] - logits[:, 0]) - (ref[cols[1]] - ref[cols[0]]).to_numpy())
        worst = ref["path"][int(err.max(axis=1).argmax())]
        seconds[variant] = wall / len(ref)
        worst_logit = max(worst_logit, float(err.max()))
        print(f"{variant:<9} {err[:, 0].max():>12.2e} {err[:, 1].max():>12.2e} {err_lo.max():>16.2e} "
              f"{seconds[variant]:>7.3f}  {worst}")  # fmt: skip
    print(f"RESULT aasist_max_abs_logit_error={worst_logit:.2e} target=<={TARGET}")
    print(f"RESULT aasist_seconds_per_clip={seconds['AASIST']:.3f} s")
    return 0 if worst_logit <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
