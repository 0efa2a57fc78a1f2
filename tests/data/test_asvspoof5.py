"""The ``asvspoof5`` recipe on a tiny database in the official layout (``tests/helpers/asvspoof5.py``):
protocols with the official 10 columns in ``ASVspoof5_protocols/``, FLAC clips in ``flac_T`` / ``flac_D`` /
``flac_E_eval``.

Covers: fetch of a copy in place and prepare (metadata columns in the manifests, condition = codec),
a download from ``file://`` archives with user-given MD5s, the refusal to download without them,
one-line errors for a bad protocol, a missing folder and bad config values; split views (an eval
set per codec): prepare, plan-time checks, and evaluate on a view = the same trials of its split.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from sdd.core.configbase import ConfigError
from sdd.core.plandocs import EvalSet
from sdd.core.yamlfile import read_yaml
from sdd.data import download as dl
from sdd.data import prepare as prep
from sdd.data.corpora import CORPUS_TYPES, CorpusError, corpus_splits, parse_corpus, read_protocol
from sdd.data.corpora.asvspoof5 import ARCHIVES, AUDIO_DIRS, PROTOCOL_ARCHIVE, PROTOCOL_DIR, PROTOCOL_FILES
from sdd.data.download import ChecksumError
from sdd.data.fetchers import fetch_corpus
from sdd.data.fetchers.asvspoof5 import archive_names
from sdd.data.prepare import prepare_corpus
from sdd.evaluation.eval_sets import evaluate_eval_sets
from sdd.evaluation.protocols import read_protocol as read_official_protocol
from sdd.evaluation.trials import evaluate_trials
from sdd.plan.assemble import make_plan, validate_params
from tests.helpers import REPO
from tests.helpers.asvspoof5 import ROWS, make_database


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "audio_check.sqlite"))
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)


def _tar(members: dict[str, Path], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, src in members.items():
            tf.add(src, arcname=name)
    return buf.getvalue()


def test_registered_with_splits_and_metadata_columns():
    cfg = parse_corpus("asv5", {"type": "asvspoof5", "splits": ["eval", "train"]})
    assert corpus_splits(cfg) == ("train", "eval")  # official order whatever the config's
    assert CORPUS_TYPES["asvspoof5"].condition_columns == ("gender", "codec", "codec_q")


def test_source_dir_fetch_and_prepare_keep_the_protocol_metadata(tmp_path):
    db = make_database(tmp_path / "asv5")
    cfg = parse_corpus("asv5", {"type": "asvspoof5", "source_dir": str(db)})
    summary = fetch_corpus(cfg, tmp_path / "raw")
    assert summary["files_by_split"] == {s: len(r) for s, r in ROWS.items()}
    assert summary["source"].startswith("source_dir") and not (tmp_path / "raw").exists()
    out = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", workers=1)
    assert set(out) == {"train", "dev", "eval"}
    for split, rows in ROWS.items():
        df = out[split]
        fields = [r.split() for r in rows]
        assert df["utt_id"].tolist() == [f[1] for f in fields]
        assert df["speaker"].tolist() == [f[0] for f in fields]
        assert df["gender"].tolist() == [f[2] for f in fields]
        assert df["codec"].tolist() == [f[3] for f in fields] == df["condition"].tolist()
        assert df["codec_q"].tolist() == [f[4] for f in fields]
        assert df["label"].tolist() == [f[8] for f in fields]
        # the attack of bona fide trials is "-"; a spoof's is its ATTACK_LABEL (column 8)
        assert df["attack"].tolist() == [f[7] if f[8] == "spoof" else "-" for f in fields]
        assert all(Path(p).parent.name == AUDIO_DIRS[split] and Path(p).is_file() for p in df["path"])
    # the recipe and `sdd evaluate` read the protocol with the one parser: same trials, same labels
    official = read_official_protocol(db / PROTOCOL_DIR / PROTOCOL_FILES["eval"], "asvspoof5").trials
    assert official["utt_id"].tolist() == out["eval"]["utt_id"].tolist()
    assert official["label"].tolist() == out["eval"]["label"].tolist()


def test_protocols_directly_in_the_root_are_found_but_not_two_copies(tmp_path):
    db = make_database(tmp_path / "asv5", splits=("dev",))
    (db / PROTOCOL_DIR / PROTOCOL_FILES["dev"]).rename(db / PROTOCOL_FILES["dev"])
    cfg = parse_corpus("asv5", {"type": "asvspoof5", "source_dir": str(db), "splits": ["dev"]})
    assert len(read_protocol(cfg, tmp_path / "raw")) == len(ROWS["dev"])
    (db / PROTOCOL_DIR / PROTOCOL_FILES["dev"]).write_text("\n".join(ROWS["dev"]) + "\n")
    with pytest.raises(CorpusError, match="found in both"):
        read_protocol(cfg, tmp_path / "raw")


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda db: (db / PROTOCOL_DIR / PROTOCOL_FILES["dev"]).write_text(ROWS["dev"][0].rsplit(" ", 1)[0]),
         "ASVspoof5.dev.track_1.tsv"),
        (lambda db: (db / PROTOCOL_DIR / PROTOCOL_FILES["dev"]).write_text(
            ROWS["dev"][0].replace("spoof", "fake")), "label"),
        (lambda db: (db / PROTOCOL_DIR / PROTOCOL_FILES["dev"]).unlink(), "not found in"),
        (lambda db: [p.unlink() for p in (db / "flac_D").iterdir()], "flac_D"),
    ],
    ids=["9 columns", "bad key", "no protocol", "no audio"],
)  # fmt: skip
def test_bad_layout_is_one_line_naming_the_file(tmp_path, damage, needle):
    db = make_database(tmp_path / "asv5", splits=("dev",))
    damage(db)
    cfg = parse_corpus("asv5", {"type": "asvspoof5", "source_dir": str(db), "splits": ["dev"]})
    with pytest.raises(CorpusError, match=needle) as info:
        fetch_corpus(cfg, tmp_path / "raw")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"splits": []}, "corpora.asv5.splits: got an empty list"),
        ({"splits": ["eval", "eval"]}, "each split once"),
        ({"splits": ["test"]}, "corpora.asv5.splits"),
        ({"md5s": {"flac_X_aa.tar": "0" * 32}}, "md5s.flac_X_aa.tar: not an archive"),
        ({"md5s": {"flac_D_aa.tar": "ABC"}}, "md5s.flac_D_aa.tar: got 'ABC'"),
        ({"codec": "C05"}, "corpora.asv5"),
    ],
)
def test_bad_config_is_one_line(data, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("[", r"\[")):
        parse_corpus("asv5", {"type": "asvspoof5", **data})


def test_download_needs_every_md5_and_verifies_them_before_extraction(tmp_path):
    """Dev only: the protocol archive and flac_D_aa..ac.tar from a file:// base URL."""
    db = make_database(tmp_path / "src", splits=("dev",))
    served = tmp_path / "served"
    served.mkdir()
    proto = db / PROTOCOL_DIR / PROTOCOL_FILES["dev"]
    (served / PROTOCOL_ARCHIVE).write_bytes(_tar({f"{PROTOCOL_DIR}/{proto.name}": proto}, gz=True))
    clips = sorted((db / "flac_D").iterdir())
    for k, name in enumerate(ARCHIVES["dev"]):  # the clips spread over the three parts
        (served / name).write_bytes(_tar({f"flac_D/{c.name}": c for c in clips[k::3]}))
    md5s = {n: hashlib.md5((served / n).read_bytes()).hexdigest() for n in archive_names(
        parse_corpus("x", {"type": "asvspoof5", "splits": ["dev"]}))}  # fmt: skip
    assert list(md5s) == [PROTOCOL_ARCHIVE, *ARCHIVES["dev"]]
    base = {"type": "asvspoof5", "splits": ["dev"], "base_url": served.as_uri()}

    partial = {k: v for k, v in md5s.items() if k != "flac_D_ab.tar"}
    with pytest.raises(CorpusError, match=r"no MD5 known for 1 archive\(s\) to download \(flac_D_ab.tar\)"):
        fetch_corpus(parse_corpus("asv5", {**base, "md5s": partial}), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()  # refused before any transfer

    wrong = {**md5s, "flac_D_ac.tar": "0" * 32}
    with pytest.raises(ChecksumError):
        fetch_corpus(parse_corpus("asv5", {**base, "md5s": wrong}), tmp_path / "raw")
    assert not (tmp_path / "raw" / "flac_D").exists()

    cfg = parse_corpus("asv5", {**base, "md5s": md5s})
    summary = fetch_corpus(cfg, tmp_path / "raw")
    assert summary["files_by_split"] == {"dev": len(ROWS["dev"])}
    assert all(a["checksum_source"] == "user" for a in summary["archives"])
    again = fetch_corpus(cfg, tmp_path / "raw")  # idempotent
    assert again["files"] == summary["files"]
    out = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", workers=1)["dev"]
    assert out["utt_id"].tolist() == [r.split()[1] for r in ROWS["dev"]]


# -------------------------------------------------------------------------------------------------
# Split views: a named subset of a split (eval per codec condition), a split of its own
# -------------------------------------------------------------------------------------------------

C05 = {"eval_c05": {"split": "eval", "where": {"codec": ["C05"]}}}


def test_a_view_is_a_split_of_the_rows_that_match_and_each_file_is_decoded_once(tmp_path, monkeypatch):
    db = make_database(tmp_path / "asv5", splits=("eval",))
    views = {**C05, "eval_f_coded": {"split": "eval", "where": {"gender": ["F"], "codec": ["C05", "C08"]}}}
    cfg = parse_corpus(
        "asv5", {"type": "asvspoof5", "source_dir": str(db), "splits": ["eval"], "views": views}
    )
    assert corpus_splits(cfg) == ("eval", "eval_c05", "eval_f_coded")
    decoded: list[str] = []
    real = prep.check_files
    monkeypatch.setattr(prep, "check_files", lambda paths, **kw: decoded.extend(paths) or real(paths, **kw))
    out = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", workers=1)
    assert sorted(decoded) == sorted(set(decoded)) and len(decoded) == len(ROWS["eval"])
    fields = [r.split() for r in ROWS["eval"]]
    assert out["eval_c05"]["utt_id"].tolist() == [f[1] for f in fields if f[3] == "C05"]
    assert set(out["eval_c05"]["codec"]) == {"C05"} and (out["eval_c05"]["split"] == "eval_c05").all()
    assert out["eval_f_coded"]["utt_id"].tolist() == [f[1] for f in fields if f[2] == "F" and f[3] != "-"]
    assert len(out["eval"]) == len(ROWS["eval"])  # the split itself is unchanged
    assert (tmp_path / "m" / "eval_c05.csv").is_file()


def test_views_work_for_other_corpus_types_without_io():
    cfg = parse_corpus(
        "d", {"type": "demo", "views": {"eval_a01": {"split": "eval", "where": {"attack": ["A01"]}}}}
    )
    assert corpus_splits(cfg)[-1] == "eval_a01"


@pytest.mark.parametrize(
    ("views", "err", "needle"),
    [
        ({"eval_c05": {"split": "test", "where": {"codec": ["C05"]}}}, ConfigError,
         "views.eval_c05.split: got 'test'; expected one of the asvspoof5 corpus's splits"),
        ({"dev": {"split": "eval", "where": {"codec": ["C05"]}}}, ConfigError,
         "views.dev: the asvspoof5 corpus has a split .dev. already"),
        ({"eval c05": {"split": "eval", "where": {"codec": ["C05"]}}}, ConfigError,
         "corpora.asv5.views: got the name"),
        ({"eval_c05": {"split": "eval", "where": {"bitrate": ["1"]}}}, ConfigError,
         "corpora.asv5.views.eval_c05.where: got column 'bitrate'"),
        ({"eval_c05": {"split": "eval", "where": {}}}, ConfigError,
         "corpora.asv5.views.eval_c05.where: got an empty mapping"),
        ({"eval_c05": {"split": "eval", "where": {"codec": []}}}, ConfigError,
         "corpora.asv5.views.eval_c05.where.codec: got no values"),
        ({"eval_c99": {"split": "eval", "where": {"codec": ["C99"]}}}, CorpusError,
         r"views.eval_c99: no trial of split 'eval' left with codec in \['C99'\]; "
         r"values present: \['-', 'C05', 'C08'\]"),
    ],
)  # fmt: skip
def test_bad_views_are_one_line_errors(tmp_path, views, err, needle):
    db = make_database(tmp_path / "asv5", splits=("dev", "eval"))
    with pytest.raises(err, match=needle):
        cfg = parse_corpus("asv5", {"type": "asvspoof5", "source_dir": str(db), "splits": ["dev", "eval"],
                                    "views": views})  # fmt: skip
        read_protocol(cfg, tmp_path / "raw")


def _plan_params(**changes) -> dict:
    raw = read_yaml(REPO / "params.yaml")
    raw["corpora"]["asv5"] = {"type": "asvspoof5", "source_dir": "/nowhere", "splits": ["eval"], "views": C05}
    raw.update(changes)
    return raw


def test_plan_takes_a_view_as_an_eval_set_and_refuses_a_view_of_training_data():
    loaded = validate_params(_plan_params(eval_sets=["demo:eval", "asv5:eval_c05"]))  # no I/O: /nowhere
    assert loaded.eval_sets == (("demo", "eval"), ("asv5", "eval_c05"))
    plan = make_plan(loaded)
    assert "asv5:eval_c05" in str(plan)
    raw = _plan_params(eval_sets=["demo:train_a01"])
    raw["corpora"]["demo"]["views"] = {"train_a01": {"split": "train", "where": {"attack": ["A01"]}}}
    with pytest.raises(ConfigError, match="demo:train_a01 is a view of the training corpus's train split"):
        validate_params(raw)
    bad = _plan_params(eval_sets=["asv5:eval_c05"])
    bad["corpora"]["asv5"]["views"] = {"eval_c05": {"split": "dev", "where": {"codec": ["C05"]}}}
    with pytest.raises(ConfigError, match=r"views.eval_c05.split: got 'dev'; expected one of .* \['eval'\]"):
        validate_params(bad)


def test_a_view_evaluates_as_the_same_trials_of_its_split(tmp_path):
    """evaluate on ``asv5:eval_c05`` = the C05 cell of ``asv5:eval``'s codec breakdown, and equals
    evaluate_trials on those rows: the view adds no trial and loses none."""
    db = make_database(tmp_path / "asv5", splits=("eval",))
    cfg = parse_corpus("asv5", {"type": "asvspoof5", "source_dir": str(db), "splits": ["eval"], "views": C05})
    out = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "manifests" / "asv5", workers=1)
    rng = np.random.default_rng(0)
    scores = dict(zip(out["eval"]["utt_id"], rng.standard_normal(len(out["eval"])), strict=True))
    (tmp_path / "scores").mkdir()
    sets = [EvalSet("asv5", s, f"asv5__{s}", f"asv5:{s}") for s in ("eval", "eval_c05")]
    for e in sets:
        lines = [f"{u} {float(scores[u])!r}" for u in out[e.split]["utt_id"]]
        (tmp_path / "scores" / f"{e.id}.txt").write_text("\n".join(lines) + "\n")
    m = evaluate_eval_sets(
        sets, tmp_path / "scores", tmp_path / "manifests", ci=False, n_resamples=10, seed=0
    )
    assert m["asv5:eval_c05"]["eer"] == m["asv5:eval"]["per_condition"]["codec"]["C05"]
    rows = out["eval"][out["eval"]["codec"] == "C05"].assign(score=lambda d: d["utt_id"].map(scores))
    assert m["asv5:eval_c05"]["eer"] == evaluate_trials(rows)["eer"]
    n = {k: m["asv5:eval_c05"][k] for k in ("n_bonafide", "n_spoof")}
    assert n == {
        "n_bonafide": int((rows["label"] == "bonafide").sum()),
        "n_spoof": int((rows["label"] == "spoof").sum()),
    }
    assert sum(n.values()) < len(out["eval"])
