"""Manifests: one CSV per split of a corpus, every audio file checked by a full decode.

:func:`prepare_corpus` reads a corpus's protocol (:func:`sdd.data.corpora.read_protocol`), decodes
every listed file (:func:`sdd.data.audio_check.check_files`, cached), and writes
``<out_dir>/<split>.csv`` with the columns of :data:`sdd.data.corpora.MANIFEST_COLUMNS`
(+ ``channels`` and the corpus's condition columns), ``skipped.csv`` (files left out under
``on_bad_audio: skip``, with reasons) and ``report.json``. The leakage guard run after it is
:mod:`sdd.data.leakage`.

Resampling: manifests keep each file's own rate; the loader resamples on read
(``read_audio(path, 16000)``), and prepare logs a counted note of files not at 16 kHz.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.core import atomic, faults
from sdd.core.paths import display_path
from sdd.data.audio_check import check_files
from sdd.data.corpora import CORPUS_TYPES, MANIFEST_COLUMNS, CorpusConfig, corpus_splits, read_protocol

__all__ = ["BAD_AUDIO_POLICIES", "TARGET_SAMPLE_RATE", "BadAudioError", "prepare_corpus"]

log = logging.getLogger(__name__)

#: The rate models consume; files at other rates are resampled by the loader.
TARGET_SAMPLE_RATE = 16000
#: Values of ``on_bad_audio``.
BAD_AUDIO_POLICIES = ("error", "skip")


class BadAudioError(RuntimeError):
    """Files that fail the decode check under ``on_bad_audio: error`` (the message names them)."""


def _split_report(df: pd.DataFrame) -> dict[str, Any]:
    return {
        "n": int(len(df)),
        "bonafide": int((df["label"] == "bonafide").sum()),
        "spoof": int((df["label"] == "spoof").sum()),
        "attacks": {a: int(n) for a, n in sorted(Counter(df["attack"]).items())},
        "speakers": int(df.loc[df["speaker"] != "-", "speaker"].nunique()),
        "hours": round(float(df["duration_s"].sum()) / 3600, 4),
    }


def prepare_corpus(
    cfg: CorpusConfig, raw_dir: Path, out_dir: Path, *, on_bad_audio: str = "error", workers: int = 2
) -> dict[str, pd.DataFrame]:
    """Write ``out_dir/<split>.csv`` for every split of the corpus, after decoding every file.

    Args:
        cfg: a corpus config from :func:`sdd.data.corpora.parse_corpus`.
        raw_dir: where :func:`sdd.data.fetchers.fetch_corpus` put the data (ignored for data read in
            place: ``source_dir``, ``folder``).
        out_dir: manifest folder (created).
        on_bad_audio: ``error`` (default): one error naming every bad file and why; ``skip``: leave
            them out and list them in ``out_dir/skipped.csv``.
        workers: decode processes.

    Returns:
        split -> manifest DataFrame (columns: :data:`~sdd.data.corpora.MANIFEST_COLUMNS`, ``channels``,
        ``checksum`` (BLAKE2b-128 of the file's bytes), then the corpus's condition columns).

    Raises:
        ValueError: bad ``on_bad_audio``.
        BadAudioError: bad files under ``on_bad_audio: error``, or a split left empty.
        CorpusError: the protocol or layout is wrong.
    """
    if on_bad_audio not in BAD_AUDIO_POLICIES:
        raise ValueError(f"on_bad_audio: got {on_bad_audio!r}; expected one of {list(BAD_AUDIO_POLICIES)}")
    out_dir = Path(out_dir)
    splits = corpus_splits(cfg)
    proto = read_protocol(cfg, Path(raw_dir))
    proto = proto[proto["split"].isin(splits)].reset_index(drop=True)
    paths = pd.unique(proto["path"])  # a split view repeats rows of its split: decode each file once
    by_path = dict(zip(paths, check_files(paths.tolist(), workers=workers), strict=True))
    checks = [by_path[p] for p in proto["path"]]
    proto["sample_rate"] = [c[0] for c in checks]
    proto["channels"] = [c[1] for c in checks]
    proto["duration_s"] = [round(c[2] / c[0], 6) if c[0] else 0.0 for c in checks]
    proto["checksum"] = [c[3] for c in checks]  # new audio -> new manifest -> DVC re-runs downstream
    errors = [c[4] for c in checks]
    bad_mask = pd.Series([e is not None for e in errors])
    if bad_mask.any():
        reasons = [e for e in errors if e is not None]
        bad = proto.loc[bad_mask, ["utt_id", "path", "split"]].assign(reason=reasons)
        if on_bad_audio == "error":
            listing = "\n".join(f"  {r.path}: {r.reason}" for r in bad.head(20).itertuples())
            more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
            raise BadAudioError(
                f"{len(bad)} of {len(proto)} audio files failed the decode check "
                f"(set on_bad_audio: skip to leave them out):\n{listing}{more}"
            )
        log.warning("skipping %d bad audio file(s), listed in %s", len(bad), out_dir / "skipped.csv")
    else:
        bad = pd.DataFrame(columns=["utt_id", "path", "split", "reason"])
    good = proto.loc[~bad_mask].reset_index(drop=True)
    good["path"] = [display_path(p) for p in good["path"]]
    bad = bad.assign(path=[display_path(p) for p in bad["path"]])
    extra = list(CORPUS_TYPES[cfg.type].condition_columns)
    columns = list(MANIFEST_COLUMNS) + ["channels", "checksum"] + extra

    manifests = {}
    for split in splits:
        df = good.loc[good["split"] == split, columns].reset_index(drop=True)
        if df.empty:
            n_rows, n_bad = int((proto["split"] == split).sum()), int((bad["split"] == split).sum())
            raise BadAudioError(
                f"split {split!r}: no usable audio files left (protocol rows: {n_rows}, skipped: {n_bad})"
            )
        manifests[split] = df

    rates = Counter(good["sample_rate"])
    off_rate = {int(r): int(n) for r, n in sorted(rates.items()) if r != TARGET_SAMPLE_RATE}
    if off_rate:
        log.info(
            "%d of %d files are not at %d Hz (by rate: %s); the loader resamples them on read "
            "(read_audio(path, %d)), nothing is rewritten",
            sum(off_rate.values()), len(good), TARGET_SAMPLE_RATE, off_rate, TARGET_SAMPLE_RATE,
        )  # fmt: skip
    multi = int((good["channels"] > 1).sum())
    if multi:
        log.info("%d multi-channel file(s); the loader averages channels to mono", multi)

    out_dir.mkdir(parents=True, exist_ok=True)
    for split, df in manifests.items():
        atomic.write_csv(df, out_dir / f"{split}.csv")
        faults.point("prepare:split_written")
    atomic.write_csv(bad, out_dir / "skipped.csv")
    report = {
        "corpus_type": cfg.type,
        "splits": {s: _split_report(df) for s, df in manifests.items()},
        "skipped": {
            "n": int(len(bad)),
            "by_split": {s: int(n) for s, n in Counter(bad["split"]).items()},
            "files": bad.head(100)[["utt_id", "path", "reason"]].to_dict("records"),  # all in skipped.csv
        },
        "not_16k": {"n": sum(off_rate.values()), "by_rate": {str(r): n for r, n in off_rate.items()},
                    "handling": f"resampled to {TARGET_SAMPLE_RATE} Hz by the loader on read"},
        "multichannel": multi,
    }  # fmt: skip
    tmp = out_dir / f".report.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
    os.replace(tmp, out_dir / "report.json")
    log.info("%s: wrote %s", out_dir, ", ".join(f"{s}.csv ({len(df)} rows)" for s, df in manifests.items()))
    return manifests
