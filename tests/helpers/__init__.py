"""Helpers shared by the tests (fixtures live in ``tests/conftest.py``).

- this module: :data:`REPO` (the checkout under test), :data:`SHARED` (``../shared`` beside it) and
  :func:`sine`;
- :mod:`tests.helpers.import_graph`: the import graph of ``sdd`` (cycle, layering and DVC-deps tests);
- :mod:`tests.helpers.train`: a tiny synthetic corpus and arm config for the training tests;
- :mod:`tests.helpers.hf_datasets`: small Hugging Face datasets of synthetic audio (``hf_dataset``);
- :mod:`tests.helpers.asvspoof5`: a tiny ASVspoof 5 database in the official layout (``asvspoof5``);
- :mod:`tests.helpers.train_worker`, :mod:`tests.helpers.tracking_worker`: scripts that tests start as
  subprocesses (:data:`TRAIN_WORKER`, :data:`TRACKING_WORKER`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
TRAIN_WORKER = Path(__file__).resolve().parent / "train_worker.py"
TRACKING_WORKER = Path(__file__).resolve().parent / "tracking_worker.py"


def sine(
    freq_hz: float = 440.0, duration_s: float = 1.0, sample_rate: int = 16000, amplitude: float = 0.5
) -> np.ndarray:
    """A (T,) float32 sine wave."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
