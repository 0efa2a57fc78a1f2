"""The fetch steps of the corpus recipes: one module per recipe of :mod:`sdd.data.corpora`, looked up
by corpus type in :data:`FETCHERS`.

A fetch step makes a corpus's raw data available: download + verify + extract (through
:mod:`sdd.data.download`), generate (the demo generator, :mod:`sdd.data.demo`), or check a copy used
in place. The recipes themselves (config classes, splits, protocol readers) import none of this, so
the plan stage validates ``corpora`` without download or generator code; the fetch stage and the
``sdd fetch`` command call :func:`fetch_corpus`. Adding a corpus type adds one module here and one
line to :data:`FETCHERS` (``tests/data/test_fetch.py`` checks every type has one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdd.data.corpora import CorpusConfig
from sdd.data.fetchers import asvspoof5, asvspoof2019, asvspoof2021, demo, folder, hf_dataset, in_the_wild

__all__ = ["FETCHERS", "fetch_corpus"]

#: corpus type (a key of :data:`sdd.data.corpora.CORPUS_TYPES`) -> ``(cfg, dest) -> summary``; idempotent.
FETCHERS: dict[str, Callable[[Any, Path], dict]] = {
    "demo": demo.fetch,
    "asvspoof2019_la": asvspoof2019.fetch,
    "asvspoof2021_la": asvspoof2021.fetch,
    "asvspoof2021_df": asvspoof2021.fetch,
    "asvspoof5": asvspoof5.fetch,
    "in_the_wild": in_the_wild.fetch,
    "folder": folder.fetch,
    "hf_dataset": hf_dataset.fetch,
}


def fetch_corpus(cfg: CorpusConfig, dest: Path) -> dict:
    """Make the corpus's raw data available: download + verify + extract, generate, or check in place.

    Idempotent: complete data is detected and skipped (returning the recorded summary).

    Args:
        cfg: a config from :func:`sdd.data.corpora.parse_corpus`.
        dest: where raw data goes (``<repo root>/data/raw/<corpus name>``); unused by corpora read in
            place (``source_dir``, ``folder``).

    Returns:
        A small JSON-able summary: what was fetched, file count, the checksums computed/verified and
        whether they were official, third-party, user-given or unknown.
    """
    return FETCHERS[cfg.type](cfg, Path(dest))
