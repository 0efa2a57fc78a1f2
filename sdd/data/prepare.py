"""Manifests: one CSV per split, every audio file checked by a full decode; the leakage guard.

:func:`prepare_corpus` reads a corpus's protocol (:mod:`sdd.data.corpora`), decodes every listed file
in parallel worker processes (a damaged FLAC can carry a valid header and fail half-way, so the header
is not enough), and writes ``<out_dir>/<split>.csv`` with the columns of
:data:`sdd.data.corpora.MANIFEST_COLUMNS` (+ ``channels`` and the corpus's condition columns),
``skipped.csv`` (files left out under ``on_bad_audio: skip``, with reasons) and ``report.json``.

Decode results are cached in SQLite keyed by (absolute path, size, mtime), so a file is decoded once
even when its manifests are rebuilt (DVC deletes a stage's outputs before re-running it, so the cache
lives beside the raw data: ``<repo root>/data/raw/.audio_check.sqlite``, or ``$SDD_AUDIO_CACHE``).

Resampling: manifests keep each file's own rate; the loader resamples on read
(``read_audio(path, 16000)``), and prepare logs a counted note of files not at 16 kHz.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sqlite3
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from sdd import atomic
from sdd.data.audio import AudioError, check_audio
from sdd.data.fetch import display_path
from sdd.paths import repo_root

__all__ = [
    "BadAudioError", "LeakageError", "TARGET_SAMPLE_RATE", "check_files", "check_leakage", "prepare_corpus",
]  # fmt: skip

log = logging.getLogger(__name__)

#: The rate models consume; files at other rates are resampled by the loader.
TARGET_SAMPLE_RATE = 16000
#: Values of ``on_bad_audio``.
BAD_AUDIO_POLICIES = ("error", "skip")
_CHUNK = 64  # files per worker task


class BadAudioError(RuntimeError):
    """Files that fail the decode check under ``on_bad_audio: error`` (the message names them)."""


class LeakageError(RuntimeError):
    """Evaluation speakers or utterances also appear in the training corpus's train/dev manifests."""


# --------------------------------------------------------------------------------------------------
# The decode check, cached
# --------------------------------------------------------------------------------------------------


def _default_cache_path() -> Path:
    env = os.environ.get("SDD_AUDIO_CACHE")
    return Path(env) if env else repo_root() / "data" / "raw" / ".audio_check.sqlite"


class _CheckCache:
    """SQLite table (path, size, mtime_ns) -> decode result; only the parent process writes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS checks (path TEXT, size INTEGER, mtime_ns INTEGER, "
            "sample_rate INTEGER, channels INTEGER, frames INTEGER, error TEXT, "
            "PRIMARY KEY (path, size, mtime_ns))"
        )

    def get(self, keys: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int, int], tuple]:
        out = {}
        for key in keys:
            row = self.db.execute(
                "SELECT sample_rate, channels, frames, error FROM checks "
                "WHERE path=? AND size=? AND mtime_ns=?",
                key,
            ).fetchone()
            if row is not None:
                out[key] = row
        return out

    def put(self, rows: Sequence[tuple]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self.db.close()


def _check_chunk(paths: list[str]) -> list[tuple[int, int, int, str | None]]:
    """Worker: ``(sample_rate, channels, frames, error)`` per file (error None when it decodes)."""
    out = []
    for p in paths:
        try:
            info = check_audio(p)
            out.append((info.sample_rate, info.channels, info.frames, None))
        except AudioError as exc:
            out.append((0, 0, 0, str(exc)))
    return out


def check_files(paths: Sequence[str], *, workers: int = 2, cache_path: Path | None = None) -> list[tuple]:
    """Decode-check ``paths`` (absolute) in ``workers`` processes, using and filling the cache.

    Returns:
        One ``(sample_rate, channels, frames, error)`` per path, in order; ``error`` is None for a
        good file, else the reason (missing files are reported, never cached).
    """
    results: list[tuple | None] = [None] * len(paths)
    keys: dict[int, tuple[str, int, int]] = {}
    for i, p in enumerate(paths):
        try:
            st = os.stat(p)
        except OSError as exc:
            results[i] = (0, 0, 0, f"{p}: file not found or unreadable ({exc.strerror})")
            continue
        keys[i] = (os.path.abspath(p), st.st_size, st.st_mtime_ns)
    cache = _CheckCache(cache_path or _default_cache_path())
    try:
        cached = cache.get(list(keys.values()))
        todo = [i for i, k in keys.items() if k not in cached]
        for i, k in keys.items():
            if k in cached:
                results[i] = cached[k]
        log.info(
            "audio check: %d files, %d cached, %d to decode with %d worker(s)",
            len(paths), len(keys) - len(todo), len(todo), workers,
        )  # fmt: skip
        chunks = [todo[j : j + _CHUNK] for j in range(0, len(todo), _CHUNK)]

        def store(chunk: list[int], rows: list[tuple]) -> None:
            for i, row in zip(chunk, rows, strict=True):
                results[i] = row
            cache.put([(*keys[i], *row) for i, row in zip(chunk, rows, strict=True)])

        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                store(chunk, _check_chunk([paths[i] for i in chunk]))
        else:
            # spawn: safe when the parent holds torch/threads; the worker imports only soundfile/numpy.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                done = 0
                jobs = pool.map(_check_chunk, [[paths[i] for i in c] for c in chunks])
                for chunk, rows in zip(chunks, jobs, strict=True):
                    store(chunk, rows)
                    done += len(chunk)
                    if len(chunks) >= 20 and (done // _CHUNK) % max(len(chunks) // 10, 1) == 0:
                        log.info("audio check: %d/%d decoded", done, len(todo))
    finally:
        cache.close()
    return results  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------------




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
    cfg: Any, raw_dir: Path, out_dir: Path, *, on_bad_audio: str = "error", workers: int = 2
) -> dict[str, pd.DataFrame]:
    """Write ``out_dir/<split>.csv`` for every split of the corpus, after decoding every file.

    Args:
        cfg: a corpus config from :func:`sdd.data.corpora.parse_corpus`.
        raw_dir: where :func:`sdd.data.corpora.fetch_corpus` put the data (ignored for data read in
            place: ``source_dir``, ``folder``).
        out_dir: manifest folder (created).
        on_bad_audio: ``error`` (default): one error naming every bad file and why; ``skip``: leave
            them out and list them in ``out_dir/skipped.csv``.
        workers: decode processes.

    Returns:
        split -> manifest DataFrame (columns: :data:`~sdd.data.corpora.MANIFEST_COLUMNS`, ``channels``,
        then the corpus's condition columns).

    Raises:
        ValueError: bad ``on_bad_audio``.
        BadAudioError: bad files under ``on_bad_audio: error``, or a split left empty.
        CorpusError: the protocol or layout is wrong.
    """
    from sdd.data.corpora import CORPUS_TYPES, MANIFEST_COLUMNS, corpus_splits, read_protocol

    if on_bad_audio not in BAD_AUDIO_POLICIES:
        raise ValueError(f"on_bad_audio: got {on_bad_audio!r}; expected one of {list(BAD_AUDIO_POLICIES)}")
    out_dir = Path(out_dir)
    splits = corpus_splits(cfg)
    proto = read_protocol(cfg, Path(raw_dir))
    proto = proto[proto["split"].isin(splits)].reset_index(drop=True)
    checks = check_files(proto["path"].tolist(), workers=workers)
    proto["sample_rate"] = [c[0] for c in checks]
    proto["channels"] = [c[1] for c in checks]
    proto["duration_s"] = [round(c[2] / c[0], 6) if c[0] else 0.0 for c in checks]
    errors = [c[3] for c in checks]
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
    columns = list(MANIFEST_COLUMNS) + ["channels"] + extra

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


# --------------------------------------------------------------------------------------------------
# Leakage guard
# --------------------------------------------------------------------------------------------------


def check_leakage(train: dict[str, pd.DataFrame], evals: dict[str, pd.DataFrame]) -> None:
    """Fail when an evaluation set shares speakers or utterances with training/model selection.

    Args:
        train: the training corpus's manifests used for training and model selection (e.g.
            ``{"train": df, "dev": df}``).
        evals: eval-set name (e.g. ``"la21:eval"``) -> manifest.

    Speakers ``-`` (unknown) are ignored; utterances are compared by id and by audio path.

    Raises:
        LeakageError: with counts and examples per offending eval set.
    """
    frames = list(train.values())
    if not frames:
        return
    t = pd.concat(frames, ignore_index=True)
    speakers = set(t["speaker"]) - {"-", ""}
    utts, paths = set(t["utt_id"]), set(t["path"])
    problems = []
    for name, df in evals.items():
        found = {
            "speakers": sorted(set(df["speaker"]) & speakers),
            "utterance ids": sorted(set(df["utt_id"]) & utts),
            "audio paths": sorted(set(df["path"]) & paths),
        }
        for what, items in found.items():
            if items:
                problems.append(f"{name}: {len(items)} {what} also in {'/'.join(train)} (e.g. {items[:5]})")
    if problems:
        raise LeakageError(
            "evaluation data leaks into training/model selection:\n  " + "\n  ".join(problems)
            + "\nchoose eval sets disjoint from the training corpus's train/dev splits"
        )
