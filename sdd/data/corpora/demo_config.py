"""The demo corpus's parameters (params.yaml ``corpora.demo``): :class:`DemoConfig` and its range checks.

Here, beside the corpus recipes and apart from the generator (:mod:`sdd.data.demo`: signals, attacks,
audio writing), so the plan validates a ``demo`` entry (:class:`sdd.data.corpora.demo.DemoCorpusConfig`)
without importing any of it; the generator imports it from here and fingerprints this file
(``GENERATOR_SOURCES``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sdd.core.configbase import ConfigError
from sdd.data.corpora.demo_layout import SPLITS

__all__ = ["DemoConfig"]

_SUPPORTED_RATES = (16000, 24000, 32000, 48000)


@dataclass(frozen=True)
class DemoConfig:
    """Parameters of the demo corpus (params.yaml ``corpora.demo``).

    Attributes:
        seed: data-generation seed (independent of the training seed).
        n_per_split: bona fide utterances per split, and spoof utterances per split (spread evenly
            over the split's attacks).
        sample_rate: output sample rate in Hz (a multiple of 8000 between 16 and 48 kHz).
        min_duration_s: shortest utterance, seconds.
        max_duration_s: longest utterance, seconds.
        n_speakers_per_split: speakers per split; speakers are disjoint across splits.
    """

    seed: int = 0
    n_per_split: int = 300
    sample_rate: int = 16000
    min_duration_s: float = 2.0
    max_duration_s: float = 4.0
    n_speakers_per_split: int = 20

    def __post_init__(self) -> None:
        n_attacks = max(len(s.attacks) for s in SPLITS.values())
        if self.seed < 0:
            raise ConfigError(f"corpora.demo.seed: got {self.seed}; expected an integer >= 0")
        if not n_attacks <= self.n_per_split <= 100_000:
            raise ConfigError(
                f"corpora.demo.n_per_split: got {self.n_per_split}; expected {n_attacks}..100000 "
                f"(every one of the {n_attacks} eval attacks needs at least one utterance)"
            )
        if self.sample_rate not in _SUPPORTED_RATES:
            raise ConfigError(
                f"corpora.demo.sample_rate: got {self.sample_rate}; expected one of {_SUPPORTED_RATES}"
            )
        if not 0.5 <= self.min_duration_s <= self.max_duration_s <= 30.0:
            raise ConfigError(
                f"corpora.demo.min_duration_s/max_duration_s: got {self.min_duration_s}/"
                f"{self.max_duration_s}; expected 0.5 <= min_duration_s <= max_duration_s <= 30"
            )
        if not 1 <= self.n_speakers_per_split <= 2000:
            raise ConfigError(
                f"corpora.demo.n_speakers_per_split: got {self.n_speakers_per_split}; expected 1..2000"
            )
