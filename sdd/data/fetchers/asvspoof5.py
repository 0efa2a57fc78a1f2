"""Fetch step of the ``asvspoof5`` recipe (:mod:`sdd.data.corpora.asvspoof5`): download, verify and
extract the protocol archive and the ``flac_*`` parts of the configured splits, or check an unpacked
copy (``source_dir``) in place.

No checksum of the database's archives is built in (none could be verified offline), so a download
needs the MD5 of every archive it fetches in ``md5s``; without them it refuses before any transfer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sdd.core.paths import display_path
from sdd.data import download
from sdd.data.corpora.asvspoof5 import (
    ARCHIVES,
    AUDIO_DIRS,
    PROTOCOL_ARCHIVE,
    Asvspoof5Config,
    audio_dir,
    find_protocol,
    read_protocol,
    root_of,
    splits,
)
from sdd.data.corpora.common import CorpusError
from sdd.data.fetchers.common import count_flac, sha256_of

__all__ = ["archive_names", "fetch"]

log = logging.getLogger(__name__)


def archive_names(cfg: Asvspoof5Config) -> list[str]:
    """The archives a download of the configured splits needs: the protocols, then each split's parts."""
    return [PROTOCOL_ARCHIVE, *(a for s in splits(cfg) for a in ARCHIVES[s])]


def _check_layout(root: Path, cfg: Asvspoof5Config) -> dict[str, Any]:
    """Protocol checksums, trial and FLAC counts per split; a :class:`CorpusError` for a missing part
    or a protocol not in the official format (every protocol is parsed here, before any decoding)."""
    counts = read_protocol(cfg, root)["split"].value_counts()
    out: dict[str, Any] = {"protocols": {}, "trials_by_split": {s: int(counts[s]) for s in splits(cfg)}}
    out["files_by_split"] = {}
    for split in splits(cfg):
        proto = find_protocol(root, split)
        flacs = audio_dir(root, split)
        n = count_flac([flacs])
        if n == 0:
            raise CorpusError(
                f"{flacs}: no .flac files (or no such folder); expected the unpacked {split} audio "
                f"({', '.join(ARCHIVES[split])})"
            )
        out["protocols"][proto.name] = sha256_of(proto)
        out["files_by_split"][split] = n
    out["files"] = sum(out["files_by_split"].values())
    return out


def fetch(cfg: Asvspoof5Config, dest: Path) -> dict:
    """Check ``source_dir`` in place, or download + verify (user-given MD5s) + extract into ``dest``.

    Raises:
        CorpusError: a download without the MD5 of every archive it needs (before any transfer), or
            data that lacks a protocol or audio folder of a configured split.
    """
    summary: dict[str, Any] = {"corpus_type": "asvspoof5", "splits": list(splits(cfg))}
    if cfg.source_dir is not None:
        root = root_of(cfg, dest)
        layout = _check_layout(root, cfg)
        log.info(
            "%s: using the existing copy in place (%d audio files; nothing downloaded)", root, layout["files"]
        )
        return {
            **summary,
            "source": "source_dir (in place, not copied)",
            "source_dir": display_path(root),
            "checksum": "unknown: data supplied in place, no archive to verify",
            **layout,
        }
    names = archive_names(cfg)
    md5s = cfg.md5s or {}
    missing = [n for n in names if n not in md5s]
    if missing:
        raise CorpusError(
            f"asvspoof5: no MD5 known for {len(missing)} archive(s) to download ({', '.join(missing[:4])}"
            f"{', ...' if len(missing) > 4 else ''}): no checksum is built in; give "
            "`md5s: {<archive>: <md5>}` for every one (as the Zenodo record lists them) "
            "or `source_dir` (an unpacked copy)"
        )
    base = cfg.base_url.rstrip("/")
    archives = [
        download.Archive(url=f"{base}/{n}", filename=n, md5=md5s[n], checksum_source="user") for n in names
    ]
    summary.update(
        download.fetch_archives(
            archives, dest, required=[AUDIO_DIRS[s] for s in splits(cfg)], keep_archives=cfg.keep_archives
        )
    )
    summary.update(_check_layout(Path(dest), cfg))
    return summary
