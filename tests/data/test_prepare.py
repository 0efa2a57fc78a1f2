"""prepare_corpus: full-decode checks (parallel, cached), bad audio, manifests, realmini end to end."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd.audio.io import write_audio
from sdd.data import audio_check
from sdd.data.corpora import MANIFEST_COLUMNS, corpus_splits, parse_corpus
from sdd.data.fetchers import fetch_corpus
from sdd.data.leakage import check_leakage
from sdd.data.prepare import BadAudioError, prepare_corpus


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "audio_check.sqlite"))


def _tiny_folder(root: Path, rates=(16000, 22050, 16000, 8000)) -> Path:
    """A folder corpus: one file per rate, alternating bona fide / spoof, splits train/dev."""
    rng = np.random.default_rng(0)
    rows = []
    for i, sr in enumerate(rates):
        rel = f"audio/u{i}.wav"
        write_audio(root / rel, (0.1 * rng.standard_normal(sr // 2)).astype(np.float32), sr)
        rows.append(
            f"u{i}\t{rel}\t{'bona-fide' if i % 2 == 0 else 'spoof'}\tspk{i}\t{'train' if i < 2 else 'dev'}"
        )
    (root / "protocol.tsv").write_text("utt_id\tpath\tlabel\tspeaker\tsplit\n" + "\n".join(rows) + "\n")
    return root


def _cfg(root: Path, **extra):
    return parse_corpus("tiny", {"type": "folder", "path": str(root), **extra})


def test_manifest_columns_values_and_files(tmp_path):
    root = _tiny_folder(tmp_path / "c")
    out = prepare_corpus(_cfg(root), tmp_path, tmp_path / "m", workers=1)
    assert list(out) == ["train", "dev"]
    train = out["train"]
    assert list(train.columns) == [*MANIFEST_COLUMNS, "channels", "checksum"]
    want = [audio_check.file_checksum(root / "audio" / f"u{i}.wav") for i in (0, 1)]
    assert list(train["checksum"]) == want
    assert list(train["label"]) == ["bonafide", "spoof"] and list(train["attack"]) == ["-", "unknown"]
    assert list(train["sample_rate"]) == [16000, 22050]
    np.testing.assert_allclose(train["duration_s"], [0.5, 11025 / 22050])
    on_disk = pd.read_csv(tmp_path / "m" / "train.csv", keep_default_na=False)
    assert on_disk["utt_id"].tolist() == ["u0", "u1"] and on_disk["attack"].tolist() == ["-", "unknown"]
    assert pd.read_csv(tmp_path / "m" / "skipped.csv").empty
    assert not [p for p in (tmp_path / "m").iterdir() if p.name.startswith(".")]  # atomic writes left no temp


def test_new_audio_under_the_same_ids_changes_the_manifest(tmp_path):
    """DVC tracks manifests, not the raw audio: rewritten audio with the same ids, durations and
    sample rates must still change the manifest, or every downstream stage stays cached."""
    root = _tiny_folder(tmp_path / "c")
    before = prepare_corpus(_cfg(root), tmp_path, tmp_path / "m1", workers=1)["train"]
    wave = (0.2 * np.random.default_rng(9).standard_normal(8000)).astype(np.float32)
    write_audio(root / "audio/u0.wav", wave, 16000)  # same id, length and rate; new samples
    after = prepare_corpus(_cfg(root), tmp_path, tmp_path / "m2", workers=1)["train"]
    assert before["duration_s"].tolist() == after["duration_s"].tolist()
    assert (tmp_path / "m1/train.csv").read_bytes() != (tmp_path / "m2/train.csv").read_bytes()


def test_paths_relative_to_repo_root_when_under_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))
    root = _tiny_folder(tmp_path / "data" / "c")
    out = prepare_corpus(
        parse_corpus("t", {"type": "folder", "path": "data/c"}), tmp_path, tmp_path / "m", workers=1
    )
    assert out["train"]["path"].tolist() == ["data/c/audio/u0.wav", "data/c/audio/u1.wav"]
    assert (root / "audio/u0.wav").is_file()


def test_off_rate_files_are_counted_in_the_log_and_report(tmp_path, caplog):
    root = _tiny_folder(tmp_path / "c")
    with caplog.at_level("INFO", logger="sdd.data.prepare"):
        prepare_corpus(_cfg(root), tmp_path, tmp_path / "m", workers=1)
    assert "2 of 4 files are not at 16000 Hz" in caplog.text
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["not_16k"]["by_rate"] == {"8000": 1, "22050": 1}


def test_each_file_is_decoded_once_then_cached(tmp_path, monkeypatch):
    root = _tiny_folder(tmp_path / "c")
    decoded = []
    real = audio_check._check_chunk
    monkeypatch.setattr(audio_check, "_check_chunk", lambda paths: decoded.extend(paths) or real(paths))
    prepare_corpus(_cfg(root), tmp_path, tmp_path / "m1", workers=1)
    assert len(decoded) == 4
    prepare_corpus(_cfg(root), tmp_path, tmp_path / "m2", workers=1)
    assert len(decoded) == 4  # all cached
    touched = root / "audio" / "u1.wav"
    os.utime(touched, ns=(1, 1))  # a new mtime invalidates that file's entry only
    prepare_corpus(_cfg(root), tmp_path, tmp_path / "m3", workers=1)
    assert decoded[4:] == [str(touched)]


def test_parallel_workers_give_the_same_manifests(tmp_path, monkeypatch):
    monkeypatch.setattr(audio_check, "_CHUNK", 1)  # several tasks, so the process pool is really used
    root = _tiny_folder(tmp_path / "c")
    serial = prepare_corpus(_cfg(root), tmp_path, tmp_path / "a", workers=1)
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "other.sqlite"))
    parallel = prepare_corpus(_cfg(root), tmp_path, tmp_path / "b", workers=2)
    for split in serial:
        pd.testing.assert_frame_equal(serial[split], parallel[split])


def _with_bad_file(tmp_path: Path, shared_dir: Path) -> Path:
    root = _tiny_folder(tmp_path / "c")
    shutil.copy(
        shared_dir / "data/bad_audio/truncated_lost_sync.flac", root / "audio" / "truncated_lost_sync.flac"
    )
    with open(root / "protocol.tsv", "a") as f:
        f.write("bad\taudio/truncated_lost_sync.flac\tspoof\tspk9\tdev\n")
    return root


def test_damaged_flac_is_an_error_naming_the_file(tmp_path, shared_dir):
    root = _with_bad_file(tmp_path, shared_dir)
    with pytest.raises(BadAudioError) as err:
        prepare_corpus(_cfg(root), tmp_path, tmp_path / "m", workers=1)
    msg = str(err.value)
    assert "truncated_lost_sync.flac" in msg and "lost sync" in msg and "1 of 5" in msg
    assert not (tmp_path / "m").exists()  # nothing written on error


def test_damaged_flac_is_skipped_and_listed(tmp_path, shared_dir):
    root = _with_bad_file(tmp_path, shared_dir)
    out = prepare_corpus(_cfg(root), tmp_path, tmp_path / "m", on_bad_audio="skip", workers=1)
    assert "bad" not in set(out["dev"]["utt_id"]) and len(out["dev"]) == 2
    skipped = pd.read_csv(tmp_path / "m" / "skipped.csv")
    assert skipped["utt_id"].tolist() == ["bad"]
    assert skipped["path"][0].endswith("truncated_lost_sync.flac") and "lost sync" in skipped["reason"][0]
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["skipped"]["n"] == 1 and report["skipped"]["files"][0]["utt_id"] == "bad"


def test_missing_file_and_bad_policy(tmp_path):
    root = _tiny_folder(tmp_path / "c")
    (root / "audio" / "u3.wav").unlink()
    with pytest.raises(BadAudioError, match="u3.wav: file not found"):
        prepare_corpus(_cfg(root), tmp_path, tmp_path / "m", workers=1)
    with pytest.raises(ValueError, match="on_bad_audio: got 'ignore'"):
        prepare_corpus(_cfg(root), tmp_path, tmp_path / "m", on_bad_audio="ignore")


def test_realmini_folder_corpus_end_to_end(shared_dir, tmp_path):
    """../shared/data/realmini as a folder corpus with its split column; mixed 16/22.05 kHz."""
    cfg = parse_corpus(
        "realmini", {"type": "folder", "path": str(shared_dir / "data/realmini"), "protocol": "protocol.tsv"}
    )
    assert corpus_splits(cfg) == ("train", "dev", "eval")
    summary = fetch_corpus(cfg, tmp_path / "unused")
    assert summary["files"] == 226 and summary["splits"] == {"train": 116, "dev": 55, "eval": 55}
    out = prepare_corpus(cfg, tmp_path / "unused", tmp_path / "m", workers=2)
    assert {s: len(df) for s, df in out.items()} == {"train": 116, "dev": 55, "eval": 55}
    allrows = pd.concat(out.values())
    assert set(allrows["sample_rate"]) == {16000, 22050}
    assert set(allrows["label"]) == {"bonafide", "spoof"}
    assert (allrows.loc[allrows["label"] == "bonafide", "attack"] == "-").all()
    assert (allrows.loc[allrows["label"] == "spoof", "attack"] != "-").all()
    assert (allrows["duration_s"] > 0).all() and all(Path(p).is_file() for p in allrows["path"])
    check_leakage({"train": out["train"], "dev": out["dev"]}, {"realmini:eval": out["eval"]})
