"""Named corpora: the registry of corpus types, one recipe module per type (as lhotse's recipes).

A corpus is a named entry of ``params.yaml``'s ``corpora`` section with a ``type`` from
:data:`CORPUS_TYPES`::

    corpora:
      demo: {type: demo, seed: 0, n_per_split: 300}
      realmini: {type: folder, path: ../shared/data/realmini, protocol: protocol.tsv}
      la19: {type: asvspoof2019_la}
      la21: {type: asvspoof2021_la}            # subset: eval (default) | progress | hidden
      df21: {type: asvspoof2021_df}
      asv5: {type: asvspoof5, source_dir: /data/asvspoof5}   # or md5s: {<archive>: <md5>} to download
      itw: {type: in_the_wild, url: https://...}   # or source_dir: /data/release_in_the_wild
      hf: {type: hf_dataset, dataset: <hub id>, labels: {bonafide: [0], spoof: [1]}, splits: {test: eval}}

Each type is a :class:`CorpusType` entry (a registry, no if/elif chain) pointing into its recipe
module: :mod:`.demo`, :mod:`.asvspoof2019`, :mod:`.asvspoof2021`, :mod:`.asvspoof5`, :mod:`.in_the_wild`,
:mod:`.folder`, :mod:`.hf_dataset`.
A recipe holds the type's config class, its splits and its protocol reader; what recipes share is in
:mod:`.common` and :mod:`.la_layout`. This package downloads, generates and hashes nothing: the plan
stage validates ``corpora`` against it without importing any fetch code. Each type's fetch step
(downloads through :mod:`sdd.data.download`, the demo generator) is in :mod:`sdd.data.fetchers`, whose
:func:`~sdd.data.fetchers.fetch_corpus` the fetch stage and ``sdd fetch`` call. Adding a corpus type is
one recipe module plus one line below, and one fetch module plus one line in
:data:`sdd.data.fetchers.FETCHERS`.

The protocol readers return one row per trial with absolute audio paths; :mod:`sdd.data.prepare`
decodes every file and writes the manifests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.core.configbase import ConfigError, build
from sdd.data.corpora import asvspoof5, asvspoof2019, asvspoof2021, demo, folder, hf_dataset, in_the_wild
from sdd.data.corpora.common import (
    MANIFEST_COLUMNS,
    PROTOCOL_COLUMNS,
    VIEW_NAME_RE,
    CorpusError,
    SplitView,
    normalise_label,
)

__all__ = [
    "CORPUS_TYPES",
    "MANIFEST_COLUMNS",
    "PROTOCOL_COLUMNS",
    "CorpusConfig",
    "CorpusError",
    "CorpusType",
    "SplitView",
    "corpus_splits",
    "normalise_label",
    "parse_corpus",
    "read_protocol",
]

CorpusConfig = (
    demo.DemoCorpusConfig
    | asvspoof2019.Asvspoof2019LAConfig
    | asvspoof2021.Asvspoof2021LAConfig
    | asvspoof2021.Asvspoof2021DFConfig
    | asvspoof5.Asvspoof5Config
    | in_the_wild.InTheWildConfig
    | folder.FolderCorpusConfig
    | hf_dataset.HFDatasetConfig
)


@dataclass(frozen=True)
class CorpusType:
    """One registry entry: everything the pipeline needs to know about a kind of corpus.

    Attributes:
        config_cls: the frozen config dataclass.
        description: one line for error messages and docs.
        splits: the splits the corpus provides, without I/O (folder: may read its protocol).
        read_protocol: ``(cfg, raw_dir) -> DataFrame`` with :data:`PROTOCOL_COLUMNS` (absolute
            paths) plus ``condition_columns``.
        condition_columns: extra per-trial condition columns kept in the manifest.
    """

    config_cls: type
    description: str
    splits: Callable[[Any], tuple[str, ...]]
    read_protocol: Callable[[Any, Path], pd.DataFrame]
    condition_columns: tuple[str, ...] = ()


CORPUS_TYPES: dict[str, CorpusType] = {
    "demo": CorpusType(
        demo.DemoCorpusConfig, "built-in synthetic corpus in the ASVspoof 2019 LA layout",
        demo.splits, demo.read_protocol,
    ),
    "asvspoof2019_la": CorpusType(
        asvspoof2019.Asvspoof2019LAConfig, "ASVspoof 2019 LA (train/dev/eval)",
        asvspoof2019.splits, asvspoof2019.read_protocol,
    ),
    "asvspoof2021_la": CorpusType(
        asvspoof2021.Asvspoof2021LAConfig, "ASVspoof 2021 LA eval + keys",
        asvspoof2021.splits, asvspoof2021.read_protocol,
        asvspoof2021.CONDITION_COLUMNS["asvspoof2021_la"],
    ),
    "asvspoof2021_df": CorpusType(
        asvspoof2021.Asvspoof2021DFConfig, "ASVspoof 2021 DF eval (4 parts) + keys",
        asvspoof2021.splits, asvspoof2021.read_protocol,
        asvspoof2021.CONDITION_COLUMNS["asvspoof2021_df"],
    ),
    "asvspoof5": CorpusType(
        asvspoof5.Asvspoof5Config, "ASVspoof 5 track 1 (train/dev/eval) + protocol metadata",
        asvspoof5.splits, asvspoof5.read_protocol, asvspoof5.CONDITION_COLUMNS,
    ),
    "in_the_wild": CorpusType(
        in_the_wild.InTheWildConfig, "In-the-Wild (eval only)",
        in_the_wild.splits, in_the_wild.read_protocol,
    ),
    "folder": CorpusType(
        folder.FolderCorpusConfig, "a folder of audio + a CSV/TSV protocol",
        folder.splits, folder.read_protocol,
    ),
    "hf_dataset": CorpusType(
        hf_dataset.HFDatasetConfig, "a Hugging Face dataset (hub id or local folder), audio + label columns",
        hf_dataset.splits, hf_dataset.read_protocol,
    ),
}  # fmt: skip


def parse_corpus(name: str, data: dict) -> CorpusConfig:
    """Build the validated, frozen config of corpus ``name`` from its params entry (no I/O).

    Raises:
        ConfigError: missing/unknown ``type``, unknown key, wrong type or bad value; the message names
            ``corpora.<name>.<key>``, the value and what was expected.
    """
    cfg = _build(name, data)
    _check_views(f"corpora.{name}", cfg)
    return cfg


#: Columns a split view may select on besides the type's own metadata columns.
VIEW_COLUMNS = ("speaker", "label", "attack", "condition")


def _check_views(where: str, cfg: CorpusConfig) -> None:
    """Names and columns of ``views`` (no I/O; which split each selects from is checked by
    :func:`corpus_splits`, the values by :func:`read_protocol`)."""
    columns = VIEW_COLUMNS + CORPUS_TYPES[cfg.type].condition_columns
    for view, spec in cfg.views.items():
        if not VIEW_NAME_RE.match(view):
            raise ConfigError(
                f"{where}.views: got the name {view!r}; expected letters, digits, '_', '.' or '-' "
                "(it names a manifest and the split of an eval set)"
            )
        if not spec.where:
            raise ConfigError(
                f"{where}.views.{view}.where: got an empty mapping; expected column -> values, "
                "e.g. {codec: [C05]}"
            )
        empty = [c for c, values in spec.where.items() if not values]
        if empty:
            raise ConfigError(
                f"{where}.views.{view}.where.{empty[0]}: got no values; expected the values to keep"
            )
        unknown = [c for c in spec.where if c not in columns]
        if unknown:
            raise ConfigError(
                f"{where}.views.{view}.where: got column {unknown[0]!r}; expected one of {list(columns)} "
                f"(the manifest columns of a {cfg.type} corpus)"
            )


def _build(name: str, data: dict) -> CorpusConfig:
    where = f"corpora.{name}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: got {data!r}; expected a mapping with a `type` key")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CORPUS_TYPES:
        raise ConfigError(f"{where}.type: got {kind!r}; expected one of {sorted(CORPUS_TYPES)}")
    try:
        return build(CORPUS_TYPES[kind].config_cls, data, where)
    except ConfigError as exc:
        # Range checks in __post_init__ (ours and the demo generator's) name the key but not the entry.
        msg = str(exc)
        if msg.startswith(where + ".") or msg.startswith(where + ":"):
            raise
        if msg.startswith("corpora.demo"):
            msg = re.sub(r"^corpora\.demo(?=[.:])", where, msg)
        else:
            msg = f"{where}.{msg}"
        raise ConfigError(msg) from exc


def corpus_splits(cfg: CorpusConfig) -> tuple[str, ...]:
    """The splits (or subsets) the corpus provides, e.g. ``('train', 'dev', 'eval')``.

    No I/O, except for a ``folder`` corpus without declared ``splits``, whose protocol's split column
    is read. A split view (``views``) is a split of its own, after the corpus's splits.

    Raises:
        ConfigError: a view selecting from a split the corpus does not have, or named as one of them.
    """
    base = CORPUS_TYPES[cfg.type].splits(cfg)
    for view, spec in cfg.views.items():
        if view in base:
            raise ConfigError(
                f"views.{view}: the {cfg.type} corpus has a split {view!r} already; expected another name"
            )
        if spec.split not in base:
            raise ConfigError(
                f"views.{view}.split: got {spec.split!r}; expected one of the {cfg.type} corpus's "
                f"splits {list(base)}"
            )
    return base + tuple(cfg.views)


def read_protocol(cfg: CorpusConfig, raw_dir: Path) -> pd.DataFrame:
    """All trials of the corpus (every split) with absolute audio paths, without touching the audio.

    The trials of a split view are copies of its split's rows with ``split`` set to the view's name
    (utterance ids are unique within each split).

    Raises:
        CorpusError: duplicate utterance ids, or a view that keeps no trial (naming the values present).
    """
    corpus_splits(cfg)  # the views' own checks
    df = CORPUS_TYPES[cfg.type].read_protocol(cfg, Path(raw_dir))
    dup = df["utt_id"][df["utt_id"].duplicated()]
    if len(dup):
        raise CorpusError(f"{cfg.type}: {len(dup)} duplicate utterance id(s), e.g. {list(dup[:3])}")
    views = []
    for view, spec in cfg.views.items():
        rows = df[df["split"] == spec.split]
        for column, values in spec.where.items():
            keep = rows[column].astype(str).isin(values)
            if not keep.any():
                present = sorted(rows[column].astype(str).unique())
                raise CorpusError(
                    f"views.{view}: no trial of split {spec.split!r} left with {column} in {list(values)}; "
                    f"values present: {present[:20]}"
                )
            rows = rows[keep]
        views.append(rows.assign(split=view))
    return pd.concat([df, *views], ignore_index=True) if views else df
