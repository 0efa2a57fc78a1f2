"""Hand-feature baseline: features of known signals; the fit on separable and identical classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd.audio.io import write_audio
from sdd.audit.baseline import FEATURE_NAMES, fit_logistic, hand_feature_baseline, hand_features
from tests.helpers import sine

SR = 16000


def test_features_of_a_sine() -> None:
    feats = dict(zip(FEATURE_NAMES, hand_features(sine(1000.0, 1.0, SR, 0.5), SR), strict=True))
    assert len(feats) == 11
    assert feats["duration_s"] == pytest.approx(1.0)
    assert feats["energy_db_mean"] == pytest.approx(10 * np.log10(0.125), abs=0.05)  # mean square of 0.5 sin
    assert feats["energy_db_std"] < 0.05
    assert feats["zcr_mean"] == pytest.approx(2 * 1000 / SR, rel=0.05)
    assert feats["centroid_hz_mean"] == pytest.approx(1000.0, rel=0.05)
    assert feats["rolloff_hz_mean"] == pytest.approx(1000.0, abs=80.0)
    assert feats["flatness_mean"] < 0.01


def test_white_noise_is_flat_and_bright(rng: np.random.Generator) -> None:
    feats = dict(zip(FEATURE_NAMES, hand_features(0.1 * rng.standard_normal(SR), SR), strict=True))
    assert feats["flatness_mean"] > 0.4
    assert feats["centroid_hz_mean"] == pytest.approx(SR / 4, rel=0.1)
    assert feats["zcr_mean"] == pytest.approx(0.5, abs=0.05)


def test_short_clip_is_padded() -> None:
    out = hand_features(np.ones(10, dtype=np.float32) * 0.1, SR)
    assert out.shape == (11,) and np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="empty"):
        hand_features(np.zeros(0), SR)


def test_fit_logistic_separates_and_needs_both_classes(rng: np.random.Generator) -> None:
    x = np.concatenate([rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))])
    y = np.r_[np.zeros(50), np.ones(50)]
    beta, bias = fit_logistic((x - x.mean(0)) / x.std(0), y)
    assert beta[0] > 0 and beta[1] > 0
    with pytest.raises(ValueError, match="both classes"):
        fit_logistic(x, np.ones(100))


def _manifest(root: Path, name: str, rng: np.random.Generator, n: int, spoof_freq: float) -> pd.DataFrame:
    """n bona fide 300 Hz tones and n spoof tones at ``spoof_freq`` with random level and length (noisy)."""
    rows = []
    for i in range(2 * n):
        bona = i < n
        freq = 300.0 if bona else spoof_freq
        dur = rng.uniform(0.5, 1.0)
        wave = sine(freq, dur, SR, rng.uniform(0.1, 0.5)) + 0.01 * rng.standard_normal(int(dur * SR)).astype(
            np.float32
        )
        path = root / name / f"{i}.flac"
        write_audio(path, wave, SR)
        attack = "-" if bona else ("A01" if i % 2 else "A02")
        rows.append(
            {
                "utt_id": f"{name}_{i}",
                "path": str(path),
                "label": "bonafide" if bona else "spoof",
                "attack": attack,
            }
        )
    return pd.DataFrame(rows)


def test_baseline_separable_classes(tmp_path: Path, rng: np.random.Generator) -> None:
    train = _manifest(tmp_path, "train", rng, 12, 3000.0)
    evals = {"eval": _manifest(tmp_path, "eval", rng, 10, 3000.0)}
    out = hand_feature_baseline(train, evals, workers=1)
    assert set(out) == {"eval"}
    res = out["eval"]
    assert res["eer"] == pytest.approx(0.0, abs=1e-9)
    assert set(res["per_attack"]) == {"A01", "A02"}
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in res["per_attack"].values())
    assert (res["n_bonafide"], res["n_spoof"]) == (10, 10)


def test_baseline_identical_classes_is_chance(tmp_path: Path, rng: np.random.Generator) -> None:
    train = _manifest(tmp_path, "train", rng, 30, 300.0)
    evals = {"eval": _manifest(tmp_path, "eval", rng, 60, 300.0)}
    res = hand_feature_baseline(train, evals, workers=2)["eval"]
    assert 0.3 <= res["eer"] <= 0.7


def test_baseline_rejects_bad_manifests(tmp_path: Path, rng: np.random.Generator) -> None:
    train = _manifest(tmp_path, "train", rng, 2, 3000.0)
    with pytest.raises(ValueError, match="missing column"):
        hand_feature_baseline(train.drop(columns=["attack"]), {"eval": train})
    with pytest.raises(ValueError, match="label values"):
        hand_feature_baseline(train, {"eval": train.assign(label="fake")})
    with pytest.raises(ValueError, match="only"):
        hand_feature_baseline(train[train.label == "spoof"], {"eval": train})
