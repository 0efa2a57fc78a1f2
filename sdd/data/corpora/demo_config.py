"""The demo generator's configuration and split layout, without the generator.

:class:`DemoConfig` (the generator's settings with their range checks) and :data:`SPLITS` (each split's
id prefix, protocol file, audio folder and attacks) live here, apart from the generator
(:mod:`sdd.data.demo`, signals and attacks: numpy, scipy, audio I/O), so the plan stage validates a
``demo`` corpus entry (:class:`sdd.data.corpora.demo.DemoCorpusConfig`) without importing any of it.
The generator imports them from here, and its fingerprint (``GENERATOR_SOURCES``) covers this file:
the layout decides the bytes generated too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdd.core.configbase import ConfigError

__all__ = ["PROTOCOL_DIR", "SPLITS", "DemoConfig", "DemoSplit", "protocol_path"]


@dataclass(frozen=True)
class DemoSplit:
    """One split of the demo corpus and where it lives in the ASVspoof 2019 LA layout.

    Attributes:
        name: split name used in manifests (``train``, ``dev``, ``eval``, ``eval_degraded``).
        file_prefix: trial id prefix; ids are ``<prefix><7 digits>``.
        protocol: protocol file name under ``LA/ASVspoof2019_LA_cm_protocols/``.
        audio_dir: audio folder under ``LA/`` (FLAC files live in ``<audio_dir>/flac/``).
        attacks: attack systems of the split's spoofs.
        degraded: whether a strong degradation follows the ordinary channel.
    """

    name: str
    file_prefix: str
    protocol: str
    audio_dir: str
    attacks: tuple[str, ...]
    degraded: bool


_KNOWN_ATTACKS = ("A01", "A02", "A03", "A04")
_EVAL_ATTACKS = _KNOWN_ATTACKS + ("A05", "A06")

#: The four splits, in generation order (the order also fixes speaker ids and seeds).
SPLITS: dict[str, DemoSplit] = {
    "train": DemoSplit(
        "train", "LA_T_", "ASVspoof2019.LA.cm.train.trn.txt", "ASVspoof2019_LA_train", _KNOWN_ATTACKS, False
    ),
    "dev": DemoSplit(
        "dev", "LA_D_", "ASVspoof2019.LA.cm.dev.trl.txt", "ASVspoof2019_LA_dev", _KNOWN_ATTACKS, False
    ),
    "eval": DemoSplit(
        "eval", "LA_E_", "ASVspoof2019.LA.cm.eval.trl.txt", "ASVspoof2019_LA_eval", _EVAL_ATTACKS, False
    ),
    "eval_degraded": DemoSplit(
        "eval_degraded",
        "LA_G_",
        "ASVspoof2019.LA.cm.eval_degraded.trl.txt",
        "ASVspoof2019_LA_eval_degraded",
        _EVAL_ATTACKS,
        True,
    ),
}

#: The protocol folder under ``LA/`` (as in ASVspoof 2019 LA).
PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
_SUPPORTED_RATES = (16000, 24000, 32000, 48000)


def protocol_path(root: Path, split: str) -> Path:
    """The protocol file of ``split`` under a generated corpus root (the ``out_dir`` of generation)."""
    if split not in SPLITS:
        raise KeyError(f"demo split {split!r} does not exist; expected one of {sorted(SPLITS)}")
    return Path(root) / "LA" / PROTOCOL_DIR / SPLITS[split].protocol


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
