"""The run-cost tooling (sdd.train.runcost) on a few utterances: sampling, the corpus it writes, and
every stage timer on the real stage code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sdd.augment.params import AugmentParams
from sdd.core.sections import ScoreParams
from sdd.train import runcost


def protocols(n_train: int = 6, n_eval: int = 4) -> dict[str, pd.DataFrame]:
    def rows(prefix: str, n: int) -> pd.DataFrame:
        return pd.DataFrame({
            "utt_id": [f"{prefix}_{i:03d}" for i in range(n)],
            "speaker": [f"S{i % 2}" for i in range(n)],
            "attack": ["-" if i % 3 == 0 else "A01" for i in range(n)],
            "label": ["bonafide" if i % 3 == 0 else "spoof" for i in range(n)],
        })  # fmt: skip

    return {"train": rows("T", n_train), "eval": rows("E", n_eval)}


def test_sample_rows_keeps_each_split_and_its_fraction():
    rows = runcost.sample_rows(protocols(100, 10), 0.05, seed=0)
    counts = rows["split"].value_counts().to_dict()
    assert counts == {"train": 5, "eval": 1}  # at least one row of a small split
    assert rows["utt_id"].is_unique
    assert set(rows.loc[rows["split"] == "train", "utt_id"]) <= set(protocols(100, 10)["train"]["utt_id"])


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_sample_rows_rejects_a_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        runcost.sample_rows(protocols(), fraction, seed=0)


def test_write_corpus_draws_durations_from_the_pool(tmp_path):
    rows = runcost.sample_rows(protocols(), 1.0, seed=0)
    pool = [0.5, 1.25]
    root = runcost.write_corpus(tmp_path / "c", rows, pool, seed=1)
    proto = pd.read_csv(root / runcost.PROTOCOL_FILE)
    assert len(proto) == len(rows)
    for path, dur in zip(proto["path"], proto["duration_s"], strict=True):
        info = sf.info(root / path)
        assert info.samplerate == 16000 and info.format == "FLAC"
        assert dur in pool and info.frames == round(dur * 16000)


def test_write_corpus_rejects_an_empty_pool(tmp_path):
    with pytest.raises(ValueError, match="durations"):
        runcost.write_corpus(tmp_path, runcost.sample_rows(protocols(), 1.0, 0), [], seed=0)
    assert not (tmp_path / "audio").exists()  # checked before any audio is written


def test_every_stage_timer_runs_the_real_stage_code(tmp_path):
    rows = runcost.sample_rows(protocols(n_train=6, n_eval=3), 1.0, seed=0)
    root = runcost.write_corpus(tmp_path / "corpus", rows, [0.3, 0.6], seed=0)
    prep, manifests = runcost.time_prepare(root, tmp_path / "manifests", workers=0)
    assert prep.utterances == 9 and set(manifests) == {"train", "eval"}
    assert np.isclose(prep.audio_s, pd.read_csv(root / runcost.PROTOCOL_FILE)["duration_s"].sum(), atol=0.01)
    train = manifests["train"]
    params = AugmentParams(policy="rawboost5", copies=2)
    aug_cost, aug, size = runcost.time_augment(train, tmp_path / "aug", params, workers=0)
    assert aug_cost.utterances == 6 and len(aug) == 12
    assert size == sum(p.stat().st_size for p in (tmp_path / "aug").rglob("*.flac")) > 0
    loader, batches_s, first_s = runcost.time_loader(
        train, aug, tmp_path / "aug", 8000, "first", 2, workers=0
    )
    assert loader.utterances == 4 and batches_s > 0 and first_s >= 0  # the first batch is not timed
    scoring = runcost.time_scoring_io(
        manifests["eval"], ScoreParams(num_samples=8000, batch_size=2, threads=1)
    )
    assert scoring.utterances == 3
    for cost in (prep, aug_cost, loader, scoring):
        assert cost.per_1000 == pytest.approx(1000 * cost.seconds / cost.utterances)
        assert cost.seconds > 0


def test_loader_timer_needs_two_batches(tmp_path):
    rows = runcost.sample_rows(protocols(n_train=3, n_eval=1), 1.0, seed=0)
    root = runcost.write_corpus(tmp_path / "corpus", rows, [0.3], seed=0)
    _, manifests = runcost.time_prepare(root, tmp_path / "m", workers=0)
    with pytest.raises(ValueError, match="at least 4"):
        runcost.time_loader(manifests["train"], None, tmp_path, 8000, "first", 2, workers=0)
