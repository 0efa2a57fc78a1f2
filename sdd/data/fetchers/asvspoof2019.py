"""Fetch step of the ``asvspoof2019_la`` recipe (:mod:`sdd.data.corpora.asvspoof2019`): download,
verify and extract ``LA.zip``, or check an existing copy in place.
"""

from __future__ import annotations

from pathlib import Path

from sdd.core.paths import resolve
from sdd.data import download
from sdd.data.corpora.asvspoof2019 import LA19_MD5, LA19_SIZE, LA19_URL, Asvspoof2019LAConfig, find_la_dir
from sdd.data.corpora.la_layout import LA19_PROTOCOL_DIR, LA19_PROTOCOLS, flac_dir
from sdd.data.fetchers.common import count_flac, in_place_summary

__all__ = ["fetch"]


def _required() -> list[str]:
    req = [f"LA/{LA19_PROTOCOL_DIR}/ASVspoof2019.LA.cm.{s}.txt" for s in LA19_PROTOCOLS.values()]
    return req + [f"LA/ASVspoof2019_LA_{s}/flac" for s in LA19_PROTOCOLS]


def fetch(cfg: Asvspoof2019LAConfig, dest: Path) -> dict:
    """Download, verify and extract ``LA.zip`` into ``dest`` (or check ``source_dir`` in place)."""
    if cfg.source_dir is not None:
        root = resolve(cfg.source_dir)
        return in_place_summary("asvspoof2019_la", root, find_la_dir(root), ["ASVspoof2019_LA_*/flac/*.flac"])
    user_md5 = cfg.md5 != LA19_MD5
    archive = download.Archive(
        url=cfg.url,
        filename="LA.zip",
        md5=cfg.md5,
        sha256=cfg.sha256,
        checksum_source="user" if user_md5 or cfg.sha256 else "third-party",
        size=LA19_SIZE if cfg.url == LA19_URL else None,
        override_hint="pass --md5 <the MD5 you computed> to `sdd fetch`, "
        "or set corpora.<name>.md5 in params.yaml",
    )
    summary = download.fetch_archives([archive], dest, required=_required(), keep_archives=cfg.keep_archives)
    files = count_flac([flac_dir(dest / "LA", s) for s in LA19_PROTOCOLS])
    return {"corpus_type": "asvspoof2019_la", **summary, "files": files}
