"""Shared fixtures: the ../shared data folder (skipped when absent) and synthetic audio. Helpers that
are not fixtures (paths, :func:`~tests.helpers.sine`, the training corpus) are in ``tests/helpers/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SHARED, sine


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (real ASVspoof protocols, scores, clips); skip when absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"needs the shared test data at {SHARED} (absent in a user's clone)")
    return SHARED


@pytest.fixture(scope="session")
def aasist_dir(shared_dir: Path) -> Path:
    """The published AASIST weights with the authors' reference scores in ../shared; skip when absent."""
    d = shared_dir / "data" / "aasist"
    if not (d / "reference_scores.tsv").is_file():
        pytest.skip(f"needs the published AASIST weights and reference scores in {d}")
    return d


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator; never the global numpy state."""
    return np.random.default_rng(1234)


@pytest.fixture
def sine_wave() -> np.ndarray:
    return sine()
