"""Recipe ``asvspoof2019_la``: ASVspoof 2019 LA (train/dev/eval) from ``LA.zip``.

``corpora: {la19: {type: asvspoof2019_la}}`` downloads the Edinburgh DataShare archive, checks its MD5
(a third-party figure: a mismatch says how to override it) and extracts it; with ``source_dir`` an
existing copy is used in place (the fetch step: :func:`sdd.data.fetchers.asvspoof2019.fetch`). The
layout and protocol reader are those of :mod:`sdd.data.corpora.la_layout` (Wang et al., "ASVspoof 2019:
a large-scale public database of synthesized, converted and replayed speech", CSL 2020).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sdd.core.paths import resolve
from sdd.data.corpora.common import CorpusError, DownloadChecksums, SplitView
from sdd.data.corpora.la_layout import LA19_PROTOCOL_DIR, LA19_PROTOCOLS, read_la_layout

__all__ = [
    "LA19_MD5", "LA19_SIZE", "LA19_URL", "Asvspoof2019LAConfig", "find_la_dir", "read_protocol", "splits",
]  # fmt: skip

# Facts from docs/data.md.
LA19_URL = "https://datashare.ed.ac.uk/bitstream/handle/10283/3336/LA.zip?sequence=3&isAllowed=y"
LA19_MD5 = "30c98f11d8b2bc21f2c257bfd78bb5c5"  # third-party figure, unverified by the organisers
LA19_SIZE = 7_640_952_520


@dataclass(frozen=True)
class Asvspoof2019LAConfig(DownloadChecksums):
    """ASVspoof 2019 LA (train/dev/eval) from ``LA.zip``.

    Attributes:
        url: the archive (default: the Edinburgh DataShare URL of docs/data.md).
        md5: expected MD5; the default is a third-party figure (enforced, and a mismatch says so).
        sha256: expected SHA-256 (optional, checked as well when given).
        source_dir: an existing copy (the folder holding ``LA/`` or ``LA/`` itself), used in place.
        keep_archives: keep ``LA.zip`` after extraction (default: delete it; no data twice on disk).
    """

    type: Literal["asvspoof2019_la"] = "asvspoof2019_la"
    url: str = LA19_URL
    md5: str | None = LA19_MD5
    sha256: str | None = None
    source_dir: str | None = None
    keep_archives: bool = False
    views: dict[str, SplitView] = field(default_factory=dict)


def find_la_dir(root: Path) -> Path:
    """``root/LA`` or ``root`` itself, whichever holds the CM protocols."""
    for candidate in (root / "LA", root):
        if (candidate / LA19_PROTOCOL_DIR).is_dir():
            return candidate
    raise CorpusError(
        f"{root}: no {LA19_PROTOCOL_DIR}/ in it or in {root / 'LA'}; expected the unzipped LA.zip"
    )


def splits(cfg: Asvspoof2019LAConfig) -> tuple[str, ...]:
    """``train, dev, eval``."""
    return tuple(LA19_PROTOCOLS)


def read_protocol(cfg: Asvspoof2019LAConfig, raw_dir: Path) -> pd.DataFrame:
    """Every trial of train/dev/eval, with absolute FLAC paths."""
    root = resolve(cfg.source_dir) if cfg.source_dir is not None else Path(raw_dir)
    return read_la_layout(find_la_dir(root), LA19_PROTOCOLS)
