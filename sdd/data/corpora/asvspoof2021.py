"""Recipes ``asvspoof2021_la`` and ``asvspoof2021_df``: ASVspoof 2021 evaluation audio plus the keys.

``corpora: {la21: {type: asvspoof2021_la}, df21: {type: asvspoof2021_df}}``. LA is one ``.tar.gz``,
DF four complete parts; the official keys archive of the track is fetched beside the audio and its
official MD5 enforced. ``source_dir`` / ``keys_source_dir`` use existing copies in place. The corpus
has one split, the ``subset`` of the keys (``eval`` by default, or ``progress`` / ``hidden``); the
manifests keep the codec/transmission (LA) and compression/source/vocoder (DF) columns (the fetch
step is :func:`sdd.data.fetchers.asvspoof2021.fetch`) (Liu et al.,
"ASVspoof 2021: towards spoofed and deepfake speech detection in the wild", IEEE/ACM TASLP 2023).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sdd.core.configbase import ConfigError
from sdd.core.paths import resolve
from sdd.data.corpora.common import (
    MD5_RE,
    PROTOCOL_COLUMNS,
    AsvFiles,
    CorpusError,
    DownloadChecksums,
    SplitView,
    check_checksum,
    normalise_label,
    read_columns,
)

__all__ = [
    "CONDITION_COLUMNS",
    "DF21_KEYS_MD5",
    "DF21_METADATA_COLUMNS",
    "LA21_KEYS_MD5",
    "LA21_METADATA_COLUMNS",
    "TRACKS",
    "Asvspoof2021DFConfig",
    "Asvspoof2021LAConfig",
    "Track",
    "asv_files",
    "read_asvspoof2021_metadata",
    "read_protocol",
    "read_trial_list",
    "splits",
]

log = logging.getLogger(__name__)

# Facts from docs/data.md.
LA21_URL = "https://zenodo.org/records/4837263/files/ASVspoof2021_LA_eval.tar.gz"
DF21_URLS = tuple(
    f"https://zenodo.org/records/4835108/files/ASVspoof2021_DF_eval_part0{i}.tar.gz" for i in range(4)
)
LA21_KEYS_URL = "https://www.asvspoof.org/asvspoof2021/LA-keys-full.tar.gz"
LA21_KEYS_MD5 = "f052cc2ed276745afa3b5198665d3b26"  # official
DF21_KEYS_URL = "https://www.asvspoof.org/asvspoof2021/DF-keys-full.tar.gz"
DF21_KEYS_MD5 = "dabbc5628de4fcef53036c99ac7ab93a"  # official

#: The LA keys' ASV files (docs/data.md): the ASV keys with their scores, and the t-DCF coefficients
#: per (attack, codec) cell the 2021 package precomputed (``LA-C012-<eval|prog|hidden>.npy``).
LA21_ASV_FILES = ("ASV/trial_metadata.txt", "ASV/ASVTorch_Kaldi/score.txt")
LA21_C012_GLOB = "LA-C012-*.npy"

#: Column names of the 2021 CM trial_metadata files (docs/data.md).
LA21_METADATA_COLUMNS = ("speaker", "utt_id", "codec", "transmission", "attack", "label", "trim", "subset")
DF21_METADATA_COLUMNS = (
    "speaker", "utt_id", "compression", "source", "attack", "label", "trim", "subset", "vocoder", "task",
    "team", "gender_pair", "language",
)  # fmt: skip


@dataclass(frozen=True)
class Asvspoof2021LAConfig(DownloadChecksums):
    """ASVspoof 2021 LA evaluation audio plus the official keys.

    Attributes:
        subset: which trials form the corpus's one split: ``eval`` (standard reporting), ``progress``
            or ``hidden`` (column ``subset`` of the keys).
        url / md5 / sha256: the audio archive (Zenodo; no verified checksum known).
        keys_url / keys_md5: the keys archive and its official MD5.
        source_dir: folder holding ``ASVspoof2021_LA_eval/`` already (used in place).
        keys_source_dir: folder holding ``keys/LA/CM/trial_metadata.txt`` already.
    """

    type: Literal["asvspoof2021_la"] = "asvspoof2021_la"
    subset: Literal["eval", "progress", "hidden"] = "eval"
    url: str = LA21_URL
    md5: str | None = None
    sha256: str | None = None
    keys_url: str = LA21_KEYS_URL
    keys_md5: str | None = LA21_KEYS_MD5
    source_dir: str | None = None
    keys_source_dir: str | None = None
    keep_archives: bool = False
    views: dict[str, SplitView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_checksum(self.keys_md5, MD5_RE, "keys_md5")


@dataclass(frozen=True)
class Asvspoof2021DFConfig:
    """ASVspoof 2021 DF evaluation audio (four complete ``.tar.gz`` parts) plus the official keys.

    Attributes:
        subset: ``eval`` (default), ``progress`` or ``hidden``.
        urls: the audio parts (Zenodo; no verified checksums known).
        md5s: optional expected MD5 per part (same order as ``urls``).
        keys_url / keys_md5: the keys archive and its official MD5.
        source_dir: folder holding ``ASVspoof2021_DF_eval/`` already (used in place).
        keys_source_dir: folder holding ``keys/DF/CM/trial_metadata.txt`` already.
    """

    type: Literal["asvspoof2021_df"] = "asvspoof2021_df"
    subset: Literal["eval", "progress", "hidden"] = "eval"
    urls: tuple[str, ...] = DF21_URLS
    md5s: tuple[str, ...] | None = None
    keys_url: str = DF21_KEYS_URL
    keys_md5: str | None = DF21_KEYS_MD5
    source_dir: str | None = None
    keys_source_dir: str | None = None
    keep_archives: bool = False
    views: dict[str, SplitView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ConfigError("urls: got an empty list; expected the archive part URLs")
        if self.md5s is not None:
            if len(self.md5s) != len(self.urls):
                raise ConfigError(
                    f"md5s: got {len(self.md5s)} checksums for {len(self.urls)} urls; expected one per url"
                )
            for i, m in enumerate(self.md5s):
                check_checksum(m, MD5_RE, f"md5s[{i}]")
        check_checksum(self.keys_md5, MD5_RE, "keys_md5")


@dataclass(frozen=True)
class Track:
    """One track's layout: its folder name part, corpus type, condition column and kept columns."""

    track: Literal["LA", "DF"]
    corpus_type: str
    condition: str  # the metadata column that defines the official per-condition EER
    extra: tuple[str, ...]  # metadata columns kept in the manifest


TRACKS = {
    "asvspoof2021_la": Track("LA", "asvspoof2021_la", "codec", ("codec", "transmission")),
    "asvspoof2021_df": Track("DF", "asvspoof2021_df", "compression", ("compression", "source", "vocoder")),
}

#: corpus type -> the metadata columns kept in its manifests (evaluate breaks results down by them).
CONDITION_COLUMNS = {name: t.extra for name, t in TRACKS.items()}


def read_asvspoof2021_metadata(path: Path, track: Literal["LA", "DF"]) -> pd.DataFrame:
    """Parse ``keys/<track>/CM/trial_metadata.txt`` (LA: 8 columns, DF: 13 columns, space-separated).

    Returns:
        DataFrame with the named columns of :data:`LA21_METADATA_COLUMNS` / :data:`DF21_METADATA_COLUMNS`,
        labels normalised and attack ``-`` for bona fide.
    """
    columns = LA21_METADATA_COLUMNS if track == "LA" else DF21_METADATA_COLUMNS
    rows = read_columns(path, len(columns), " ".join(columns))
    df = pd.DataFrame(rows, columns=list(columns))
    df["label"] = [normalise_label(v, f"{path}:{i + 1}") for i, v in enumerate(df["label"])]
    df.loc[df["label"] == "bonafide", "attack"] = "-"
    return df


def read_trial_list(path: Path) -> list[str]:
    """Trial ids of an unlabelled trial list (one id per line, e.g. ``ASVspoof2021.LA.cm.eval.trl.txt``)."""
    return [r[0] for r in read_columns(path, 1, "one trial id per line")]


def splits(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig) -> tuple[str, ...]:
    """The one split: the configured ``subset``."""
    return (cfg.subset,)


def _roots(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig, raw_dir: Path) -> tuple[Path, Path]:
    audio_root = resolve(cfg.source_dir) if cfg.source_dir is not None else Path(raw_dir)
    keys_root = resolve(cfg.keys_source_dir) if cfg.keys_source_dir is not None else Path(raw_dir)
    return audio_root, keys_root


def read_protocol(cfg: Asvspoof2021LAConfig | Asvspoof2021DFConfig, raw_dir: Path) -> pd.DataFrame:
    """The trials of the configured subset, with absolute FLAC paths and the track's condition columns.

    Raises:
        CorpusError: no trial of the subset, or keys naming trials missing from the shipped trial list.
    """
    t = TRACKS[cfg.type]
    audio_root, keys_root = _roots(cfg, raw_dir)
    meta = read_asvspoof2021_metadata(keys_root / "keys" / t.track / "CM" / "trial_metadata.txt", t.track)
    meta = meta[meta["subset"] == cfg.subset].reset_index(drop=True)
    if meta.empty:
        raise CorpusError(f"{keys_root}: no trials of subset {cfg.subset!r} in the {t.track} keys")
    audio_dir = audio_root / f"ASVspoof2021_{t.track}_eval"
    trials = audio_dir / f"ASVspoof2021.{t.track}.cm.eval.trl.txt"
    if trials.is_file():  # shipped with the audio: the keys must describe these trials
        unknown = sorted(set(meta["utt_id"]) - set(read_trial_list(trials)))
        if unknown:
            raise CorpusError(
                f"{trials}: {len(unknown)} trial(s) of the {t.track} keys are not in this trial list, "
                f"e.g. {unknown[:3]}; expected keys and audio of the same track"
            )
    flac_dir = audio_dir / "flac"
    meta["path"] = [str(flac_dir / f"{u}.flac") for u in meta["utt_id"]]
    meta["split"] = cfg.subset
    meta["condition"] = meta[t.condition]
    return meta[list(PROTOCOL_COLUMNS) + list(t.extra)]


def asv_files(cfg: Asvspoof2021LAConfig, raw_dir: Path, split: str) -> AsvFiles | None:
    """The LA keys' ASV scores and precomputed t-DCF coefficients, read for the subset ``split`` as
    ``sdd evaluate`` reads the keys folder; None, with a warning, when the keys have neither."""
    _, keys_root = _roots(cfg, raw_dir)
    track_dir = keys_root / "keys" / "LA"
    files = [f for f in LA21_ASV_FILES if (track_dir / f).is_file()]
    if len(files) == 1:  # sdd evaluate reads neither then: the same here, said out loud
        log.warning(
            "%s: has %s but not %s; the official keys have both: no ASV scores are used",
            track_dir, files[0], next(f for f in LA21_ASV_FILES if f not in files),
        )  # fmt: skip
        files = []
    files += sorted(p.name for p in track_dir.glob(LA21_C012_GLOB))
    if not files:
        log.warning(
            "%s: no %s and no %s: the %s results will have no min t-DCF and no t-EER",
            track_dir, " + ".join(LA21_ASV_FILES), LA21_C012_GLOB, split,
        )  # fmt: skip
        return None
    return AsvFiles("asvspoof2021_la", track_dir, tuple(files), subset=split)
