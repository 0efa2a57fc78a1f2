"""The decode check of prepare: every audio file decoded in full once, the result cached in SQLite.

A damaged FLAC can carry a valid header and fail half-way, so the header is not enough:
:func:`check_files` decodes every file (:func:`sdd.audio.io.check_audio`) in parallel worker
processes. Results are cached keyed by (absolute path, size, mtime), so a file is decoded once even
when its manifests are rebuilt (DVC deletes a stage's outputs before re-running it, so the cache lives
beside the raw data: ``<repo root>/data/raw/.audio_check.sqlite``, or ``$SDD_AUDIO_CACHE``).

Each check also returns a content checksum of the file's bytes (BLAKE2b, 128 bits), which prepare
writes into the manifests: DVC tracks the manifests, not the raw audio (kept out of its cache), so
without it new audio under the same ids and durations (a regenerated demo corpus, say) would leave
every downstream stage cached on the old audio.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sdd.audio.io import AudioError, check_audio
from sdd.core.paths import repo_root

__all__ = ["check_files", "file_checksum"]

log = logging.getLogger(__name__)

_CHUNK = 64  # files per worker task


def _default_cache_path() -> Path:
    env = os.environ.get("SDD_AUDIO_CACHE")
    return Path(env) if env else repo_root() / "data" / "raw" / ".audio_check.sqlite"


class _CheckCache:
    """SQLite table (path, size, mtime_ns) -> decode result; only the parent process writes.

    The table is versioned by name (``checks_v2`` adds the checksum): an older cache is ignored, not
    misread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS checks_v2 (path TEXT, size INTEGER, mtime_ns INTEGER, "
            "sample_rate INTEGER, channels INTEGER, frames INTEGER, checksum TEXT, error TEXT, "
            "PRIMARY KEY (path, size, mtime_ns))"
        )

    def get(self, keys: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int, int], tuple]:
        out = {}
        for key in keys:
            row = self.db.execute(
                "SELECT sample_rate, channels, frames, checksum, error FROM checks_v2 "
                "WHERE path=? AND size=? AND mtime_ns=?",
                key,
            ).fetchone()
            if row is not None:
                out[key] = row
        return out

    def put(self, rows: Sequence[tuple]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO checks_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self.db.close()


def file_checksum(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """BLAKE2b-128 hex digest of a file's bytes (a content fingerprint, not a security check)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def _check_chunk(paths: list[str]) -> list[tuple[int, int, int, str, str | None]]:
    """Worker: ``(sample_rate, channels, frames, checksum, error)`` per file (error None when it
    decodes; checksum "" when it does not)."""
    out = []
    for p in paths:
        try:
            info = check_audio(p)
            out.append((info.sample_rate, info.channels, info.frames, file_checksum(p), None))
        except AudioError as exc:
            out.append((0, 0, 0, "", str(exc)))
    return out


def check_files(paths: Sequence[str], *, workers: int = 2, cache_path: Path | None = None) -> list[tuple]:
    """Decode-check ``paths`` (absolute) in ``workers`` processes, using and filling the cache.

    Returns:
        One ``(sample_rate, channels, frames, checksum, error)`` per path, in order; ``error`` is
        None for a good file, else the reason (missing files are reported, never cached);
        ``checksum`` is :func:`file_checksum` of a good file.
    """
    results: list[tuple | None] = [None] * len(paths)
    keys: dict[int, tuple[str, int, int]] = {}
    for i, p in enumerate(paths):
        try:
            st = os.stat(p)
        except OSError as exc:
            results[i] = (0, 0, 0, "", f"{p}: file not found or unreadable ({exc.strerror})")
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
