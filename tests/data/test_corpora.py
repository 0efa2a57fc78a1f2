"""Corpus configs, splits, protocol parsers (against the real ASVspoof protocols), demo wiring, leakage."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd.audio.io import write_audio
from sdd.core.configbase import ConfigError
from sdd.data import corpora
from sdd.data.corpora import (
    CORPUS_TYPES,
    CorpusError,
    corpus_splits,
    normalise_label,
    parse_corpus,
)
from sdd.data.corpora.asvspoof2021 import read_asvspoof2021_metadata, read_trial_list
from sdd.data.corpora.demo import DEMO_PROTOCOLS
from sdd.data.corpora.la_layout import read_asvspoof2019_protocol
from sdd.data.fetchers import fetch_corpus
from sdd.data.leakage import LeakageError, check_leakage
from sdd.data.prepare import prepare_corpus
from tests.helpers.import_graph import closure, import_graph, module_files

PARAMS_CORPORA = {
    "demo": {"type": "demo", "seed": 0, "n_per_split": 300},
    "realmini": {"type": "folder", "path": "../shared/data/realmini", "protocol": "protocol.tsv"},
    "la19": {"type": "asvspoof2019_la"},
    "la21": {"type": "asvspoof2021_la"},
    "df21": {"type": "asvspoof2021_df"},
    "itw": {"type": "in_the_wild"},
}


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "audio_check.sqlite"))


# -------------------------------------------------------------------------------------------------
# parse_corpus / corpus_splits
# -------------------------------------------------------------------------------------------------


def test_registry_has_every_type():
    assert set(CORPUS_TYPES) == {
        "demo",
        "asvspoof2019_la",
        "asvspoof2021_la",
        "asvspoof5",
        "asvspoof2021_df",
        "in_the_wild",
        "folder",
        "hf_dataset",
    }


def test_every_corpus_type_has_a_fetch_step():
    """The recipes (plan-time) and their fetch steps (fetch-time) are two registries with the same keys."""
    from sdd.data.fetchers import FETCHERS

    assert set(FETCHERS) == set(CORPUS_TYPES)


@pytest.mark.parametrize(
    ("name", "splits"),
    [
        ("demo", ("train", "dev", "eval", "eval_degraded")),
        ("la19", ("train", "dev", "eval")),
        ("la21", ("eval",)),
        ("df21", ("eval",)),
        ("itw", ("eval",)),
    ],
)
def test_params_example_parses_and_lists_splits(name, splits):
    cfg = parse_corpus(name, PARAMS_CORPORA[name])
    assert cfg.type == PARAMS_CORPORA[name]["type"]
    assert corpus_splits(cfg) == splits


def test_2021_subset_selects_the_split_and_defaults_carry_official_key_md5():
    cfg = parse_corpus("la21", {"type": "asvspoof2021_la", "subset": "progress"})
    assert corpus_splits(cfg) == ("progress",)
    assert cfg.keys_md5 == "f052cc2ed276745afa3b5198665d3b26"
    df = parse_corpus("df21", {"type": "asvspoof2021_df"})
    assert len(df.urls) == 4 and df.keys_md5 == "dabbc5628de4fcef53036c99ac7ab93a"
    assert parse_corpus("la19", {"type": "asvspoof2019_la"}).md5 == "30c98f11d8b2bc21f2c257bfd78bb5c5"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"type": "nope"}, "corpora.x.type: got 'nope'"),
        ({}, "corpora.x.type: got None"),
        ({"type": ["demo"]}, "corpora.x.type: got ['demo']"),
        ({"type": "asvspoof2019_la", "colour": 1}, "unknown key(s) ['colour']"),
        ({"type": "asvspoof2019_la", "md5": "XYZ"}, "md5: got 'XYZ'"),
        ({"type": "asvspoof2021_la", "subset": "all"}, "corpora.x.subset: got 'all'"),
        ({"type": "asvspoof2021_df", "md5s": ["0" * 32]}, "one per url"),
        ({"type": "demo", "n_per_split": "many"}, "corpora.x.n_per_split: got 'many'"),
        ({"type": "folder"}, "corpora.x.path: missing"),
        ({"type": "folder", "path": "p", "split": "eval", "split_column": "s"}, "expected only one"),
    ],
)
def test_bad_configs_name_key_value_and_expectation(data, fragment):
    with pytest.raises(ConfigError) as err:
        parse_corpus("x", data)
    assert fragment in str(err.value)
    assert "corpora.x" in str(err.value)


def test_configs_are_frozen():
    cfg = parse_corpus("la19", {"type": "asvspoof2019_la"})
    with pytest.raises(AttributeError):
        cfg.url = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "label"),
    [("bonafide", "bonafide"), ("bona-fide", "bonafide"), ("Bona fide", "bonafide"),
     ("BONA_FIDE", "bonafide"), ("spoof", "spoof"), ("fake", "spoof"), (" Spoof ", "spoof")],
)  # fmt: skip
def test_label_spellings_normalised(raw, label):
    assert normalise_label(raw, "here") == label


def test_unknown_label_is_an_error_naming_where():
    with pytest.raises(CorpusError, match="f.csv:3: label 'maybe'"):
        normalise_label("maybe", "f.csv:3")


# -------------------------------------------------------------------------------------------------
# Real protocols (../shared)
# -------------------------------------------------------------------------------------------------

LA19_COUNTS = {
    # split: (total, bona fide, spoof, attacks, per attack, speakers)
    "train": ("train.trn", 25_380, 2_580, 22_800, [f"A{i:02d}" for i in range(1, 7)], 3_800, 20),
    "dev": ("dev.trl", 24_844, 2_548, 22_296, [f"A{i:02d}" for i in range(1, 7)], 3_716, 20),
    "eval": ("eval.trl", 71_237, 7_355, 63_882, [f"A{i:02d}" for i in range(7, 20)], 4_914, 67),
}


@pytest.mark.parametrize("split", list(LA19_COUNTS))
def test_real_2019_la_protocols_match_data_md(shared_dir, split):
    suffix, total, bona, spoof, attacks, per_attack, speakers = LA19_COUNTS[split]
    path = (
        shared_dir / "data/asvspoof2019_la/ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{suffix}.txt"
    )
    df = read_asvspoof2019_protocol(path)
    assert len(df) == total
    assert (df["label"] == "bonafide").sum() == bona and (df["label"] == "spoof").sum() == spoof
    counts = Counter(df.loc[df["label"] == "spoof", "attack"])
    assert counts == {a: per_attack for a in attacks}
    assert set(df.loc[df["label"] == "bonafide", "attack"]) == {"-"}
    assert df["speaker"].nunique() == speakers
    assert df["utt_id"].is_unique


def test_real_2021_la_trial_list_has_181566_ids(shared_dir):
    ids = read_trial_list(shared_dir / "data/asvspoof2021_la/ASVspoof2021.LA.cm.eval.trl.txt")
    assert len(ids) == 181_566 and len(set(ids)) == 181_566
    assert all(i.startswith("LA_E_") for i in ids[:100])


def test_four_column_modified_protocol_is_rejected(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text("LA_0079 LA_T_1138215 - bonafide\n")
    with pytest.raises(CorpusError, match=r"p.txt:1: got 4 columns.*expected 5"):
        read_asvspoof2019_protocol(p)


def test_2021_metadata_column_counts_enforced(tmp_path):
    p = tmp_path / "trial_metadata.txt"
    p.write_text("LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\nLA_0009 LA_E_1 alaw\n")
    with pytest.raises(CorpusError, match="trial_metadata.txt:2: got 3 columns"):
        read_asvspoof2021_metadata(p, "LA")


# -------------------------------------------------------------------------------------------------
# folder corpora (protocol handling; audio checks are in test_prepare.py)
# -------------------------------------------------------------------------------------------------


def _folder(tmp_path: Path, header: str, rows: list[str], name: str = "protocol.csv") -> Path:
    root = tmp_path / "corpus"
    root.mkdir(exist_ok=True)
    (root / name).write_text("\n".join([header, *rows]) + "\n")
    return root


def test_folder_splits_read_cheaply_from_the_protocol(tmp_path):
    root = _folder(
        tmp_path, "file,label,split", ["a.wav,bonafide,train", "b.wav,spoof,dev", "c.wav,fake,test"]
    )
    cfg = parse_corpus("f", {"type": "folder", "path": str(root), "protocol": "protocol.csv"})
    assert corpus_splits(cfg) == ("train", "dev", "test")
    declared = parse_corpus("f", {"type": "folder", "path": "/nonexistent", "splits": ["train", "dev"]})
    assert corpus_splits(declared) == ("train", "dev")  # declared: no I/O at all


def test_folder_without_split_column_needs_split_option(tmp_path):
    root = _folder(tmp_path, "path,label", ["a.wav,bona-fide", "b.wav,spoof"])
    cfg = parse_corpus("f", {"type": "folder", "path": str(root), "protocol": "protocol.csv"})
    with pytest.raises(CorpusError, match="no split column"):
        corpus_splits(cfg)
    one = parse_corpus(
        "f", {"type": "folder", "path": str(root), "protocol": "protocol.csv", "split": "eval"}
    )
    assert corpus_splits(one) == ("eval",)
    df = corpora.read_protocol(one, tmp_path)
    assert list(df["label"]) == ["bonafide", "spoof"]
    assert list(df["attack"]) == ["-", "unknown"]
    assert list(df["utt_id"]) == ["a", "b"] and set(df["speaker"]) == {"-"}
    assert df["path"][0] == str(root / "a.wav")


def test_folder_custom_columns_and_missing_column_error(tmp_path):
    root = _folder(
        tmp_path, "id\twav\tkey\tsys\tspk\tset", ["u1\tx/1.flac\tgenuine\t-\ts1\teval"], "meta.tsv"
    )
    base = {"type": "folder", "path": str(root), "protocol": "meta.tsv", "path_column": "wav",
            "label_column": "key", "utt_id_column": "id", "speaker_column": "spk", "attack_column": "sys",
            "split_column": "set"}  # fmt: skip
    df = corpora.read_protocol(parse_corpus("f", base), tmp_path)
    assert df.iloc[0].to_dict() == {
        "utt_id": "u1", "path": str(root / "x/1.flac"), "speaker": "s1", "label": "bonafide", "attack": "-",
        "condition": "-", "split": "eval",
    }  # fmt: skip
    with pytest.raises(CorpusError, match="speaker_column 'nope' is not a column"):
        corpora.read_protocol(parse_corpus("f", {**base, "speaker_column": "nope"}), tmp_path)


def test_folder_duplicate_ids_rejected(tmp_path):
    root = _folder(tmp_path, "utt_id,path,label,split", ["u,a.wav,spoof,eval", "u,b.wav,spoof,eval"])
    cfg = parse_corpus("f", {"type": "folder", "path": str(root), "protocol": "protocol.csv"})
    with pytest.raises(CorpusError, match="duplicate utterance id"):
        corpora.read_protocol(cfg, tmp_path)


# -------------------------------------------------------------------------------------------------
# demo wiring (the generator is replaced by a tiny writer of the same layout)
# -------------------------------------------------------------------------------------------------


def _write_la_layout(root: Path, protocols: dict[str, str], n: int = 2, seed: int = 0) -> None:
    """A tiny ASVspoof 2019 LA layout: ``n`` bona fide + ``n`` spoof per split, 0.2 s FLAC at 16 kHz."""
    rng = np.random.default_rng(seed)
    proto_dir = root / "LA" / "ASVspoof2019_LA_cm_protocols"
    proto_dir.mkdir(parents=True, exist_ok=True)
    for s_index, (split, suffix) in enumerate(protocols.items()):
        lines = []
        for i in range(2 * n):
            utt = f"LA_{split[0].upper()}_{s_index}{i:06d}"
            spoof = i >= n
            key = "spoof" if spoof else "bonafide"
            lines.append(f"LA_{s_index:02d}{i % 2:02d} {utt} - {'A01' if spoof else '-'} {key}")
            wave = (0.1 * rng.standard_normal(3200)).astype(np.float32)
            write_audio(root / "LA" / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac", wave, 16000)
        (proto_dir / f"ASVspoof2019.LA.cm.{suffix}.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def fake_generator(monkeypatch):
    import sdd.data.demo as demo

    calls = []

    def generate_demo(cfg, out_dir, workers=2):
        calls.append(cfg)
        _write_la_layout(Path(out_dir), DEMO_PROTOCOLS, seed=cfg.seed)

    monkeypatch.setattr(demo, "generate_demo", generate_demo)
    return calls


def test_demo_fetch_generates_once_and_regenerates_on_config_change(tmp_path, fake_generator):
    cfg = parse_corpus("demo", {"type": "demo", "seed": 0, "n_per_split": 10})
    dest = tmp_path / "raw" / "demo"
    first = fetch_corpus(cfg, dest)
    assert first["files"] == 16 and first["source"] == "generated"
    assert json.loads(json.dumps(first)) == first  # JSON-able
    assert fetch_corpus(cfg, dest) == first and len(fake_generator) == 1  # complete + same config: no-op
    other = parse_corpus("demo", {"type": "demo", "seed": 1, "n_per_split": 10})
    second = fetch_corpus(other, dest)
    assert len(fake_generator) == 2 and second["config"]["seed"] == 1
    assert fake_generator[-1].seed == 1 and fake_generator[-1].n_per_split == 10
    assert not list(dest.parent.glob(".demo.*"))  # no temp or old dirs left behind


@pytest.mark.parametrize("which", [0, -1], ids=["generator", "shared_degradations"])
def test_demo_fetch_regenerates_when_the_generator_code_changes(tmp_path, fake_generator, monkeypatch, which):
    """A change to the generator or to the degradations it shares with sdd.augment regenerates."""
    import sdd.data.demo as demo

    # Every module the generator imports, its own and sdd.augment's (lazy imports included), is hashed.
    files = module_files()
    generator = [m for m in files if m == "sdd.data.demo" or m.startswith("sdd.data.demo.")]
    own = ("sdd.data.demo", "sdd.data.corpora.demo_layout", "sdd.data.corpora.demo_config", "sdd.augment")
    needed = {files[m] for m in closure(import_graph(), generator, files) if m.startswith(own)}
    assert needed == {Path(p) for p in demo.GENERATOR_SOURCES}
    assert Path(demo.GENERATOR_SOURCES[-1]).name == "functional.py"
    cfg = parse_corpus("demo", {"type": "demo", "n_per_split": 10})
    fetch_corpus(cfg, tmp_path / "demo")
    fetch_corpus(cfg, tmp_path / "demo")
    assert len(fake_generator) == 1  # unchanged sources: nothing to do
    sources = list(demo.GENERATOR_SOURCES)
    changed = tmp_path / "changed.py"
    changed.write_text(Path(sources[which]).read_text() + "\n# changed\n")
    sources[which] = str(changed)
    monkeypatch.setattr(demo, "GENERATOR_SOURCES", tuple(sources))
    fetch_corpus(cfg, tmp_path / "demo")
    assert len(fake_generator) == 2


def test_demo_fetch_regenerates_incomplete_data(tmp_path, fake_generator):
    cfg = parse_corpus("demo", {"type": "demo", "n_per_split": 10})
    dest = tmp_path / "demo"
    fetch_corpus(cfg, dest)
    next((dest / "LA" / "ASVspoof2019_LA_eval" / "flac").glob("*.flac")).unlink()
    fetch_corpus(cfg, dest)
    assert len(fake_generator) == 2


def test_demo_fetch_refuses_foreign_directory(tmp_path, fake_generator):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("precious")
    with pytest.raises(CorpusError, match="refusing to overwrite"):
        fetch_corpus(parse_corpus("demo", {"type": "demo", "n_per_split": 10}), dest)
    assert (dest / "thesis.tex").read_text() == "precious" and not fake_generator


def test_demo_prepare_builds_all_four_manifests(tmp_path, fake_generator):
    cfg = parse_corpus("demo", {"type": "demo", "n_per_split": 10})
    fetch_corpus(cfg, tmp_path / "demo")
    out = prepare_corpus(cfg, tmp_path / "demo", tmp_path / "manifests", workers=1)
    assert list(out) == ["train", "dev", "eval", "eval_degraded"]
    for split, df in out.items():
        assert list(df.columns[:9]) == list(corpora.MANIFEST_COLUMNS)
        assert len(df) == 4 and set(df["split"]) == {split}
        assert (df["duration_s"] == 0.2).all() and (df["sample_rate"] == 16000).all()
        assert pd.read_csv(tmp_path / "manifests" / f"{split}.csv").shape == df.shape


# -------------------------------------------------------------------------------------------------
# leakage guard
# -------------------------------------------------------------------------------------------------


def _manifest(ids, speakers, paths=None):
    return pd.DataFrame({"utt_id": ids, "speaker": speakers, "path": paths or [f"{i}.flac" for i in ids]})


def test_leakage_guard_passes_disjoint_sets_and_ignores_unknown_speakers():
    train = {"train": _manifest(["a", "b"], ["s1", "-"]), "dev": _manifest(["c"], ["s2"])}
    check_leakage(train, {"x:eval": _manifest(["d", "e"], ["s3", "-"])})


def test_leakage_guard_reports_counts_and_examples():
    train = {"train": _manifest(["a", "b"], ["s1", "s2"]), "dev": _manifest(["c"], ["s3"])}
    evals = {"ok:eval": _manifest(["z"], ["s9"]), "bad:eval": _manifest(["c", "q"], ["s1", "s2"])}
    with pytest.raises(LeakageError) as err:
        check_leakage(train, evals)
    msg = str(err.value)
    assert "bad:eval: 2 speakers also in train/dev" in msg and "'s1'" in msg
    assert "bad:eval: 1 utterance ids" in msg and "ok:eval" not in msg


def test_2021_keys_must_match_the_shipped_trial_list(tmp_path):
    audio = tmp_path / "audio" / "ASVspoof2021_LA_eval"
    (audio / "flac").mkdir(parents=True)
    (audio / "ASVspoof2021.LA.cm.eval.trl.txt").write_text("LA_E_1\n")
    keys = tmp_path / "k" / "keys" / "LA" / "CM"
    keys.mkdir(parents=True)
    (keys / "trial_metadata.txt").write_text(
        "LA_0009 LA_E_1 alaw ita_tx A07 spoof notrim eval\nLA_0009 LA_E_2 none - - bonafide notrim eval\n"
    )
    cfg = parse_corpus("la21", {"type": "asvspoof2021_la", "source_dir": str(tmp_path / "audio"),
                                "keys_source_dir": str(tmp_path / "k")})  # fmt: skip
    with pytest.raises(CorpusError, match=r"1 trial\(s\) of the LA keys are not in this trial list.*LA_E_2"):
        corpora.read_protocol(cfg, tmp_path / "unused")
    (audio / "ASVspoof2021.LA.cm.eval.trl.txt").write_text("LA_E_1\nLA_E_2\n")
    df = corpora.read_protocol(cfg, tmp_path / "unused")
    assert df["path"].tolist() == [str(audio / "flac" / f"LA_E_{i}.flac") for i in (1, 2)]
    assert df["label"].tolist() == ["spoof", "bonafide"] and df["attack"].tolist() == ["A07", "-"]
