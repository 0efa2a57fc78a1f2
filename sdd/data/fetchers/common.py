"""What the fetch steps of the corpus recipes share: file checksums, FLAC counts and the summary of
a corpus used in place.

Kept out of the recipes' own shared module (:mod:`sdd.data.corpora.common`), which the plan stage
imports: these helpers read and hash data on disk, and :func:`sha256_of` goes through
:mod:`sdd.data.download`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sdd.core.paths import display_path
from sdd.data.corpora.common import CorpusError
from sdd.data.download import file_digests

__all__ = ["count_flac", "in_place_summary", "sha256_of"]

log = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    """SHA-256 (hex) of a file."""
    return file_digests(path)["sha256"]


def count_flac(dirs: list[Path]) -> int:
    """Number of ``*.flac`` files directly in the existing folders of ``dirs``."""
    return sum(1 for d in dirs if d.is_dir() for e in os.scandir(d) if e.name.endswith(".flac"))


def in_place_summary(corpus_type: str, root: Path, data_dir: Path, patterns: list[str]) -> dict:
    """The fetch summary of a corpus used where it is (``source_dir``): nothing downloaded or verified.

    Raises:
        CorpusError: no audio file under ``data_dir`` matches ``patterns``.
    """
    files = sum(1 for pattern in patterns for _ in data_dir.glob(pattern))
    if files == 0:
        raise CorpusError(f"{data_dir}: no audio files matching {patterns}; expected the extracted corpus")
    log.info("%s: using the existing copy in place (%d audio files; nothing downloaded)", data_dir, files)
    return {
        "corpus_type": corpus_type,
        "source": "source_dir (in place, not copied)",
        "source_dir": display_path(root),
        "files": files,
        "checksum": "unknown: data supplied in place, no archive to verify",
    }
