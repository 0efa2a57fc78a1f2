"""What a real run costs here: prepare, augment, training loader and scoring I/O per 1,000 utterances.

Usage: ``python benchmarks/run_cost.py [--fraction 0.01] [--workers 2] [--preset ssl_aasist_la] [--keep DIR]``

Writes a synthetic corpus with ASVspoof 2019 LA's split sizes times ``--fraction`` (25,380 / 24,844 /
71,237 utterances at 1.0) into a temp folder: the rows (utt_id, speaker, attack, label) are a random
sample of the real CM protocols in ``../shared/data/asvspoof2019_la``, the audio is synthetic 16 kHz
FLAC (``sdd.train.runcost.synth_utterance``), and each utterance's duration is drawn from the
durations of the real bona fide clips of ``../shared/data/realmini`` (``--durations-from``: any
``folder``-style protocol of real audio). ASVspoof 2019 LA's own durations are not in ``../shared``
(protocols only), so the stages that scale with audio length (prepare, augment) are also reported
per hour of audio.

Then it times the real stage code (``sdd.train.runcost``): ``prepare`` over every split; ``augment``
of the training split with the preset's policy and copies; one epoch of the training ``loader`` at the
preset's crop length and batch (both views, no model; timed from the first batch to the last, the
workers' start is paid once per run and shown apart); ``scoring_io`` of the eval split at the
preset's ``score.num_samples`` (read + crop, a model returning zeros). Prints one line per stage and
the disk of the augmented copies per 1,000 training utterances, plus the load average before and
after (other jobs on the machine slow every wall-time figure).

Prepare and augment include their worker pools' start (paid once per run): well below the default
fraction it dominates their per-1,000 figures.

Headline: ``RESULT run_cost_<stage>_s_per_1000=<x>`` per stage and
``RESULT run_cost_augmented_mb_per_1000=<x>`` (measurements, no target).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdd.augment.params import AugmentParams  # noqa: E402
from sdd.core.sections import ScoreParams  # noqa: E402
from sdd.core.yamlfile import read_yaml  # noqa: E402
from sdd.train import runcost  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LA19_PROTOCOLS = SHARED / "asvspoof2019_la" / "ASVspoof2019_LA_cm_protocols"
LA19_FILES = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}


def la19_protocols(folder: Path) -> dict[str, pd.DataFrame]:
    """The three CM protocol files (``speaker utt_id - attack label``) as split -> rows."""
    out = {}
    for split, name in LA19_FILES.items():
        path = folder / name
        if not path.is_file():
            sys.exit(f"{path}: not found; expected the ASVspoof 2019 LA CM protocols (../shared/data)")
        df = pd.read_csv(path, sep=" ", header=None, names=["speaker", "utt_id", "_", "attack", "label"])
        if len(df) != runcost.LA19_SPLITS[split]:
            sys.exit(f"{path}: {len(df)} rows; expected {runcost.LA19_SPLITS[split]}")
        out[split] = df.drop(columns="_")
    return out


def real_durations(protocol: Path) -> np.ndarray:
    """Durations (s) of the bona fide files listed in a protocol TSV with ``path`` and ``label``."""
    if not protocol.is_file():
        sys.exit(f"{protocol}: not found; expected a protocol TSV of real audio (--durations-from)")
    df = pd.read_csv(protocol, sep="\t")
    if not {"path", "label"} <= set(df.columns):
        sys.exit(f"{protocol}: columns {list(df.columns)}; expected at least path and label")
    bona = df[df["label"] == "bonafide"]
    if bona.empty:
        sys.exit(
            f"{protocol}: no row with label 'bonafide'; expected real bona fide clips to take durations from"
        )
    return np.array([sf.info(protocol.parent / p).duration for p in bona["path"]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--preset", default="ssl_aasist_la")
    ap.add_argument("--copies", type=int, default=None, help="augmented copies (default: the preset's)")
    ap.add_argument("--durations-from", type=Path, default=SHARED / "realmini" / "protocol.tsv")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = ap.parse_args()
    preset_path = REPO / "presets" / f"{args.preset}.yaml"
    if not preset_path.is_file():
        sys.exit(f"--preset: {preset_path} not found; expected one of presets/*.yaml")
    preset = read_yaml(preset_path)
    augment = AugmentParams(
        policy=preset["augment"]["policy"], copies=args.copies or preset["augment"]["copies"], seed=args.seed
    )
    train_cfg = preset["train"]
    score = ScoreParams(num_samples=preset["score"]["num_samples"], threads=1)
    durations = real_durations(args.durations_from)
    rows = runcost.sample_rows(la19_protocols(LA19_PROTOCOLS), args.fraction, args.seed)

    with tempfile.TemporaryDirectory(prefix="run_cost_") as tmp:
        work = args.keep or Path(tmp)
        print(f"load average before: {os.getloadavg()}", file=sys.stderr)
        print(
            f"{len(rows)} utterances ({args.fraction:g} of ASVspoof 2019 LA: "
            f"{rows['split'].value_counts().to_dict()}); durations from {len(durations)} real bona fide "
            f"clips of {args.durations_from} (mean {durations.mean():.2f} s, "
            f"median {np.median(durations):.2f} s)"
        )
        t0 = time.perf_counter()
        runcost.write_corpus(work / "corpus", rows, durations, args.seed)
        print(f"  corpus written in {time.perf_counter() - t0:.0f} s")
        prep, manifests = runcost.time_prepare(work / "corpus", work / "manifests", args.workers)
        aug_cost, aug, aug_bytes = runcost.time_augment(
            manifests["train"], work / "augmented", augment, args.workers
        )
        loader, batches_s, first_s = runcost.time_loader(
            manifests["train"], aug, work / "augmented", train_cfg["crop_samples"], train_cfg["crop"],
            train_cfg["batch_size"], args.workers,
        )  # fmt: skip
        scoring = runcost.time_scoring_io(manifests["eval"], score)
        print(f"load average after: {os.getloadavg()}", file=sys.stderr)

    print(
        f"preset {args.preset}: augment {augment.policy} x {augment.copies} copies, crop "
        f"{train_cfg['crop_samples']} ({train_cfg['crop']}), batch {train_cfg['batch_size']}, "
        f"score.num_samples {score.num_samples}; {args.workers} workers"
    )
    for cost in (prep, aug_cost, loader, scoring):
        extra = f", {batches_s:.1f} batches/s; first batch after {first_s:.1f} s" if cost is loader else ""
        print(
            f"  {cost.stage:<11} {cost.per_1000:8.1f} s per 1,000 utterances ({cost.utterances} timed, "
            f"{cost.per_audio_hour:7.1f} s per audio hour{extra})"
        )
    mb = aug_bytes / 1e6 * 1000 / aug_cost.utterances
    print(f"  augmented copies: {mb:.0f} MB per 1,000 training utterances ({augment.copies} copies each)")
    for cost in (prep, aug_cost, loader, scoring):
        print(f"RESULT run_cost_{cost.stage}_s_per_1000={cost.per_1000:.1f}")
    print(f"RESULT run_cost_augmented_mb_per_1000={mb:.0f}")


if __name__ == "__main__":
    main()
