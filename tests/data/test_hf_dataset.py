"""Corpus type ``hf_dataset``: small datasets written here with ``datasets`` (save_to_disk, parquet),
fetched (audio bytes out, labels mapped), prepared into manifests, audited and evaluated; offline."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

datasets = pytest.importorskip("datasets")
from datasets import Audio, Dataset, DatasetDict, Features, Value  # noqa: E402

from sdd.core.configbase import ConfigError  # noqa: E402
from sdd.data.corpora import CorpusError, corpus_splits, parse_corpus  # noqa: E402
from sdd.data.fetch import cli_main as fetch_cli  # noqa: E402
from sdd.data.fetchers import fetch_corpus  # noqa: E402
from sdd.data.leakage import LeakageError, check_leakage  # noqa: E402
from sdd.data.prepare import BadAudioError, prepare_corpus  # noqa: E402
from tests.helpers import REPO  # noqa: E402
from tests.helpers.hf_datasets import audio_split  # noqa: E402

LABELS = {"bonafide": ["bonafide"], "spoof": ["spoof"]}


@pytest.fixture(autouse=True)
def _offline_and_isolated(tmp_path, monkeypatch):
    """No network (the hub is off, as with HF_HUB_OFFLINE=1), the datasets and decode caches in tmp."""
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "audio_check.sqlite"))
    datasets.disable_progress_bars()


_split = audio_split


def _cfg(name: str = "hf", **entry):
    return parse_corpus(name, {"type": "hf_dataset", "labels": LABELS, **entry})


def _saved(tmp_path: Path, splits=("train", "validation", "test"), n: int = 6, **kw) -> Path:
    root = tmp_path / "saved"
    DatasetDict({s: _split(s, n, seed=i, speakers=f"{s}-", **kw) for i, s in enumerate(splits)}).save_to_disk(
        str(root)
    )
    return root


@pytest.mark.parametrize(
    "entry, needle",
    [
        ({"splits": {"test": "eval"}}, "dataset/path: got dataset=None, path=None; expected exactly one"),
        ({"dataset": "a/b", "path": "x", "splits": {"test": "eval"}}, "expected exactly one"),
        ({"path": "x", "revision": "main", "splits": {"test": "eval"}}, "revision: got 'main' with a local"),
        ({"dataset": "a/b", "splits": {}}, "splits: got an empty mapping"),
        ({"dataset": "a/b", "splits": {"test": "my eval"}}, "splits.test: got 'my eval'"),
        ({"dataset": "a/b", "splits": {"test": "eval"}, "labels": {"bonafide": [0], "spoof": [0]}},
         "labels: value(s) ['0'] listed as both bonafide and spoof"),
        ({"dataset": "a/b", "splits": {"test": "eval"}, "labels": {}}, "labels: got no values"),
        ({"dataset": "a/b", "splits": {"test": "eval"}, "labels": {"fake": [1]}}, "unknown key(s) ['fake']"),
        ({"dataset": "a/b", "splits": {"test": "eval"}, "source_dir": "/x"}, "unknown key(s) ['source_dir']"),
        ({"dataset": "a/b", "splits": {"test": "eval"}, "speaker_column": "label"},
         "columns: ['label'] named for more than one role"),
    ],
)  # fmt: skip
def test_bad_config_is_one_line_naming_the_key(entry, needle):
    data = {"type": "hf_dataset", "labels": LABELS, **entry}
    with pytest.raises(ConfigError) as err:
        parse_corpus("hf", data)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("corpora.hf")


def test_splits_are_the_declared_mapping_without_io():
    """(That validating it imports no `datasets` is tests/config/test_plan_imports.py's.)"""
    cfg = _cfg(dataset="o/n", splits={"train": "train", "validation": "dev", "test": "eval", "extra": "eval"})
    assert corpus_splits(cfg) == ("train", "dev", "eval")


def test_save_to_disk_fetch_writes_the_exact_bytes_then_prepare_decodes_them(tmp_path):
    root = _saved(tmp_path)
    cfg = _cfg(path=str(root), splits={"train": "train", "validation": "dev", "test": "eval"},
               speaker_column="speaker")  # fmt: skip
    dest = tmp_path / "raw" / "hf"
    summary = fetch_corpus(cfg, dest)
    assert summary["files"] == 18 and summary["splits"] == {"train": 6, "dev": 6, "eval": 6}
    assert summary["formats"] == {"wav": 18}
    assert summary["dataset_splits_read"] == ["train", "validation", "test"]
    proto = pd.read_csv(dest / "protocol.tsv", sep="\t", dtype=str)
    source = datasets.load_from_disk(str(root))
    for split, sdd_split in (("train", "train"), ("validation", "dev"), ("test", "eval")):
        rows = proto[proto["split"] == sdd_split].reset_index(drop=True)
        raw = source[split].cast_column("audio", Audio(decode=False))
        for i, r in rows.iterrows():
            assert (dest / r["path"]).read_bytes() == raw[i]["audio"]["bytes"]  # unchanged bytes
            assert r["label"] == ("bonafide" if raw[i]["label"] == 0 else "spoof")  # ClassLabel by name
            assert r["speaker"] == raw[i]["speaker"] and r["utt_id"] == f"saved_{split}_{i:07d}"
            assert r["attack"] == ("-" if r["label"] == "bonafide" else "unknown")
    manifests = prepare_corpus(cfg, dest, tmp_path / "m", workers=1)
    assert set(manifests) == {"train", "dev", "eval"}
    ev = manifests["eval"]
    assert len(ev) == 6 and set(ev["sample_rate"]) == {16000} and (ev["channels"] == 1).all()
    decoded = [sf.info(io.BytesIO(b["bytes"])).duration for b in raw_audio(source["test"])]
    np.testing.assert_allclose(ev["duration_s"], decoded, atol=1e-6)
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["corpus_type"] == "hf_dataset" and report["splits"]["eval"]["bonafide"] == 3
    # the leakage guard runs on these manifests as on any corpus: split-own speakers pass, shared fail
    check_leakage({s: manifests[s] for s in ("train", "dev")}, {"hf:eval": ev})
    with pytest.raises(LeakageError, match="hf:eval: 3 speakers also in train"):
        check_leakage({"train": ev.assign(utt_id="x" + ev["utt_id"])}, {"hf:eval": ev})


def raw_audio(ds: Dataset) -> list[dict]:
    return ds.cast_column("audio", Audio(decode=False))["audio"]


def test_parquet_folder_with_text_labels_flac_and_columns_by_name(tmp_path, capsys):
    folder = tmp_path / "pq" / "data"
    folder.mkdir(parents=True)
    extra = {"system": ["-", "A07", "-", "A08"], "utt": ["u0", "u1", "u2", "u3"], "codec": list("abab")}
    ds = _split("test", 4, seed=3, fmt="FLAC", classlabel=False, extra=extra)
    ds.to_parquet(str(folder / "test-00000-of-00001.parquet"))
    params = tmp_path / "params.yaml"
    entry = {"type": "hf_dataset", "path": str(tmp_path / "pq"), "labels": {"bonafide": [0], "spoof": [1]},
             "splits": {"test": "eval"}, "attack_column": "system", "utt_id_column": "utt",
             "condition_column": "codec"}  # fmt: skip
    params.write_text(yaml.safe_dump({"corpora": {"arena": entry}}))
    dest = tmp_path / "raw"
    assert fetch_cli(["arena", "--params", str(params), "--dest", str(dest)]) == 0  # `sdd fetch <name>`
    summary = json.loads(capsys.readouterr().out)
    assert summary["formats"] == {"flac": 4} and summary["splits"] == {"eval": 4}
    m = prepare_corpus(parse_corpus("arena", entry), dest, tmp_path / "m", workers=1)["eval"]
    assert list(m["utt_id"]) == ["u0", "u1", "u2", "u3"] and list(m["attack"]) == ["-", "A07", "-", "A08"]
    assert list(m["label"]) == ["bonafide", "spoof"] * 2 and list(m["condition"]) == list("abab")


def test_unmapped_label_stops_before_any_audio_is_written(tmp_path):
    root = _saved(tmp_path, splits=("test",))
    cfg = _cfg(path=str(root), splits={"test": "eval"}, labels={"bonafide": ["bonafide"]})
    dest = tmp_path / "raw"
    with pytest.raises(CorpusError) as err:
        fetch_corpus(cfg, dest)
    msg = str(err.value)
    assert "\n" not in msg and "label '1' (class name 'spoof') of column 'label'" in msg and "row 1" in msg
    assert "{bonafide: ['bonafide'], spoof: []}" in msg
    assert not dest.exists() and not list(tmp_path.glob(".raw.tmp-*"))


def test_a_missing_classlabel_value_is_named_as_such(tmp_path):
    ds = _split("test", 2, seed=5)
    rows = ds.cast_column("audio", Audio(decode=False)).to_dict()
    rows["label"][1] = -1  # ClassLabel's "no label"
    feats = Features({**ds.features, "audio": {"bytes": Value("binary"), "path": Value("string")}})
    DatasetDict({"test": Dataset.from_dict(rows, features=feats)}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(CorpusError, match=r"row 1: label '-1' of column 'label' is not in labels"):
        fetch_corpus(_cfg(path=str(tmp_path / "d"), splits={"test": "eval"}), tmp_path / "raw")


def test_classlabel_maps_by_index_or_name_but_not_both_ways(tmp_path):
    root = _saved(tmp_path, splits=("test",))
    by_index = _cfg(path=str(root), splits={"test": "eval"}, labels={"bonafide": [0], "spoof": [1]})
    assert fetch_corpus(by_index, tmp_path / "a")["files"] == 6
    both = {"bonafide": [1], "spoof": ["spoof"]}
    contradictory = _cfg(path=str(root), splits={"test": "eval"}, labels=both)
    with pytest.raises(CorpusError, match="class 1 \\('spoof'\\) .* bonafide by its index and to spoof"):
        fetch_corpus(contradictory, tmp_path / "b")


def test_split_column_values_are_mapped_and_an_unmapped_one_is_an_error(tmp_path):
    ds = _split("all", 6, seed=1, extra={"part": ["tr", "tr", "dv", "dv", "ev", "ev"]})
    ds.save_to_disk(str(tmp_path / "single"))  # one Dataset, no split name: read as `train`
    good = _cfg(path=str(tmp_path / "single"), split_column="part",
                splits={"tr": "train", "dv": "dev", "ev": "eval"})  # fmt: skip
    fetch_corpus(good, tmp_path / "raw")
    proto = pd.read_csv(tmp_path / "raw" / "protocol.tsv", sep="\t")
    assert list(proto["split"]) == ["train", "train", "dev", "dev", "eval", "eval"]
    assert proto["utt_id"].str.startswith("single_train_").all()
    bad = _cfg(path=str(tmp_path / "single"), split_column="part", splits={"tr": "train", "dv": "dev"})
    with pytest.raises(CorpusError, match="row 4: split_column 'part' value 'ev' is not in splits"):
        fetch_corpus(bad, tmp_path / "raw2")


@pytest.mark.parametrize(
    "entry, needle",
    [
        ({"splits": {"dev": "dev"}}, "split(s) ['dev'] named in `splits` not in the dataset; it has"),
        ({"splits": {"test": "eval"}, "speaker_column": "spk"}, "speaker_column 'spk' is not a column"),
        ({"splits": {"test": "eval"}, "audio_column": "wav"}, "audio_column 'wav' is not a column"),
        ({"splits": {"test": "eval"}, "audio_column": "speaker", "speaker_column": None},
         "audio_column 'speaker' of split 'test' is Value('string'); expected an Audio column"),
        ({"splits": {"test": "eval"}, "utt_id_column": "label"}, "columns: ['label'] named for more"),
    ],
)  # fmt: skip
def test_layout_errors_name_split_column_and_what_exists(tmp_path, entry, needle):
    root = _saved(tmp_path, splits=("test",))
    with pytest.raises((CorpusError, ConfigError)) as err:
        fetch_corpus(_cfg(path=str(root), **entry), tmp_path / "raw")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_rerun_is_a_noop_and_a_new_mapping_rewrites(tmp_path):
    root = _saved(tmp_path, splits=("test",))
    dest = tmp_path / "raw"
    cfg = _cfg(path=str(root), splits={"test": "eval"})
    first = fetch_corpus(cfg, dest)
    stamp = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}
    assert fetch_corpus(cfg, dest) == first
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()} == stamp
    swap = {"bonafide": ["spoof"], "spoof": ["bonafide"]}
    swapped = _cfg(path=str(root), splits={"test": "eval"}, labels=swap)
    fetch_corpus(swapped, dest)
    proto = pd.read_csv(dest / "protocol.tsv", sep="\t")
    assert list(proto["label"]) == ["spoof", "bonafide"] * 3
    other = tmp_path / "theirs"
    (other / "x").mkdir(parents=True)
    with pytest.raises(CorpusError, match="refusing to overwrite data sdd did not write"):
        fetch_corpus(cfg, other)


def test_hub_id_offline_and_not_cached_is_one_line_naming_it(tmp_path):
    cfg = _cfg(dataset="nobody/not-a-cached-dataset", revision="abc123", splits={"test": "eval"})
    with pytest.raises(CorpusError) as err:
        fetch_corpus(cfg, tmp_path / "raw")
    msg = str(err.value)
    where = "hf_dataset nobody/not-a-cached-dataset@abc123"
    assert msg.startswith(f"{where}: cannot load the dataset (HF_HUB_OFFLINE")
    assert "\n" not in msg and not (tmp_path / "raw").exists()


def test_bytes_soundfile_cannot_decode_reach_prepare_bad_audio_policy(tmp_path):
    ds = _split("test", 4, seed=2)
    rows = ds.cast_column("audio", Audio(decode=False)).to_dict()
    rows["audio"][1] = {"bytes": b"RIFF not really audio", "path": "broken.wav"}
    feats = Features({**ds.features, "audio": {"bytes": Value("binary"), "path": Value("string")}})
    broken = Dataset.from_dict(rows, features=feats).cast_column("audio", Audio())
    DatasetDict({"test": broken}).save_to_disk(str(tmp_path / "broken"))
    cfg = _cfg(path=str(tmp_path / "broken"), splits={"test": "eval"})
    summary = fetch_corpus(cfg, tmp_path / "raw")
    assert summary["formats"] == {"wav": 4}  # the stored name's extension, soundfile could not tell
    with pytest.raises(BadAudioError, match="1 of 4 audio files failed the decode check"):
        prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", workers=1)
    kept = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", on_bad_audio="skip", workers=1)["eval"]
    assert len(kept) == 3 and "broken_test_0000001" not in set(kept["utt_id"])
    assert pd.read_csv(tmp_path / "m" / "skipped.csv")["utt_id"].tolist() == ["broken_test_0000001"]


@pytest.mark.slow  # four stage processes (plan, fetch, prepare, audit): about 20 s on 2 cores
def test_stages_plan_fetch_prepare_audit_then_evaluate_on_a_dataset(tmp_path):
    """The real plan, fetch, prepare and audit stages on an hf_dataset training + eval corpus, then the
    evaluate stage's metrics on synthetic scores of its eval manifest."""
    from sdd.core.plandocs import EvaluatePlan
    from sdd.core.stage import read_plan
    from sdd.evaluation.eval_sets import evaluate_eval_sets, fit_dev_calibration

    data = _saved(tmp_path, n=12)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    entry = {"type": "hf_dataset", "path": str(data), "labels": {"bonafide": ["bonafide"], "spoof": [1]},
             "splits": {"train": "train", "validation": "dev", "test": "eval"},
             "speaker_column": "speaker"}  # fmt: skip
    params["corpora"] = {"hfmini": entry}
    params.update(corpus="hfmini", eval_sets=["hfmini:eval"])
    params["audit"]["workers"] = 1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "SDD_ROOT": str(tmp_path), "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf_cache"),
           "SDD_AUDIO_CACHE": str(tmp_path / "ac.sqlite")}  # fmt: skip
    env.pop("DVC_ROOT", None)
    commands = [
        ["plan.py", "--params", "params.yaml", "--out", "data/plan"],
        ["fetch.py", "--plan", "data/plan/fetch.json", "--raw-root", "data/raw", "--out", "data/fetch.json"],
        ["prepare.py", "--plan", "data/plan/prepare.json", "--fetched", "data/fetch.json",
         "--raw-root", "data/raw", "--out", "data/manifests"],
        ["audit.py", "--plan", "data/plan/audit.json", "--manifests", "data/manifests",
         "--out", "reports/audit.json"],
    ]  # fmt: skip
    for script, *args in commands:
        proc = subprocess.run([sys.executable, str(REPO / "stages" / script), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, f"{script}:\n{proc.stderr[-3000:]}"
    fetched = json.loads((tmp_path / "data/fetch.json").read_text())["hfmini"]
    assert fetched["corpus_type"] == "hf_dataset" and fetched["files"] == 36
    manifests = tmp_path / "data/manifests/hfmini"
    for split in ("train", "dev", "eval"):
        m = pd.read_csv(manifests / f"{split}.csv", dtype=str)
        assert len(m) == 12 and set(m["label"]) == {"bonafide", "spoof"}
        assert all((tmp_path / p).is_file() for p in m["path"]), "paths relative to the repo root"
    audit = json.loads((tmp_path / "reports/audit.json").read_text())
    assert set(audit) == {"hfmini:eval"} and "leading_silence_s" in audit["hfmini:eval"]["features"]
    # the evaluate stage's metrics, on scores that rank most bona fide trials above most spoofs
    scores = tmp_path / "data/scores/main/s0"
    scores.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, split in (("dev.txt", "dev"), ("hfmini__eval.txt", "eval")):
        m = pd.read_csv(manifests / f"{split}.csv", dtype=str)
        s = np.where(m["label"] == "bonafide", 1.0, -1.0) + rng.normal(0, 0.8, len(m))
        (scores / name).write_text("".join(f"{u} {v:.6f}\n" for u, v in zip(m["utt_id"], s, strict=True)))
    plan = read_plan(tmp_path / "data/plan/evaluate.json", EvaluatePlan)
    calibration = fit_dev_calibration(scores / "dev.txt", manifests / "dev.csv")
    metrics = evaluate_eval_sets(plan.eval_sets, scores, tmp_path / "data/manifests", calibration=calibration,
                                 ci=True, n_resamples=50, seed=0)["hfmini:eval"]  # fmt: skip
    assert metrics["n_bonafide"] == 6 and metrics["n_spoof"] == 6 and 0.0 <= metrics["eer"] < 0.5
