"""The ASVspoof 5 protocol format (Wang et al., "ASVspoof 5: Design, collection and validation of
resources for spoofing, deepfake, and adversarial attack detection using crowdsourced speech", 2025):
10 whitespace-separated columns, one trial per line.

A module of its own, importing only :mod:`.common` and :mod:`.tables`, because two users need it: ``sdd
evaluate`` (:func:`sdd.evaluation.protocols.read_protocol`, format ``asvspoof5``) and the corpus recipe
(:mod:`sdd.data.corpora.asvspoof5`), whose fetch and prepare stages must not depend on the metric stack
(a change to a metric would re-run them).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdd.evaluation.common import BONAFIDE, NO_ATTACK, SPOOF, EvaluationError, first_ids
from sdd.evaluation.tables import check_values, read_table

__all__ = ["COLUMNS", "check_unique_ids", "label_trials", "read_asvspoof5_trials"]

#: The protocol's columns, in order (the last is unused by track 1).
COLUMNS = [
    "speaker", "utt_id", "gender", "codec", "codec_q", "codec_seed",
    "attack_tag", "attack", "label", "unused",
]  # fmt: skip


def label_trials(df: pd.DataFrame, path: Path, what: str) -> pd.DataFrame:
    """Check that ``label`` holds only bona fide / spoof and set bona fide trials' ``attack`` to
    :data:`~sdd.evaluation.common.NO_ATTACK` (in place; returns ``df``)."""
    check_values(df, "label", (BONAFIDE, SPOOF), what=what, path=path)
    df["attack"] = df["attack"].where(df["label"] == SPOOF, NO_ATTACK)
    return df


def check_unique_ids(ids: pd.Series, source: Path) -> None:
    """Raise :class:`~sdd.evaluation.common.EvaluationError` naming ``source`` and the first repeated
    trial ids when ``ids`` has duplicates."""
    if not pd.Index(ids).is_unique:
        dup = ids[ids.duplicated()].unique()
        raise EvaluationError(f"protocol {source}: {dup.size} duplicated trial ids, e.g. {first_ids(dup)}")


def read_asvspoof5_trials(path: Path) -> pd.DataFrame:
    """Every trial of an ASVspoof 5 protocol file: the :data:`COLUMNS` but ``unused``, bona fide
    trials' attack set to ``-``.

    Raises:
        EvaluationError: not the 10-column format, a label other than bonafide/spoof, or a repeated
            trial id (the message names the file and the lines or ids).
    """
    df = read_table(path, COLUMNS, what="ASVspoof 5 protocol")
    df = label_trials(df.drop(columns="unused"), path, "ASVspoof 5 protocol")
    check_unique_ids(df["utt_id"], path)
    return df
