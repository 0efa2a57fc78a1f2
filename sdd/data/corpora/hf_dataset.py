"""Recipe ``hf_dataset``: a corpus distributed as a Hugging Face dataset (a hub id or a local folder).

::

    corpora:
      arena_itw:
        type: hf_dataset
        dataset: <owner>/<name>          # a hub id (resolved through the HF cache / hub), or
        # path: data/my_dataset          # a local folder: save_to_disk output, or parquet/arrow files
        revision: <commit>               # hub only: pin the dataset's commit (recommended)
        labels: {bonafide: [0], spoof: [1]}
        splits: {test: eval}             # dataset split -> sdd split; only these are read

The fetch step (:func:`sdd.data.fetchers.hf_dataset.fetch`) reads the dataset with the ``datasets``
library, its audio column cast to ``Audio(decode=False)`` (``datasets`` 4+ decodes through torchcodec
and FFmpeg, which sdd does not ship), and writes each row's encoded audio bytes unchanged to
``<raw dir>/audio/`` with a protocol table ``<raw dir>/protocol.tsv``; soundfile decodes those files
from then on, as it does every other corpus's (prepare's decode check, the loader). This module
imports nothing from ``datasets``: :func:`splits` is the declared mapping and :func:`read_protocol`
reads the table the fetch step wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sdd.core.configbase import ConfigError
from sdd.data.corpora.common import PROTOCOL_COLUMNS, CorpusError, SplitView

__all__ = [
    "AUDIO_DIR",
    "PROTOCOL_FILE",
    "HFDatasetConfig",
    "LabelMap",
    "read_protocol",
    "splits",
]

#: The protocol table the fetch step writes into the corpus's raw folder (paths relative to it).
PROTOCOL_FILE = "protocol.tsv"
#: The folder (under the raw folder) holding the audio bytes the fetch step wrote.
AUDIO_DIR = "audio"
_ID_RE = re.compile(r"^\S+$")


@dataclass(frozen=True)
class LabelMap:
    """The dataset's label values that mean bona fide and spoof, listed explicitly.

    Values are compared by their text (``0`` matches the integer 0 and the string ``"0"``); for a
    ``ClassLabel`` column the class name matches too (``spoof`` for the class 1 named ``spoof``).
    """

    bonafide: tuple[int | str, ...] = ()
    spoof: tuple[int | str, ...] = ()

    def __post_init__(self) -> None:
        if not self.bonafide and not self.spoof:
            raise ConfigError(
                "labels: got no values; expected the dataset's label values, e.g. {bonafide: [0], spoof: [1]}"
            )
        both = sorted({str(v) for v in self.bonafide} & {str(v) for v in self.spoof})
        if both:
            raise ConfigError(f"labels: value(s) {both} listed as both bonafide and spoof")

    def text(self) -> str:
        """The mapping as the error messages quote it."""
        return f"{{bonafide: {list(self.bonafide)}, spoof: {list(self.spoof)}}}"


@dataclass(frozen=True)
class HFDatasetConfig:
    """A corpus read from a Hugging Face dataset: a hub id or a local folder.

    Attributes:
        labels: the label values meaning bona fide and spoof (every value met must be listed).
        splits: dataset split (or, with ``split_column``, a value of that column) -> sdd split, e.g.
            ``{test: eval}`` or ``{train: train, validation: dev, test: eval}``. Dataset splits not
            listed are not read; a ``split_column`` value not listed is an error.
        dataset: a hub id, resolved through the HF cache and the hub as ``datasets.load_dataset``
            does (``HF_HUB_OFFLINE=1`` and ``HF_HOME`` / ``HF_DATASETS_CACHE`` are honoured).
        path: a local folder instead: ``save_to_disk`` output (read with ``load_from_disk``; a single
            ``Dataset`` is split ``train``, the library's name for unsplit data) or a folder of
            parquet/arrow files (read with ``load_dataset``, splits from the file names). Relative:
            against the repo root.
        name: the dataset's configuration (subset) name, if it has several.
        revision: hub only: a commit, tag or branch of the dataset repository.
        audio_column: the ``Audio`` column (or a struct of ``bytes`` and ``path``).
        label_column: the label column.
        utt_id_column: utterance ids (no whitespace, unique); ``None``: ``<tag>_<split>_<row>``,
            ``<tag>`` the last part of ``dataset`` or ``path``.
        speaker_column, attack_column, condition_column: optional; ``-`` when absent (attack:
            ``unknown`` for a spoof).
        split_column: take the split from this column of every dataset split (mapped by ``splits``).
    """

    labels: LabelMap
    splits: dict[str, str]
    type: Literal["hf_dataset"] = "hf_dataset"
    dataset: str | None = None
    path: str | None = None
    name: str | None = None
    revision: str | None = None
    audio_column: str = "audio"
    label_column: str = "label"
    utt_id_column: str | None = None
    speaker_column: str | None = None
    attack_column: str | None = None
    condition_column: str | None = None
    split_column: str | None = None
    views: dict[str, SplitView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.dataset is None) == (self.path is None):
            raise ConfigError(
                f"dataset/path: got dataset={self.dataset!r}, path={self.path!r}; expected exactly one "
                "(a hub id or a local folder)"
            )
        if self.revision is not None and self.dataset is None:
            raise ConfigError(
                f"revision: got {self.revision!r} with a local path; expected it with a hub `dataset`"
            )
        if not self.splits:
            raise ConfigError(
                "splits: got an empty mapping; expected dataset split -> sdd split, e.g. {test: eval}"
            )
        for source, target in self.splits.items():
            if not target or not _ID_RE.match(target) or "/" in target:
                raise ConfigError(
                    f"splits.{source}: got {target!r}; expected a split name without spaces or '/'"
                )
        columns = {k: getattr(self, k) for k in ("audio_column", "label_column", "utt_id_column",
                   "speaker_column", "attack_column", "condition_column", "split_column")}  # fmt: skip
        named = [c for c in columns.values() if c is not None]
        dup = sorted({c for c in named if named.count(c) > 1})
        if dup:
            raise ConfigError(f"columns: {dup} named for more than one role ({columns})")

    @property
    def tag(self) -> str:
        """The prefix of generated utterance ids: the last part of ``dataset`` or ``path``."""
        source = (self.dataset or self.path or "").rstrip("/")
        return re.sub(r"[^A-Za-z0-9._-]+", "-", source.rsplit("/", 1)[-1]) or "hf"


def splits(cfg: HFDatasetConfig) -> tuple[str, ...]:
    """The sdd splits the mapping declares (no I/O)."""
    return tuple(dict.fromkeys(cfg.splits.values()))


def read_protocol(cfg: HFDatasetConfig, raw_dir: Path) -> pd.DataFrame:
    """The trials the fetch step wrote (``<raw_dir>/protocol.tsv``), audio paths made absolute."""
    raw_dir = Path(raw_dir)
    path = raw_dir / PROTOCOL_FILE
    if not path.is_file():
        raise CorpusError(
            f"{path}: not found; the fetch step writes it (dvc repro runs it, or `sdd fetch <corpus name>`)"
        )
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    expected = list(PROTOCOL_COLUMNS)
    if list(table.columns) != expected:
        raise CorpusError(
            f"{path}: columns {list(table.columns)}; expected {expected} (re-run the fetch step)"
        )
    table["path"] = [str(raw_dir / p) for p in table["path"]]
    return table
