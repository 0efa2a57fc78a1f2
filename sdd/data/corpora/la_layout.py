"""The ASVspoof 2019 LA folder layout and its CM protocol format, shared by two recipes.

The real corpus (:mod:`sdd.data.corpora.asvspoof2019`) and the built-in demo corpus
(:mod:`sdd.data.corpora.demo`, which adds an ``eval_degraded`` split) both use it::

    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.<split suffix>.txt   (5 columns, no header)
    LA/ASVspoof2019_LA_<split>/flac/<utt_id>.flac

Layout and format: Wang et al., "ASVspoof 2019: a large-scale public database of synthesized,
converted and replayed speech", CSL 2020.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from sdd.data.corpora.common import PROTOCOL_COLUMNS, CorpusError, normalise_label, read_columns

__all__ = [
    "LA19_PROTOCOLS",
    "LA19_PROTOCOL_DIR",
    "flac_dir",
    "la_layout_complete",
    "protocol_path",
    "read_asvspoof2019_protocol",
    "read_la_layout",
]

LA19_PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
#: split -> protocol file suffix of the 2019 LA layout (the demo corpus adds eval_degraded).
LA19_PROTOCOLS = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}


def protocol_path(la_dir: Path, suffix: str) -> Path:
    """``<la_dir>/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.<suffix>.txt``."""
    return la_dir / LA19_PROTOCOL_DIR / f"ASVspoof2019.LA.cm.{suffix}.txt"


def flac_dir(la_dir: Path, split: str) -> Path:
    """``<la_dir>/ASVspoof2019_LA_<split>/flac``."""
    return la_dir / f"ASVspoof2019_LA_{split}" / "flac"


def read_asvspoof2019_protocol(path: Path, conditions: bool = False) -> pd.DataFrame:
    """Parse an ASVspoof 2019 LA CM protocol (5 columns ``SPEAKER FILE - SYSTEM KEY``, no header).

    Args:
        path: the protocol file.
        conditions: column 3 names each trial's condition (the demo's ``eval_degraded``, as column 3
            names the environment in 2019 PA) instead of holding ``-``.

    Returns:
        DataFrame with columns ``speaker, utt_id, attack, label`` (attack ``-`` for bona fide), and
        ``condition`` with ``conditions``.

    Raises:
        CorpusError: wrong column count (e.g. a 4-column "modified" copy), column 3 not ``-`` (without
            ``conditions``), or an unknown key; the message names the file and line.
    """
    rows = read_columns(
        path, 5, "SPEAKER FILE - SYSTEM KEY; 4-column copies of the protocol are not the official one"
    )
    df = pd.DataFrame(rows, columns=["speaker", "utt_id", "unused", "attack", "label"])
    bad = df.index[df["unused"] != "-"]
    if len(bad) and not conditions:
        raise CorpusError(f"{path}:{bad[0] + 1}: column 3 is {df['unused'][bad[0]]!r}; expected '-'")
    df["label"] = [normalise_label(v, f"{path}:{i + 1}") for i, v in enumerate(df["label"])]
    bonafide_with_attack = df.index[(df["label"] == "bonafide") & (df["attack"] != "-")]
    if len(bonafide_with_attack):
        i = bonafide_with_attack[0]
        raise CorpusError(f"{path}:{i + 1}: bona fide trial with system {df['attack'][i]!r}; expected '-'")
    return df[["speaker", "utt_id", "attack", "label"]].assign(
        **({"condition": df["unused"]} if conditions else {})
    )


def la_layout_complete(la_dir: Path, protocols: dict[str, str]) -> int | None:
    """Number of audio files when every protocol exists and every trial has its FLAC, else None."""
    total = 0
    for split, suffix in protocols.items():
        proto = protocol_path(la_dir, suffix)
        flacs = flac_dir(la_dir, split)
        if not proto.is_file() or not flacs.is_dir():
            return None
        with open(proto, encoding="utf-8") as f:
            ids = {line.split()[1] for line in f if line.strip()}
        present = {e.name[: -len(".flac")] for e in os.scandir(flacs) if e.name.endswith(".flac")}
        if not ids or not ids <= present:
            return None
        total += len(ids)
    return total


def read_la_layout(
    la_dir: Path, protocols: dict[str, str], condition_splits: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """Every trial of the ``protocols`` (split -> suffix) under ``la_dir``, with absolute FLAC paths
    (columns :data:`~sdd.data.corpora.common.PROTOCOL_COLUMNS`). The splits in ``condition_splits``
    read each trial's condition from the protocol's column 3; the others have condition ``-``."""
    frames = []
    for split, suffix in protocols.items():
        df = read_asvspoof2019_protocol(protocol_path(la_dir, suffix), conditions=split in condition_splits)
        flacs = flac_dir(la_dir, split)
        df["path"] = [str(flacs / f"{u}.flac") for u in df["utt_id"]]
        df["split"] = split
        if split not in condition_splits:
            df["condition"] = "-"
        frames.append(df)
    return pd.concat(frames, ignore_index=True)[list(PROTOCOL_COLUMNS)]
