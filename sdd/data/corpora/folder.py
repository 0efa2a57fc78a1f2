"""Recipe ``folder``: any folder of audio plus a protocol table (CSV or TSV with a header).

``corpora: {mine: {type: folder, path: data/mine, protocol: protocol.tsv}}``. The table needs at
least ``path`` and ``label`` columns (names configurable); ids, speakers, attacks, conditions and
splits are read from columns when present. The folder is used in place: its fetch step
(:func:`sdd.data.fetchers.folder.fetch`) only checks that every listed file exists and records the
protocol's SHA-256.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sdd.core.configbase import ConfigError
from sdd.core.paths import resolve
from sdd.data.corpora.common import CorpusError, SplitView, normalise_label

__all__ = ["FolderCorpusConfig", "protocol_file", "read_protocol", "splits"]


@dataclass(frozen=True)
class FolderCorpusConfig:
    """Any folder of audio plus a protocol table (CSV or TSV with a header).

    Attributes:
        path: the corpus folder (relative: against the repo root).
        protocol: the protocol file, relative to ``path``.
        sep: column separator; ``None``: tab for ``.tsv``/``.txt``, comma otherwise.
        path_column: audio path column (relative to ``path`` or absolute).
        label_column: label column (``bonafide``/``spoof`` in any common spelling).
        utt_id_column: id column; ``None``: ``utt_id`` if present, else the file stem.
        speaker_column: speaker column; ``None``: ``speaker`` if present, else ``-`` (unknown).
        attack_column: attack column; ``None``: ``attack`` or ``system`` if present, else ``-`` for
            bona fide and ``unknown`` for spoof.
        condition_column: condition column; ``None``: ``-``.
        split_column: split column; ``None``: ``split`` if present.
        split: put every row into this split (the protocol needs no split column then).
        splits: the split names the protocol holds, declared (else read from the protocol).
    """

    path: str
    type: Literal["folder"] = "folder"
    protocol: str = "protocol.tsv"
    sep: str | None = None
    path_column: str = "path"
    label_column: str = "label"
    utt_id_column: str | None = None
    speaker_column: str | None = None
    attack_column: str | None = None
    condition_column: str | None = None
    split_column: str | None = None
    split: str | None = None
    splits: tuple[str, ...] | None = None
    views: dict[str, SplitView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.split is not None and self.split_column is not None:
            raise ConfigError(
                f"split: got {self.split!r} together with split_column {self.split_column!r}; "
                "expected only one"
            )
        if self.splits is not None and not self.splits:
            raise ConfigError("splits: got an empty list; expected at least one split name")


_EMPTY = "protocol file is empty; expected a header line and one row per audio file"


def protocol_file(cfg: FolderCorpusConfig) -> Path:
    """The protocol table of a folder corpus: ``<path>/<protocol>``, ``path`` against the repo root."""
    return resolve(cfg.path) / cfg.protocol


def _folder_sep(cfg: FolderCorpusConfig, path: Path) -> str:
    if cfg.sep is not None:
        return cfg.sep
    return "\t" if path.suffix.lower() in (".tsv", ".txt", ".tab") else ","


def _folder_table(cfg: FolderCorpusConfig, usecols: list[str] | None = None) -> pd.DataFrame:
    path = protocol_file(cfg)
    if not path.is_file():
        raise CorpusError(
            f"{path}: protocol file not found (corpus folder {cfg.path!r}, protocol {cfg.protocol!r})"
        )
    try:
        table = pd.read_csv(
            path, sep=_folder_sep(cfg, path), dtype=str, keep_default_na=False, usecols=usecols
        )
    except pd.errors.EmptyDataError as exc:
        raise CorpusError(f"{path}: {_EMPTY}") from exc
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read the protocol table ({exc})") from exc
    if table.empty:
        raise CorpusError(f"{path}: protocol has a header but no rows; expected one row per audio file")
    return table


def _pick_column(
    cfg_value: str | None, auto: tuple[str, ...], columns: list[str], key: str, path: Path
) -> str | None:
    """The configured column (must exist) or the first automatic candidate present (or None)."""
    if cfg_value is not None:
        if cfg_value not in columns:
            raise CorpusError(f"{path}: {key} {cfg_value!r} is not a column; expected one of {columns}")
        return cfg_value
    return next((c for c in auto if c in columns), None)


def _no_split_message(path: Path) -> str:
    return f"{path}: no split column; set split_column, or split: <name> to use every row as one split"


def splits(cfg: FolderCorpusConfig) -> tuple[str, ...]:
    """The declared ``splits``, the one ``split``, or the values of the protocol's split column."""
    if cfg.splits is not None:
        return cfg.splits
    if cfg.split is not None:
        return (cfg.split,)
    path = protocol_file(cfg)
    if not path.is_file():
        raise CorpusError(
            f"{path}: protocol file not found; cannot list its splits (or declare them as `splits`)"
        )
    try:
        header = list(pd.read_csv(path, sep=_folder_sep(cfg, path), dtype=str, nrows=0).columns)
    except pd.errors.EmptyDataError as exc:
        raise CorpusError(f"{path}: {_EMPTY}") from exc
    column = _pick_column(cfg.split_column, ("split",), header, "split_column", path)
    if column is None:
        raise CorpusError(_no_split_message(path))
    values = _folder_table(cfg, usecols=[column])[column]
    return tuple(dict.fromkeys(v for v in values if v))


def read_protocol(cfg: FolderCorpusConfig, raw_dir: Path) -> pd.DataFrame:
    """Every row of the protocol table as a trial (absolute paths; labels normalised)."""
    root = resolve(cfg.path)
    path = protocol_file(cfg)
    table = _folder_table(cfg)
    cols = list(table.columns)
    for key in ("path_column", "label_column"):
        if getattr(cfg, key) not in cols:
            raise CorpusError(f"{path}: {key} {getattr(cfg, key)!r} is not a column; expected one of {cols}")
    utt_col = _pick_column(cfg.utt_id_column, ("utt_id",), cols, "utt_id_column", path)
    spk_col = _pick_column(cfg.speaker_column, ("speaker",), cols, "speaker_column", path)
    att_col = _pick_column(cfg.attack_column, ("attack", "system"), cols, "attack_column", path)
    cond_col = _pick_column(cfg.condition_column, (), cols, "condition_column", path)
    split_col = None
    if cfg.split is None:
        split_col = _pick_column(cfg.split_column, ("split",), cols, "split_column", path)
    if cfg.split is None and split_col is None:
        raise CorpusError(_no_split_message(path))
    labels = [normalise_label(v, f"{path}:{i + 2}") for i, v in enumerate(table[cfg.label_column])]
    audio = []
    for i, p in enumerate(table[cfg.path_column]):
        if not p.strip():
            raise CorpusError(f"{path}:{i + 2}: empty {cfg.path_column!r}; expected an audio path")
        if Path(p).is_absolute():
            audio.append(Path(p))
            continue
        if not os.path.normpath(root / p).startswith(os.path.normpath(root) + os.sep):
            raise CorpusError(
                f"{path}:{i + 2}: path {p!r} escapes the corpus folder {root}; expected a path inside it "
                "(or an absolute path)"
            )
        audio.append(root / p)

    def column(name: str | None, default: str) -> list[str]:
        return [v.strip() or default for v in table[name]] if name is not None else [default] * len(table)

    attacks = column(att_col, "-")
    attacks = [
        "-" if lab == "bonafide" else (a if a != "-" else "unknown")
        for lab, a in zip(labels, attacks, strict=True)
    ]
    df = pd.DataFrame(
        {
            "utt_id": column(utt_col, "") if utt_col else [p.stem for p in audio],
            "path": [str(p) for p in audio],
            "speaker": column(spk_col, "-"),
            "label": labels,
            "attack": attacks,
            "condition": column(cond_col, "-"),
            "split": column(split_col, "") if split_col else [cfg.split] * len(table),
        }
    )
    dup = df["utt_id"].duplicated(keep=False)
    if dup.any():
        first = df.loc[dup, "utt_id"].iloc[0]
        lines = [int(i) + 2 for i in df.index[df["utt_id"] == first]]
        raise CorpusError(
            f"{path}: duplicate utterance id {first!r} on lines {lines} "
            f"({int(df['utt_id'].duplicated().sum())} duplicate(s) in all); expected unique ids"
        )
    empty_ids = df.index[df["utt_id"] == ""]
    if len(empty_ids):
        raise CorpusError(f"{path}:{empty_ids[0] + 2}: empty utterance id")
    empty_split = df.index[df["split"] == ""]
    if len(empty_split):
        raise CorpusError(f"{path}:{empty_split[0] + 2}: empty split")
    if cfg.splits is not None:
        unknown = sorted(set(df["split"]) - set(cfg.splits))
        if unknown:
            raise CorpusError(
                f"{path}: split value(s) {unknown} not among the declared splits {list(cfg.splits)}"
            )
    return df
