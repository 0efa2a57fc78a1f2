"""Shared fixtures: the ../shared data folder (skipped when absent) and synthetic audio. Helpers that
are not fixtures (paths, :func:`~tests.helpers.sine`, the training corpus) are in ``tests/helpers/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SHARED, sine
from tests.helpers.oracles import load_asvspoof5_package


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


@pytest.fixture(scope="session")
def asvspoof5_package(shared_dir: Path):
    """The ASVspoof 5 evaluation package in ../shared (``.modules`` = its ``calculate_modules``,
    ``.metrics`` = its ``calculate_metrics``), imported unmodified; skip when absent."""
    d = shared_dir / "data" / "official" / "asvspoof5" / "evaluation-package"
    if not (d / "calculate_modules.py").is_file():
        pytest.skip(f"needs the ASVspoof 5 evaluation package in {d}")
    return load_asvspoof5_package(d)


@pytest.fixture(scope="session")
def asvspoof5_dev_scores(shared_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The organisers' sample ASV and CM system scores on ASVspoof 5 dev trials (29,548 rows of
    ``Tool-score-fusion/dev_scores_label.csv``) by key: ``{"target"|"nontarget"|"spoof": (asv, cm)}``.

    Its ``sasv_label`` is 1 = target, 2 = non-target, 0 = spoof (the fusion script's defaults; its
    README says 3 for spoof, the file has 0).
    """
    path = shared_dir / "data" / "official" / "asvspoof5" / "Tool-score-fusion" / "dev_scores_label.csv"
    if not path.is_file():
        pytest.skip(f"needs the ASVspoof 5 sample scores {path}")
    table = np.genfromtxt(path, delimiter=",", names=True)
    label = table["sasv_label"]
    codes = {"target": 1.0, "nontarget": 2.0, "spoof": 0.0}
    if set(np.unique(label)) != set(codes.values()):
        raise AssertionError(f"{path}: sasv_label values {np.unique(label)}, expected {list(codes.values())}")
    return {k: (table["asv_score"][label == v], table["cm_score"][label == v]) for k, v in codes.items()}
