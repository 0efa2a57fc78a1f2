"""Recipe ``demo``: the built-in synthetic corpus, generated in the ASVspoof 2019 LA layout.

``corpora: {demo: {type: demo, seed: 0, n_per_split: 300}}``. The generator itself is
:mod:`sdd.data.demo` (signals, attacks, channel); this recipe holds its params entry
(:class:`DemoCorpusConfig`, checked against the generator's :class:`~sdd.data.corpora.demo_config.DemoConfig`
without importing the generator) and the protocol reader (the 2019 LA one of
:mod:`sdd.data.corpora.la_layout`, plus the ``eval_degraded`` split). The fetch step (generate once
per config and generator version) is :func:`sdd.data.fetchers.demo.fetch`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sdd.core.configbase import ConfigError
from sdd.data.corpora.common import SplitView
from sdd.data.corpora.demo_config import DemoConfig
from sdd.data.corpora.la_layout import LA19_PROTOCOLS, read_la_layout

__all__ = ["DEMO_PROTOCOLS", "DemoCorpusConfig", "read_protocol", "splits"]

#: split -> protocol file suffix: the 2019 LA splits plus eval_degraded.
DEMO_PROTOCOLS = {**LA19_PROTOCOLS, "eval_degraded": "eval_degraded.trl"}


@dataclass(frozen=True)
class DemoCorpusConfig:
    """The built-in synthetic corpus (:mod:`sdd.data.demo`), in the ASVspoof 2019 LA layout.

    Attributes:
        seed: data-generation seed (independent of the training seed).
        n_per_split: bona fide utterances per split (and as many spoofs).
        sample_rate, min_duration_s, max_duration_s, n_speakers_per_split: optional overrides of the
            generator's :class:`~sdd.data.corpora.demo_config.DemoConfig` (``null``: the generator's default).
    """

    type: Literal["demo"] = "demo"
    seed: int = 0
    n_per_split: int = 300
    sample_rate: int | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    n_speakers_per_split: int | None = None
    views: dict[str, SplitView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_per_split < 1:
            raise ConfigError(f"n_per_split: got {self.n_per_split}; expected a positive integer")
        self.generator_config()  # the generator's own range checks, at parse time

    def generator_config(self) -> DemoConfig:
        """The generator's :class:`~sdd.data.corpora.demo_config.DemoConfig` these settings describe."""
        fields = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("type", "views")
        }
        return DemoConfig(**{k: v for k, v in fields.items() if v is not None})


def splits(cfg: DemoCorpusConfig) -> tuple[str, ...]:
    """``train, dev, eval, eval_degraded``."""
    return tuple(DEMO_PROTOCOLS)


def read_protocol(cfg: DemoCorpusConfig, raw_dir: Path) -> pd.DataFrame:
    """Every trial of the four splits, with absolute FLAC paths; ``eval_degraded``'s condition is its
    transmission (:data:`sdd.data.demo.TRANSMISSIONS`), the other splits' ``-``."""
    return read_la_layout(Path(raw_dir) / "LA", DEMO_PROTOCOLS, condition_splits=frozenset({"eval_degraded"}))
