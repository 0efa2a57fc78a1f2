"""Shared fixtures: the ../shared data folder (skipped when absent) and synthetic audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


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


def sine(
    freq_hz: float = 440.0, duration_s: float = 1.0, sample_rate: int = 16000, amplitude: float = 0.5
) -> np.ndarray:
    """A (T,) float32 sine wave."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


@pytest.fixture
def sine_wave() -> np.ndarray:
    return sine()
