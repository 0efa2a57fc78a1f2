"""Fetch step of the ``asvspoof2021_la`` / ``asvspoof2021_df`` recipes
(:mod:`sdd.data.corpora.asvspoof2021`): download, verify and extract the audio part(s) and the keys, or
check existing copies in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdd.core.paths import display_path, resolve
from sdd.data import download
from sdd.data.corpora.asvspoof2021 import (
    DF21_KEYS_MD5,
    LA21_KEYS_MD5,
    TRACKS,
    Asvspoof2021DFConfig,
    Asvspoof2021LAConfig,
)
from sdd.data.corpora.common import CorpusError
from sdd.data.fetchers.common import count_flac, sha256_of

__all__ = ["fetch"]


def fetch(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig, dest: Path) -> dict:
    """Download, verify and extract the audio part(s) and the keys into ``dest`` (or check the
    ``source_dir`` / ``keys_source_dir`` copies in place)."""
    t = TRACKS[cfg.type]
    audio_dir = f"ASVspoof2021_{t.track}_eval"
    keys_file = f"keys/{t.track}/CM/trial_metadata.txt"
    archives: list[download.Archive] = []
    required: list[str] = []
    in_place: dict[str, Any] = {}
    if cfg.source_dir is None:
        if t.track == "LA":
            urls, md5s = (cfg.url,), (cfg.md5,)
            sha256s: tuple[str | None, ...] = (cfg.sha256,)
        else:
            urls, md5s = cfg.urls, cfg.md5s or (None,) * len(cfg.urls)
            sha256s = (None,) * len(cfg.urls)
        for url, md5, sha in zip(urls, md5s, sha256s, strict=True):
            archives.append(
                download.Archive(
                    url=url,
                    filename=download.url_filename(url),
                    md5=md5,
                    sha256=sha,
                    checksum_source="user" if (md5 or sha) else "none",
                )
            )
        required.append(f"{audio_dir}/flac")
    else:
        src = resolve(cfg.source_dir)
        if not (src / audio_dir / "flac").is_dir():
            raise CorpusError(
                f"{cfg.source_dir}: no {audio_dir}/flac/ in {src}; expected the extracted audio archive"
            )
        in_place["audio_source_dir"] = display_path(src)
        in_place["audio_files"] = count_flac([src / audio_dir / "flac"])
    if cfg.keys_source_dir is None:
        official = LA21_KEYS_MD5 if t.track == "LA" else DF21_KEYS_MD5
        source = "official" if cfg.keys_md5 == official else ("user" if cfg.keys_md5 else "none")
        archives.append(
            download.Archive(
                url=cfg.keys_url,
                filename=download.url_filename(cfg.keys_url),
                md5=cfg.keys_md5,
                checksum_source=source,
            )
        )
        required.append(keys_file)
    else:
        keys = resolve(cfg.keys_source_dir) / keys_file
        if not keys.is_file():
            raise CorpusError(f"{cfg.keys_source_dir}: {keys} not found; expected the extracted keys archive")
        in_place["keys_source_dir"] = display_path(keys.parents[3])
        in_place["keys_sha256"] = sha256_of(keys)
    summary: dict[str, Any] = {"corpus_type": t.corpus_type, "subset": cfg.subset}
    if archives:
        summary.update(
            download.fetch_archives(archives, dest, required=required, keep_archives=cfg.keep_archives)
        )
    summary.update(in_place)
    if cfg.source_dir is None:
        summary["files"] = count_flac([Path(dest) / audio_dir / "flac"])
    return summary
