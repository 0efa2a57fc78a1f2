"""Precompute augmented copies of a manifest's utterances (the ``augment`` stage's work).

Each copy is a 16-bit FLAC under ``out_dir/audio/<shard>/`` with a JSON sidecar holding its key and
the exact parameters drawn; ``out_dir/manifest.csv`` pairs every copy with its clean source.

- Deterministic: copy k of utterance u is drawn from ``np.random.default_rng(seed_for(seed, policy,
  u, k))`` (SHA-256 of the key, never Python's salted ``hash``), so the output does not depend on the
  number of workers or the order of work.
- Resumable: FLAC and sidecar are each written atomically (temp file, then ``os.replace``), sidecar
  first; a copy counts as done when both exist and the sidecar's key matches the current params.
  Temp files left by a killed run are removed at start. Copies that belong to no current key (an
  earlier policy, more copies) are removed at the end, so a ``persist: true`` DVC output stays exact.
- Babble (the ``babble`` op) draws its talkers from the manifest's bona fide utterances (label
  ``bonafide``/``bona-fide``, any case), never from spoofed ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

import sdd.augment.apply  # noqa: F401 (attaches the op implementations; see sdd.augment.ops)
from sdd.audio.io import read_audio, write_audio
from sdd.augment.codecs import codec_support
from sdd.augment.ops import AugmentContext
from sdd.augment.params import AugmentParams
from sdd.augment.policies import build_policy, policy_specs
from sdd.core import atomic, faults
from sdd.core.configbase import to_dict
from sdd.core.paths import resolve

log = logging.getLogger(__name__)

__all__ = ["MANIFEST_COLUMNS", "copy_relpath", "precompute", "seed_for"]

MANIFEST_COLUMNS = [
    "utt_id", "source_utt_id", "copy", "path", "policy", "params",
    "label", "attack", "speaker", "duration_s", "sample_rate",
]
REQUIRED_INPUT = ["utt_id", "path", "label", "attack", "speaker"]
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_TMP = re.compile(r"^\..*\.tmp\d+$")


def seed_for(seed: int, policy: str, utt_id: str, copy: int) -> int:
    """A 64-bit seed from ``(seed, policy, utt_id, copy)`` via SHA-256 (stable across processes)."""
    key = json.dumps([int(seed), str(policy), str(utt_id), int(copy)], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")


def copy_relpath(utt_id: str, copy: int) -> str:
    """Where copy ``copy`` of ``utt_id`` lives, relative to out_dir: ``audio/<2 hex>/<name>.flac``.

    The shard is the first byte of SHA-1(utt_id); names with characters outside [A-Za-z0-9._-] are
    sanitised and suffixed with 8 hex digits of the hash to stay unique.
    """
    digest = hashlib.sha1(str(utt_id).encode("utf-8")).hexdigest()
    name = _SAFE.sub("_", str(utt_id))
    if name != str(utt_id) or name.startswith("."):
        name = f"{name.lstrip('.')}-{digest[:8]}"
    return f"audio/{digest[:2]}/{name}__aug{copy}.flac"


def _copy_key(params: AugmentParams, utt_id: str, copy: int, source: str) -> dict[str, Any]:
    return {
        "utt_id": str(utt_id),
        "copy": int(copy),
        "seed": params.seed,
        "policy": params.policy,
        "policy_spec": to_dict(policy_specs(params.policies)[params.policy]),
        "sample_rate": params.sample_rate,
        "source": source,
    }




def _read_done(flac: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The sidecar of a finished copy with this key, else None."""
    side = flac.with_suffix(".json")
    if not (flac.is_file() and side.is_file()):
        return None
    try:
        meta = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return meta if meta.get("key") == key else None


@dataclass(frozen=True)
class _Job:
    utt_id: str
    source: str
    pool_index: int | None  # the utterance's own index in the babble pool (bona fide only)


_WORKER: dict[str, Any] = {}


def _init_worker(params: AugmentParams, out_dir: str, pool: tuple[str, ...]) -> None:
    """Worker-process initialiser: one thread per process, then :func:`_setup`."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _setup(params, out_dir, pool)


def _setup(params: AugmentParams, out_dir: str, pool: tuple[str, ...]) -> None:
    _WORKER.update(params=params, out_dir=Path(out_dir), pool=pool, policy=build_policy(params))


def _run_job(job: _Job) -> list[dict[str, Any]]:
    """Write every missing copy of one utterance; return one manifest row per copy (without the
    source's label columns)."""
    params: AugmentParams = _WORKER["params"]
    out_dir: Path = _WORKER["out_dir"]
    rows, wave = [], None
    for k in range(params.copies):
        rel = copy_relpath(job.utt_id, k)
        flac = out_dir / rel
        key = _copy_key(params, job.utt_id, k, job.source)
        meta = _read_done(flac, key)
        if meta is None:
            if wave is None:
                wave = read_audio(resolve(job.source), params.sample_rate)[0]
            rng = np.random.default_rng(seed_for(params.seed, params.policy, job.utt_id, k))
            ctx = AugmentContext(pool=_WORKER["pool"], exclude=job.pool_index)
            y, drawn = _WORKER["policy"](wave, params.sample_rate, rng, ctx)
            meta = {"key": key, "params": drawn, "n_samples": int(y.shape[0])}
            flac.parent.mkdir(parents=True, exist_ok=True)
            flac.unlink(missing_ok=True)  # a stale copy must not pass as done with the new sidecar
            atomic.write_text(flac.with_suffix(".json"), json.dumps(meta, sort_keys=True))
            faults.point("augment:sidecar_written")
            write_audio(flac, y, params.sample_rate)
        rows.append(
            {
                "utt_id": f"{job.utt_id}__aug{k}",
                "source_utt_id": job.utt_id,
                "copy": k,
                "path": rel,
                "policy": params.policy,
                "params": json.dumps(meta["params"], sort_keys=True, separators=(",", ":")),
                "duration_s": meta["n_samples"] / params.sample_rate,
                "sample_rate": params.sample_rate,
            }
        )
    return rows


def _remove_temp_files(out_dir: Path) -> None:
    for p in out_dir.rglob(".*.tmp*"):
        if p.is_file() and _TMP.match(p.name):
            log.info("removing %s left by an interrupted run", p)
            p.unlink()


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    audio = out_dir / "audio"
    if not audio.is_dir():
        return
    stale = [
        p
        for p in audio.rglob("*")
        if p.is_file()
        and p.suffix in (".flac", ".json")
        and p.with_suffix(".flac").relative_to(out_dir).as_posix() not in keep
    ]
    for p in stale:
        p.unlink()
    if stale:
        log.info("removed %d stale files (other policy/seed/copies) from %s", len(stale), audio)




def _results(jobs: list[_Job], workers: int, init_args: tuple[Any, ...]) -> Iterable[list[dict[str, Any]]]:
    bar = tqdm(total=len(jobs), desc="augment", unit="utt", file=sys.stderr, dynamic_ncols=True)
    try:
        if workers <= 1:
            _setup(*init_args)
            for job in jobs:
                yield _run_job(job)
                bar.update()
            return
        ctx = get_context("spawn")  # no fork: the parent may hold torch / thread pools
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=init_args) as ex:
            futures = [ex.submit(_run_job, job) for job in jobs]
            for fut in as_completed(futures):
                yield fut.result()
                bar.update()
    finally:
        bar.close()


def precompute(
    manifest: pd.DataFrame, out_dir: Path, params: AugmentParams, *, workers: int = 2
) -> pd.DataFrame:
    """Write ``params.copies`` augmented copies of every utterance in ``manifest``.

    Args:
        manifest: columns utt_id, path (relative to the repo root), label, attack, speaker (others
            are ignored); utt_id must be unique.
        out_dir: output folder (created); FLACs under ``audio/``, plus ``manifest.csv``. Use one
            folder per manifest: files of utterances not in ``manifest`` are deleted as stale.
        params: the ``augment`` params (policy, seed, copies, sample rate).
        workers: worker processes (<= 1: in this process).

    Returns:
        The augment manifest (also written atomically to ``out_dir/manifest.csv``): columns
        :data:`MANIFEST_COLUMNS`, rows ordered by source utt_id then copy; ``path`` is relative to
        ``out_dir`` and ``params`` is the JSON of the drawn parameters.

    Raises:
        ValueError: missing columns or duplicate utt_ids (before any audio is touched).
        sdd.audio.io.AudioError: a source file cannot be decoded (names the file).
    """
    missing = [c for c in REQUIRED_INPUT if c not in manifest.columns]
    if missing:
        raise ValueError(f"augment input manifest lacks column(s) {missing}; has {list(manifest.columns)}")
    dup = manifest["utt_id"][manifest["utt_id"].duplicated()].unique()
    if len(dup):
        raise ValueError(f"augment input manifest has duplicate utt_id(s), e.g. {list(dup[:5])}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_temp_files(out_dir)
    src = manifest.assign(utt_id=manifest["utt_id"].astype(str))
    src = src.sort_values("utt_id", kind="stable").reset_index(drop=True)
    # babble talkers come from bona fide utterances only: spoofed speech mixed into a bona fide copy
    # would plant spoofing artefacts in a bona fide training example
    bona = src["label"].astype(str).str.lower().str.replace(r"[\s_-]", "", regex=True) == "bonafide"
    pool = tuple(str(p) for p in src.loc[bona, "path"])
    pool_index = {u: i for i, u in enumerate(src.loc[bona, "utt_id"])}
    jobs = [_Job(u, str(p), pool_index.get(u)) for u, p in zip(src["utt_id"], src["path"], strict=True)]
    log.info("augment: %d utterances x %d copies, policy %s, %d workers -> %s",
             len(jobs), params.copies, params.policy, workers, out_dir)
    log.info("libsndfile %s codec round trips available: %s", sf.__libsndfile_version__, codec_support())
    rows = [r for batch in _results(jobs, workers, (params, str(out_dir), pool)) for r in batch]
    out = pd.DataFrame(rows, columns=[c for c in MANIFEST_COLUMNS if c not in ("label", "attack", "speaker")])
    labels = src.set_index("utt_id")[["label", "attack", "speaker"]]
    out = out.join(labels, on="source_utt_id")
    out = out.sort_values(["source_utt_id", "copy"], kind="stable").reset_index(drop=True)[MANIFEST_COLUMNS]
    _remove_stale(out_dir, set(out["path"]))
    atomic.write_csv(out, out_dir / "manifest.csv")
    return out
