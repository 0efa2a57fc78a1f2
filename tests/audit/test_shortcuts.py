"""Shortcut audit: features of known signals, the direction and tie rules, the MFCC model, and the
audit of the demo corpus at its default size (no single trivial feature may separate its classes)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd.audio.io import write_audio
from sdd.audit.shortcuts import (
    FEATURES,
    MFCC_NAMES,
    ShortcutAudit,
    audit_manifests,
    audit_table,
    feature_eers,
    feature_table,
    flag_shortcuts,
    format_audit,
    mfcc_logistic_eer,
    mfcc_stats,
    two_way_eer,
    utterance_features,
)
from sdd.data.corpora.la_layout import read_asvspoof2019_protocol
from sdd.data.demo import SPLITS, DemoConfig, generate_demo, protocol_path
from sdd.metrics import eer
from tests.helpers import sine

SR = 16000


# ----------------------------------------------------------------------------------------------
# Features of known signals
# ----------------------------------------------------------------------------------------------


def test_features_of_a_sine() -> None:
    f = utterance_features(sine(1000.0, 1.0, SR, 0.5), SR)
    assert list(f) == list(FEATURES)
    assert f["duration_s"] == pytest.approx(1.0)
    assert abs(f["dc"]) < 1e-4 and abs(f["dc_over_rms"]) < 1e-3
    assert f["rms_db"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert f["peak_db"] == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert f["crest_db"] == pytest.approx(20 * np.log10(np.sqrt(2)), abs=0.02)  # 3.01 dB
    assert f["centroid_hz"] == pytest.approx(1000.0, rel=0.01)
    assert f["bandwidth_hz"] < 60.0
    assert f["hf_fraction"] < 1e-6 and f["lf_fraction"] < 1e-6
    assert f["leading_silence_s"] == 0.0 and f["trailing_silence_s"] == 0.0
    high = utterance_features(sine(7500.0, 0.5, SR, 0.5), SR)
    assert high["hf_fraction"] > 0.99 and high["centroid_hz"] == pytest.approx(7500.0, rel=0.01)


def test_dc_features_measure_the_offset(rng: np.random.Generator) -> None:
    noise = 0.1 * rng.standard_normal(SR)
    f = utterance_features(noise + 0.02, SR)
    assert f["dc"] == pytest.approx(0.02, abs=0.002)
    assert f["dc_over_rms"] == pytest.approx(0.02 / np.sqrt(0.1**2 + 0.02**2), abs=0.02)
    assert utterance_features(noise - 0.02, SR)["dc"] == pytest.approx(-0.02, abs=0.002)
    # the offset's power is all below 60 Hz, white noise has 60 / 8000 of its power there
    assert utterance_features(noise + 0.02, SR)["lf_fraction"] == pytest.approx(
        0.02**2 / (0.1**2 + 0.02**2) + 60 / 8000, abs=0.01
    )
    assert utterance_features(noise, SR)["lf_fraction"] == pytest.approx(60 / 8000, abs=0.005)


def test_leading_and_trailing_silence(rng: np.random.Generator) -> None:
    tone = sine(300.0, 1.0, SR, 0.5).astype(np.float64)
    floor = 1e-4 * rng.standard_normal(int(0.5 * SR))  # -74 dB re the tone's RMS
    wave = np.concatenate([floor[: int(0.3 * SR)], tone, floor[: int(0.2 * SR)]])
    f = utterance_features(wave, SR)
    assert f["leading_silence_s"] == pytest.approx(0.3, abs=0.011)  # 10 ms frame grid
    assert f["trailing_silence_s"] == pytest.approx(0.2, abs=0.011)
    assert f["duration_s"] == pytest.approx(1.5)
    # a pause 20 dB down is silence at 15 dB but not at the default 30 dB threshold
    quiet = np.concatenate([0.1 * tone[: int(0.4 * SR)], tone])
    assert utterance_features(quiet, SR)["leading_silence_s"] == 0.0
    lead_15 = utterance_features(quiet, SR, silence_db=15.0)["leading_silence_s"]
    assert lead_15 == pytest.approx(0.4, abs=0.011)
    # the level does not matter, only the ratio to the loudest frame
    assert utterance_features(0.01 * wave, SR)["leading_silence_s"] == f["leading_silence_s"]
    zeros = utterance_features(np.zeros(8000), SR)
    assert zeros["leading_silence_s"] == zeros["trailing_silence_s"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="silence_db"):
        utterance_features(wave, SR, silence_db=-50.0)
    with pytest.raises(ValueError, match="empty"):
        utterance_features(np.zeros(0), SR)


def test_short_clip_and_mfcc_shape() -> None:
    f = utterance_features(np.full(10, 0.1, dtype=np.float32), SR)
    assert all(np.isfinite(v) for v in f.values())
    stats = mfcc_stats(sine(440.0, 0.5, SR), SR)
    assert stats.shape == (len(MFCC_NAMES),) == (40,) and np.all(np.isfinite(stats))
    assert np.all(stats[20:] >= 0)  # standard deviations


# ----------------------------------------------------------------------------------------------
# EERs: direction, ties, per attack
# ----------------------------------------------------------------------------------------------


def test_two_way_eer_is_direction_independent(rng: np.random.Generator) -> None:
    bona, spoof = rng.normal(0, 1, 300), rng.normal(1.5, 1, 300)  # spoofs score HIGHER
    value, direction = two_way_eer(bona, spoof)
    assert direction == -1 and value == pytest.approx(eer(-bona, -spoof))
    assert value < 0.3 and eer(bona, spoof) > 0.7
    flipped, flipped_direction = two_way_eer(-bona, -spoof)
    assert flipped == pytest.approx(value) and flipped_direction == 1
    assert two_way_eer(bona + 100.0, spoof + 100.0)[0] == pytest.approx(value)  # shift-invariant


def test_ties_are_spread_not_counted_against_one_class() -> None:
    assert two_way_eer(np.zeros(100), np.zeros(100))[0] == pytest.approx(0.5)  # no information
    # 20 % of bona fide files have a pause, no spoof has one: the straight ROC segment gives 4/9
    value, direction = two_way_eer(np.r_[np.zeros(80), np.ones(20)], np.zeros(100))
    assert value == pytest.approx(0.8 / 1.8, abs=0.01) and direction == 1
    # every bona fide file has a pause and no spoof: perfect, whatever the ties
    assert two_way_eer(np.full(50, 0.3), np.zeros(50))[0] == 0.0


def _table(rng: np.random.Generator, n: int = 120) -> pd.DataFrame:
    """A feature table: n bona fide rows, n/2 A01 and n/2 A02 spoofs; only 'dc' carries information."""
    labels = ["bonafide"] * n + ["spoof"] * n
    attacks = ["-"] * n + ["A01"] * (n // 2) + ["A02"] * (n // 2)
    data = {name: rng.normal(0, 1, 2 * n) for name in FEATURES}
    dc = rng.normal(0, 1, 2 * n)
    dc[n : n + n // 2] += 8.0  # A01 spoofs: positive offset
    dc[n + n // 2 :] -= 8.0  # A02 spoofs: negative offset
    data["dc"] = dc
    ids = [f"u{i}" for i in range(2 * n)]
    return pd.DataFrame({"utt_id": ids, "label": labels, "attack": attacks, **data})


def test_feature_eers_find_an_offset_in_either_direction(rng: np.random.Generator) -> None:
    res = feature_eers(_table(rng))
    assert set(res) == set(FEATURES)
    dc = res["dc"]
    assert dc.per_attack["A01"] < 0.01 and dc.per_attack_direction["A01"] == -1  # spoofs higher
    assert dc.per_attack["A02"] < 0.01 and dc.per_attack_direction["A02"] == 1  # spoofs lower
    assert dc.pooled > 0.4  # one threshold cannot catch two opposite offsets: read the per-attack EERs
    assert dc.worst == min(dc.per_attack.values())
    for name in FEATURES:
        if name != "dc":
            assert res[name].pooled > 0.35 and min(res[name].per_attack.values()) > 0.2, name


def test_flag_shortcuts_and_format(rng: np.random.Generator) -> None:
    audit = audit_table(_table(rng), name="crafted")
    assert isinstance(audit, ShortcutAudit) and (audit.n_bonafide, audit.n_spoof) == (120, 120)
    flags = flag_shortcuts(audit)
    assert [(f.feature, f.subset) for f in flags] == [("dc", "A01"), ("dc", "A02")]
    assert "dc on A01: EER" in flags[0].describe() and "lower = more bona fide" in flags[0].describe()
    assert "higher = more bona fide" in flags[1].describe()
    assert [(f.feature, f.subset) for f in flag_shortcuts(audit, pooled_below=0.6)][:3] == [
        ("dc", "pooled"),
        ("dc", "A01"),
        ("dc", "A02"),
    ]
    assert flag_shortcuts(audit, pooled_below=0.0, per_attack_below=0.0) == []
    table = format_audit(audit)
    assert table.splitlines()[0] == "| crafted | pooled | A01 | A02 |"
    assert len(table.splitlines()) == 2 + len(FEATURES)
    d = audit.to_dict()
    assert d["features"]["dc"]["per_attack"]["A01"] == audit.features["dc"].per_attack["A01"]
    assert d["mfcc_lr"] is None


def test_feature_eers_need_both_classes(rng: np.random.Generator) -> None:
    table = _table(rng)
    with pytest.raises(ValueError, match="bona fide and spoof"):
        feature_eers(table[table["label"] == "spoof"])


# ----------------------------------------------------------------------------------------------
# MFCC logistic regression
# ----------------------------------------------------------------------------------------------


def _mfcc_table(rng: np.random.Generator, n: int, spoof_kind: str) -> pd.DataFrame:
    rows = []
    for i in range(2 * n):
        bona = i < n
        dur = rng.uniform(0.4, 0.8)
        if bona or spoof_kind == "same":
            wave = sine(rng.uniform(200, 400), dur, SR, rng.uniform(0.1, 0.5))
        else:
            wave = (rng.uniform(0.05, 0.2) * rng.standard_normal(int(dur * SR))).astype(np.float32)
        wave = wave + 0.01 * rng.standard_normal(wave.size).astype(np.float32)
        rows.append(
            {
                "utt_id": f"u{i}",
                "label": "bonafide" if bona else "spoof",
                "attack": "-" if bona else "A01",
                **dict(zip(MFCC_NAMES, mfcc_stats(wave, SR), strict=True)),
            }
        )
    return pd.DataFrame(rows)


def test_mfcc_logistic_separates_tones_from_noise(rng: np.random.Generator) -> None:
    res = mfcc_logistic_eer(_mfcc_table(rng, 30, "noise"), _mfcc_table(rng, 20, "noise"))
    assert res.pooled == 0.0 and res.per_attack == {"A01": 0.0} and res.direction == 1


def test_mfcc_logistic_is_near_chance_on_identical_classes(rng: np.random.Generator) -> None:
    res = mfcc_logistic_eer(_mfcc_table(rng, 40, "same"), _mfcc_table(rng, 40, "same"))
    assert res.pooled > 0.3


def test_mfcc_logistic_needs_mfcc_columns(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="MFCC columns"):
        mfcc_logistic_eer(_table(rng), _table(rng))


# ----------------------------------------------------------------------------------------------
# From manifests (files on disk)
# ----------------------------------------------------------------------------------------------


def _manifest(root: Path, name: str, rng: np.random.Generator, n: int, offset: float) -> pd.DataFrame:
    """n bona fide and n spoof noise bursts; spoofs carry a DC offset of ``offset`` times their RMS."""
    rows = []
    for i in range(2 * n):
        bona = i < n
        wave = rng.uniform(0.05, 0.2) * rng.standard_normal(int(rng.uniform(0.5, 1.0) * SR))
        if not bona:
            wave = wave + offset * np.sqrt(np.mean(wave**2))
        path = root / name / f"{i}.flac"
        write_audio(path, wave.astype(np.float32), SR)
        rows.append(
            {
                "utt_id": f"{name}_{i}",
                "path": str(path),
                "label": "bonafide" if bona else "spoof",
                "attack": "-" if bona else "A02",
            }
        )
    return pd.DataFrame(rows)


def test_audit_manifests_flags_a_dc_offset(tmp_path: Path, rng: np.random.Generator) -> None:
    train = _manifest(tmp_path, "train", rng, 20, 0.06)
    evals = {"eval": _manifest(tmp_path, "eval", rng, 20, 0.06)}
    audits = audit_manifests(evals, train, workers=1)
    audit = audits["eval"]
    assert audit.features["dc_over_rms"].pooled == 0.0 and audit.features["dc_over_rms"].direction == -1
    flagged = {(f.feature, f.subset) for f in flag_shortcuts(audit)}
    assert {("dc", "A02"), ("dc_over_rms", "A02"), ("dc_over_rms", "pooled")} <= flagged
    assert audit.mfcc_lr is not None  # c0 of the DC-shifted spectrum; any value is fine here
    table = feature_table(evals["eval"], workers=1, with_mfcc=False)
    assert list(table.columns) == ["utt_id", "label", "attack", *FEATURES]
    assert audit_manifests(evals, workers=1)["eval"].mfcc_lr is None
    with pytest.raises(ValueError, match="missing column"):
        feature_table(evals["eval"].drop(columns=["attack"]), workers=1)


# ----------------------------------------------------------------------------------------------
# The demo corpus at its default size and seed
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus exactly as ``corpus: demo`` generates it (seed 0, 300 + 300 per split).

    About 40-80 s on 2 cores, once per test session.
    """
    out = tmp_path_factory.mktemp("default_demo") / "demo"
    start = time.perf_counter()
    generate_demo(DemoConfig(), out, workers=2)
    print(f"\ndefault demo corpus generated in {time.perf_counter() - start:.1f} s")
    return out


def _demo_manifest(root: Path, split: str) -> pd.DataFrame:
    df = read_asvspoof2019_protocol(protocol_path(root, split), conditions=SPLITS[split].degraded)
    flac = root / "LA" / SPLITS[split].audio_dir / "flac"
    df["path"] = [str(flac / f"{u}.flac") for u in df["utt_id"]]
    return df


@pytest.fixture(scope="session")
def default_demo_audit(default_demo: Path) -> dict[str, ShortcutAudit]:
    start = time.perf_counter()
    audits = audit_manifests(
        {name: _demo_manifest(default_demo, name) for name in ("eval", "eval_degraded")},
        _demo_manifest(default_demo, "train"),
        workers=2,
    )
    print(f"\nshortcut audit of the default demo corpus in {time.perf_counter() - start:.1f} s")
    for audit in audits.values():
        print(format_audit(audit))
    return audits


@pytest.mark.slow  # the default demo corpus (generated once per session) and its audit: minutes
@pytest.mark.parametrize("eval_set", ["eval", "eval_degraded"])
def test_default_demo_has_no_single_feature_shortcut(
    default_demo_audit: dict[str, ShortcutAudit], eval_set: str
) -> None:
    audit = default_demo_audit[eval_set]
    assert (audit.n_bonafide, audit.n_spoof) == (300, 300)
    attacks = {"A01", "A02", "A03", "A04", "A05", "A06"}
    assert all(set(r.per_attack) == attacks for r in audit.features.values())
    flags = flag_shortcuts(audit, pooled_below=0.40, per_attack_below=0.25, mfcc_pooled_below=0.0)
    assert not flags, "\n".join(f.describe() for f in flags) + "\n" + format_audit(audit)


@pytest.mark.slow  # the default demo corpus, as above
def test_default_demo_resists_an_mfcc_linear_model(default_demo_audit: dict[str, ShortcutAudit]) -> None:
    mfcc = default_demo_audit["eval"].mfcc_lr
    assert mfcc is not None
    assert mfcc.pooled >= 0.30, format_audit(default_demo_audit["eval"])
