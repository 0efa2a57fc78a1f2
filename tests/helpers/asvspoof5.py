"""A tiny ASVspoof 5 database in the official layout, for the ``asvspoof5`` recipe tests
(``tests/data/test_asvspoof5.py``) and the end-to-end test: protocols with the official 10 columns
in ``ASVspoof5_protocols/``, one short FLAC per protocol row in ``flac_T`` / ``flac_D`` / ``flac_E_eval``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sdd.audio.io import write_audio
from sdd.data.corpora.asvspoof5 import AUDIO_DIRS, PROTOCOL_DIR, PROTOCOL_FILES

__all__ = ["ROWS", "make_database"]

# speaker utt gender codec codec_q codec_seed attack_tag attack key tmp (official column order).
# The eval split has one bona fide and one spoof trial per codec condition (uncoded "-", C05, C08).
ROWS = {
    "train": [
        "T_4850 T_0000000000 F - - - - - bonafide -",
        "T_4850 T_0000000001 F - - - AC3 A05 spoof -",
        "T_0001 T_0000000002 M - - - - - bonafide -",
        "T_0001 T_0000000003 M - - - AC1 A01 spoof -",
    ],
    "dev": [
        "D_0062 D_0000000001 F - - - AC1 A11 spoof -",
        "D_0062 D_0000000002 F - - - - - bonafide -",
        "D_0755 D_0000000003 M - - - AC2 A14 spoof -",
        "D_0755 D_0000000004 M - - - - - bonafide -",
    ],
    "eval": [
        "E_0001 E_0000000001 F - 0 - - - bonafide -",
        "E_0001 E_0000000002 F C05 3 E_0000000001 - - bonafide -",
        "E_0002 E_0000000003 M - 0 - AC1 A17 spoof -",
        "E_0002 E_0000000004 M C05 3 E_0000000003 AC1 A17 spoof -",
        "E_0003 E_0000000005 F C08 1 E_0000000009 AC3 A20 spoof -",
        "E_0003 E_0000000006 F C08 1 E_0000000010 - - bonafide -",
    ],
}


def _clip(path: Path, seed: int, samples: int) -> None:
    rng = np.random.default_rng(seed)
    write_audio(path, (0.1 * rng.standard_normal(samples)).astype(np.float32), 16000)


def make_database(root: Path, splits=("train", "dev", "eval"), samples: int = 1600) -> Path:
    """The official layout under ``root``: the protocols of ``splits`` + one FLAC of ``samples`` samples
    at 16 kHz (noise) per protocol row; returns ``root``."""
    (root / PROTOCOL_DIR).mkdir(parents=True, exist_ok=True)
    for split in splits:
        (root / PROTOCOL_DIR / PROTOCOL_FILES[split]).write_text("\n".join(ROWS[split]) + "\n")
        for i, row in enumerate(ROWS[split]):
            _clip(root / AUDIO_DIRS[split] / f"{row.split()[1]}.flac", i, samples)
    return root
