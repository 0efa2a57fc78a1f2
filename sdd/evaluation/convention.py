"""The evaluation convention, named next to every EER: what was scored, on which trials, which way.

Published EERs of the same system on the same corpus differ by the **input rule** (the first 64,600
samples, repeat-padded, as AASIST and SSL-AASIST score; the first 4 s, the length the Speech
Anti-Spoofing Arena rescores; or whole utterances), by the **trial subset** (ASVspoof 2021's eval,
progress and hidden subsets of its keys) and by the **score polarity**. The score stage records its
input rule in the score folder's ``model.json`` (:func:`sdd.core.sections.input_rule`, beside the score
section, so that the score stage does not depend on this package); the evaluate stage adds
:func:`convention` to each eval set's metrics, and the report shows it beside each EER.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sdd.core.sections import input_rule

__all__ = ["POLARITY", "convention", "input_rule_of_score_file", "trial_subset"]

#: The polarity of every score file sdd writes and reads (``sdd score``, the score stage, ``sdd evaluate``).
POLARITY = "higher score = more bona fide"

#: Corpus types whose split is a subset of the official keys (``subset`` of the recipe).
_KEYS_SUBSETS = {
    "asvspoof2021_la": "ASVspoof 2021 LA",
    "asvspoof2021_df": "ASVspoof 2021 DF",
}


def trial_subset(
    corpus: str,
    corpus_type: str | None,
    split: str,
    view_of: str | None = None,
    where: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The trials an eval set holds, named: the keys' subset for ASVspoof 2021 (``eval``, ``progress``,
    ``hidden``), else the corpus's split; for a split view (``view_of``: the split it selects from,
    ``where``: its column -> kept values), that split and the selection."""
    base = view_of or split
    if corpus_type in _KEYS_SUBSETS:
        text = f"{_KEYS_SUBSETS[corpus_type]} keys, subset {base} (of eval / progress / hidden)"
    else:
        text = f"{corpus} ({corpus_type}), split {base}" if corpus_type else f"{corpus}, split {base}"
    if view_of is not None:
        kept = "; ".join(f"{c} in {', '.join(v)}" for c, v in (where or {}).items())
        text += f", view {split} ({kept})"
    return text


#: ``sdd score``'s header line (:mod:`sdd.scoring.score`), which names its input.
_SDD_SCORE_INPUT = re.compile(
    r"^# sdd score: .*?; input = (?:the first (?P<n>\d+) samples at (?P<rate>\d+) Hz, repeat-padded"
    r"|whole utterances at (?P<whole_rate>\d+) Hz, neither cut nor padded);"
)


def input_rule_of_score_file(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The input rule ``sdd score`` wrote in the score file's header line (the first N samples,
    repeat-padded, or whole utterances: :func:`sdd.core.sections.input_rule`), or None when the file
    has no such header (a score file from elsewhere: its input rule is not known here)."""
    with open(path, "rb") as f:
        raw = f.read(4096)
    # the encodings score files are read in (sdd.core.textfile): UTF-8 with or without BOM, UTF-16/32 with one
    boms = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
            (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip
    encoding = next((enc for bom, enc in boms if raw.startswith(bom)), "utf-8-sig")
    head = raw.decode(encoding, errors="ignore").splitlines()
    m = _SDD_SCORE_INPUT.match(head[0]) if head else None
    if m is None:
        return None
    if m["whole_rate"] is not None:
        return input_rule(None, int(m["whole_rate"]))
    return input_rule(int(m["n"]), int(m["rate"]))


def convention(input: dict[str, Any] | None, subset: str) -> dict[str, Any]:
    """``{"input": input rule or None (not recorded), "trials": subset, "polarity": POLARITY}``."""
    return {"input": input, "trials": subset, "polarity": POLARITY}
