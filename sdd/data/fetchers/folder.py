"""Fetch step of the ``folder`` recipe (:mod:`sdd.data.corpora.folder`): the folder is used in place,
so this checks that every listed file exists and records the protocol's SHA-256.
"""

from __future__ import annotations

from pathlib import Path

from sdd.core.paths import display_path, resolve
from sdd.data.corpora.common import CorpusError
from sdd.data.corpora.folder import FolderCorpusConfig, protocol_file, read_protocol
from sdd.data.fetchers.common import sha256_of

__all__ = ["fetch"]


def fetch(cfg: FolderCorpusConfig, dest: Path) -> dict:
    """A folder corpus is used in place: check it exists and record its protocol's checksum."""
    root = resolve(cfg.path)
    proto = protocol_file(cfg)
    if not root.is_dir():
        raise CorpusError(f"{cfg.path}: corpus folder {root} not found")
    df = read_protocol(cfg, root)
    missing = [p for p in df["path"] if not Path(p).is_file()]
    if missing:
        raise CorpusError(f"{proto}: {len(missing)} audio file(s) listed but not found, e.g. {missing[:3]}")
    return {
        "corpus_type": "folder",
        "source": "in place",
        "path": display_path(root),
        "protocol": cfg.protocol,
        "protocol_sha256": sha256_of(proto),
        "checksum": "sha256 of the protocol, computed here (no published checksum for a custom folder)",
        "files": int(len(df)),
        "splits": {s: int(n) for s, n in df["split"].value_counts(sort=False).items()},
    }
