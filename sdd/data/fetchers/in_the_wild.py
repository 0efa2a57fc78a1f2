"""Fetch step of the ``in_the_wild`` recipe (:mod:`sdd.data.corpora.in_the_wild`): download, verify
(when a checksum is given) and extract the release zip, or check ``source_dir`` in place.
"""

from __future__ import annotations

import os
from pathlib import Path

from sdd.core.paths import resolve
from sdd.data import download
from sdd.data.corpora.common import CorpusError
from sdd.data.corpora.in_the_wild import ITW_DIR, InTheWildConfig, find_itw_dir
from sdd.data.fetchers.common import in_place_summary

__all__ = ["fetch"]


def fetch(cfg: InTheWildConfig, dest: Path) -> dict:
    """Download, verify (when a checksum is given) and extract the release zip, or check ``source_dir``."""
    if cfg.source_dir is not None:
        root = resolve(cfg.source_dir)
        return in_place_summary("in_the_wild", root, find_itw_dir(root), ["*.wav"])
    if cfg.url is None:
        raise CorpusError(
            "in_the_wild: no official download URL exists; set `url` (and optionally md5/sha256) or "
            "`source_dir` (the folder holding release_in_the_wild/) for this corpus in params.yaml, "
            "or pass --url to `sdd fetch`"
        )
    archive = download.Archive(
        url=cfg.url,
        filename=download.url_filename(cfg.url, default="release_in_the_wild.zip"),
        md5=cfg.md5,
        sha256=cfg.sha256,
        checksum_source="user" if (cfg.md5 or cfg.sha256) else "none",
    )
    summary = download.fetch_archives(
        [archive], dest, required=[f"{ITW_DIR}/meta.csv"], keep_archives=cfg.keep_archives
    )
    files = sum(1 for e in os.scandir(Path(dest) / ITW_DIR) if e.name.endswith(".wav"))
    return {"corpus_type": "in_the_wild", **summary, "files": files}
