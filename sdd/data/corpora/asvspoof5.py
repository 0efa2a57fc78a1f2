"""Recipe ``asvspoof5``: ASVspoof 5 (2024) track 1, train / dev / eval with the protocols' metadata.

``corpora: {asv5: {type: asvspoof5, source_dir: DIR}}`` (an unpacked copy, used in place) or
``{type: asvspoof5, md5s: {<archive>: <md5>, ...}}`` (download from ``base_url``, the Zenodo record;
no checksum is built in, so every archive fetched needs one given). ``splits`` picks the splits (all
three by default; ``[eval]`` fetches and prepares the evaluation set only). The layout, as the
database's README describes it::

    ASVspoof5_protocols/ASVspoof5.train.tsv         (or the .tsv files directly in the root)
    ASVspoof5_protocols/ASVspoof5.dev.track_1.tsv
    ASVspoof5_protocols/ASVspoof5.eval.track_1.tsv
    flac_T/<utt_id>.flac   flac_D/<utt_id>.flac   flac_E_eval/<utt_id>.flac

The protocols (10 space-separated columns despite the ``.tsv`` name) are read by the one ASVspoof 5
parser of ``sdd evaluate`` (:func:`sdd.evaluation.asvspoof5_protocol.read_asvspoof5_trials`, which
:func:`sdd.evaluation.protocols.read_protocol` uses for format ``asvspoof5``);
the manifests keep ``gender``, ``codec`` and ``codec_q`` and the condition is the codec, the
official breakdown. The fetch step is :func:`sdd.data.fetchers.asvspoof5.fetch` (Wang et al.,
"ASVspoof 5: design, collection and validation of resources...", Computer Speech & Language 2025).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sdd.core.configbase import ConfigError
from sdd.core.paths import resolve
from sdd.data.corpora.common import MD5_RE, PROTOCOL_COLUMNS, CorpusError, SplitView, check_checksum
from sdd.evaluation.asvspoof5_protocol import read_asvspoof5_trials
from sdd.evaluation.common import EvaluationError

__all__ = [
    "ARCHIVES",
    "AUDIO_DIRS",
    "CONDITION_COLUMNS",
    "PROTOCOL_ARCHIVE",
    "PROTOCOL_DIR",
    "PROTOCOL_FILES",
    "SPLITS",
    "ZENODO_BASE_URL",
    "Asvspoof5Config",
    "audio_dir",
    "find_protocol",
    "read_protocol",
    "splits",
]

SPLITS = ("train", "dev", "eval")
#: split -> protocol file name (track 1; the database README, section 1).
PROTOCOL_FILES = {
    "train": "ASVspoof5.train.tsv",
    "dev": "ASVspoof5.dev.track_1.tsv",
    "eval": "ASVspoof5.eval.track_1.tsv",
}
PROTOCOL_DIR = "ASVspoof5_protocols"
#: split -> the folder its ``flac_*`` archives unpack to (the database README, section 1).
AUDIO_DIRS = {"train": "flac_T", "dev": "flac_D", "eval": "flac_E_eval"}
PROTOCOL_ARCHIVE = "ASVspoof5_protocols.tar.gz"
#: split -> its audio archives (``flac_T_aa.tar`` ... ``flac_T_ae.tar`` etc., the README's listing).
ARCHIVES = {
    "train": tuple(f"flac_T_a{c}.tar" for c in "abcde"),
    "dev": tuple(f"flac_D_a{c}.tar" for c in "abc"),
    "eval": tuple(f"flac_E_a{c}.tar" for c in "abcdefghij"),
}
#: The Zenodo record of the database; NOT verified offline (docs/data.md says what was checked).
ZENODO_BASE_URL = "https://zenodo.org/records/14498691/files"
#: metadata columns of the protocol kept in the manifests (per-condition EERs in evaluate).
CONDITION_COLUMNS = ("gender", "codec", "codec_q")


@dataclass(frozen=True)
class Asvspoof5Config:
    """ASVspoof 5 track 1: the train, dev and eval protocols and audio.

    Attributes:
        splits: which of ``train``, ``dev``, ``eval`` the corpus provides (fetched and prepared).
        source_dir: folder holding the unpacked database (``flac_T/`` ..., the protocols); used in
            place, nothing is copied or downloaded.
        base_url: where ``<archive name>`` is downloaded from (default: the Zenodo record).
        md5s: archive file name -> its MD5, for every archive a download needs (the protocol archive
            and the splits' ``flac_*`` parts); no checksum is built in, a missing one is an error.
        keep_archives: keep the downloaded archives after extraction.
        views: named subsets of the splits, e.g. ``{eval_c05: {split: eval, where: {codec: [C05]}}}``
            (:class:`~sdd.data.corpora.common.SplitView`, handled by the registry).
    """

    type: Literal["asvspoof5"] = "asvspoof5"
    splits: tuple[Literal["train", "dev", "eval"], ...] = SPLITS
    source_dir: str | None = None
    base_url: str = ZENODO_BASE_URL
    md5s: dict[str, str] | None = None
    keep_archives: bool = False
    views: dict[str, SplitView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.splits:
            raise ConfigError(f"splits: got an empty list; expected some of {list(SPLITS)}")
        if len(set(self.splits)) != len(self.splits):
            raise ConfigError(f"splits: got {list(self.splits)}; expected each split once")
        known = {PROTOCOL_ARCHIVE, *(a for parts in ARCHIVES.values() for a in parts)}
        for name, value in (self.md5s or {}).items():
            if name not in known:
                raise ConfigError(
                    f"md5s.{name}: not an archive of the database; expected one of "
                    f"{PROTOCOL_ARCHIVE}, flac_T_aa.tar ... (docs/data.md)"
                )
            check_checksum(value, MD5_RE, f"md5s.{name}")


def splits(cfg: Asvspoof5Config) -> tuple[str, ...]:
    """The configured splits, in train / dev / eval order."""
    return tuple(s for s in SPLITS if s in cfg.splits)


def root_of(cfg: Asvspoof5Config, raw_dir: Path) -> Path:
    """Where the unpacked database is: ``source_dir`` or the fetch destination."""
    return resolve(cfg.source_dir) if cfg.source_dir is not None else Path(raw_dir)


def find_protocol(root: Path, split: str) -> Path:
    """The split's protocol file, in ``ASVspoof5_protocols/`` or directly in ``root``.

    Raises:
        CorpusError: in neither place, or in both (which one is meant is then unclear).
    """
    name = PROTOCOL_FILES[split]
    found = [p for p in (root / PROTOCOL_DIR / name, root / name) if p.is_file()]
    if len(found) != 1:
        what = "found in both" if found else "not found in"
        raise CorpusError(
            f"{root}: the {split} protocol {name} {what} {PROTOCOL_DIR}/ and the folder itself; "
            f"expected it in exactly one (the unpacked {PROTOCOL_ARCHIVE})"
        )
    return found[0]


def audio_dir(root: Path, split: str) -> Path:
    """``<root>/flac_T`` (train), ``flac_D`` (dev) or ``flac_E_eval`` (eval)."""
    return root / AUDIO_DIRS[split]


def read_protocol(cfg: Asvspoof5Config, raw_dir: Path) -> pd.DataFrame:
    """Every trial of the configured splits with absolute FLAC paths, condition = codec, and the
    metadata columns :data:`CONDITION_COLUMNS`.

    Raises:
        CorpusError: a missing protocol or audio folder, or a protocol that is not the official
            10-column format (the message names the file and the lines).
    """
    root = root_of(cfg, raw_dir)
    frames = []
    for split in splits(cfg):
        path = find_protocol(root, split)
        try:
            trials = read_asvspoof5_trials(path)
        except EvaluationError as e:
            raise CorpusError(str(e)) from e
        flacs = audio_dir(root, split)
        if not flacs.is_dir():
            raise CorpusError(
                f"{flacs}: no such folder; expected the {split} audio (unpacked {split} archives)"
            )
        df = trials.assign(
            path=[str(flacs / f"{u}.flac") for u in trials["utt_id"]],
            split=split,
            condition=trials["codec"],
        )
        frames.append(df[list(PROTOCOL_COLUMNS) + list(CONDITION_COLUMNS)])
    return pd.concat(frames, ignore_index=True)
