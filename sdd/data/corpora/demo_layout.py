"""The demo corpus's splits and where they live in the ASVspoof 2019 LA layout.

:class:`DemoSplit` describes one split (trial id prefix, protocol file, audio folder, attacks, whether
it is transmitted); :data:`SPLITS` holds the four in generation order, which also fixes their speaker
ids and seeds; :func:`protocol_path` finds a split's protocol under a generated corpus.

Here, beside the corpus recipes and apart from the generator (:mod:`sdd.data.demo`), for the same
reason as :mod:`sdd.data.corpora.demo_config`, whose range checks read it; the generator imports it
from here and fingerprints this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["PROTOCOL_DIR", "SPLITS", "DemoSplit", "protocol_path"]


@dataclass(frozen=True)
class DemoSplit:
    """One split of the demo corpus and where it lives in the ASVspoof 2019 LA layout.

    Attributes:
        name: split name used in manifests (``train``, ``dev``, ``eval``, ``eval_degraded``).
        file_prefix: trial id prefix; ids are ``<prefix><7 digits>``.
        protocol: protocol file name under ``LA/ASVspoof2019_LA_cm_protocols/``.
        audio_dir: audio folder under ``LA/`` (FLAC files live in ``<audio_dir>/flac/``).
        attacks: attack systems of the split's spoofs.
        degraded: whether every utterance is sent through one of the transmission conditions
            (:data:`sdd.data.demo.transmission.TRANSMISSIONS`) after its recording conditions.
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


#: The protocol folder under ``LA/``.
PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"


def protocol_path(root: Path, split: str) -> Path:
    """The protocol file of ``split`` under a generated corpus root (the ``out_dir`` of generation)."""
    if split not in SPLITS:
        raise KeyError(f"demo split {split!r} does not exist; expected one of {sorted(SPLITS)}")
    return Path(root) / "LA" / PROTOCOL_DIR / SPLITS[split].protocol
