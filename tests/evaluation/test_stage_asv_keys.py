"""The organisers' ASV scores through the pipeline: prepare writes them beside the eval manifests, the
evaluate stage passes them to the metrics, which then equal ``sdd evaluate`` on the same official files
(itself checked against the organisers' packages in test_evaluation_suite and tests/metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd.audio.io import write_audio
from sdd.core.plandocs import EvalSet
from sdd.data.corpora import parse_corpus
from sdd.data.prepare import prepare_corpus
from sdd.evaluation import EvaluationError, cli_main
from sdd.evaluation.asv_keys import asv_dir, read_asv_keys
from sdd.evaluation.eval_sets import evaluate_eval_sets

CODECS = ("alaw", "none")
ATTACKS = ("A07", "A08")
COMPARED = ("eer", "min_tdcf", "min_tdcf_legacy", "t_eer", "t_eer_exhaustive", "asv_operating_point")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "audio_check.sqlite"))


def _lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _flac(path: Path, rng: np.random.Generator) -> None:
    write_audio(path, (0.1 * rng.standard_normal(1600)).astype(np.float32), 16000)


def _la21(root: Path, rng: np.random.Generator, ids: list[str] | None = None) -> dict[str, float]:
    """The official 2021 LA layout: ``ASVspoof2021_LA_eval/flac`` and ``keys/LA/{CM,ASV}``; CM scores
    (of trials ``ids``, the first 28 in subset eval, the rest progress)."""
    cm, scores = [], {}
    for i in range(32):
        bona = i % 4 == 0
        codec, attack = CODECS[(i // 4) % 2], ATTACKS[(i // 8) % 2]
        utt = ids[i] if ids is not None else f"LA_E_{i:07d}"
        subset = "eval" if i < 28 else "progress"
        cm.append(f"LA_{i % 5:04d} {utt} {codec} tx {'bonafide' if bona else attack} "
                  f"{'bonafide' if bona else 'spoof'} notrim {subset}")  # fmt: skip
        _flac(root / "ASVspoof2021_LA_eval" / "flac" / f"{utt}.flac", rng)
        scores[utt] = round(float(rng.normal(1.0 if bona else -1.0, 1.3)), 4)
    meta, asv_scores = [], []
    for i in range(96):
        key = ("target", "nontarget", "spoof")[i % 3]
        codec, attack = CODECS[(i // 3) % 2], ATTACKS[(i // 6) % 2]
        mean = {"target": 3.0, "nontarget": -3.0, "spoof": 0.5}[key] + (0.6 if codec == "alaw" else 0.0)
        spk, utt = f"LA_{i % 5:04d}", f"LA_E_{1000 + i:07d}"
        meta.append(f"{spk} {utt} {codec} tx {attack if key == 'spoof' else 'bonafide'} {key} notrim "
                    f"{'eval' if i < 84 else 'progress'}")  # fmt: skip
        asv_scores.append(f"{spk} {utt} {rng.normal(mean, 1.5):.4f}")
    _lines(root / "keys" / "LA" / "CM" / "trial_metadata.txt", cm)
    _lines(root / "keys" / "LA" / "ASV" / "trial_metadata.txt", meta)
    _lines(root / "keys" / "LA" / "ASV" / "ASVTorch_Kaldi" / "score.txt", asv_scores)
    return scores


def _scores(path: Path, scores: dict[str, float]) -> Path:
    _lines(path, [f"{u} {s}" for u, s in scores.items()])
    return path


def _cli(tmp_path: Path, argv: list[str]) -> dict:
    out = tmp_path / "cli.json"
    assert cli_main([*argv, "--out", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize("with_c012_file", [False, True])
def test_2021_la_stage_uses_the_keys_asv_scores_as_sdd_evaluate_does(tmp_path, rng, with_c012_file):
    root = tmp_path / "la21"
    cm = _la21(root, rng)
    _check_2021_la(tmp_path, root, cm, with_c012_file)


def test_2021_la_keys_of_real_trial_ids_pass_the_check_against_the_real_trial_list(shared_dir, tmp_path, rng):
    """The same through the recipe's check of the keys against the trial list shipped with the audio,
    the real one (181,566 ids) from ../shared, on 32 of its ids."""
    real = shared_dir / "data" / "asvspoof2021_la" / "ASVspoof2021.LA.cm.eval.trl.txt"
    ids = real.read_text().split()[::5000][:32]
    root = tmp_path / "la21"
    cm = _la21(root, rng, ids)
    (root / "ASVspoof2021_LA_eval" / real.name).symlink_to(real)
    _check_2021_la(tmp_path, root, cm, False)


def _check_2021_la(tmp_path: Path, root: Path, cm: dict[str, float], with_c012_file: bool) -> None:
    if with_c012_file:  # the package's precomputed coefficients, which win over the ASV keys
        cell = {"C0": 0.02, "C1": 0.9, "C2": 0.3}
        table = {r: {c: dict(cell) for c in (*CODECS, "Pooled")} for r in (*ATTACKS, "Pooled")}
        table["A08"]["none"] = {"C0": np.nan, "C1": np.nan, "C2": np.nan}
        with open(root / "keys" / "LA" / "LA-C012-eval.npy", "wb") as f:
            np.array(table).dump(f)  # as the 2021 package's eval_wrapper.dump_C012_dict
    cfg = parse_corpus(
        "la21", {"type": "asvspoof2021_la", "source_dir": str(root), "keys_source_dir": str(root)}
    )
    manifests = tmp_path / "manifests"
    prepare_corpus(cfg, tmp_path / "unused", manifests / "la21", workers=1)
    asv = read_asv_keys(manifests / "la21" / "eval.csv")
    assert len(asv.scores) == 84  # the eval subset's ASV trials only

    eval_ids = list(cm)[:28]
    _scores(tmp_path / "scores" / "la21__eval.txt", {u: cm[u] for u in eval_ids})
    sets = [EvalSet(corpus="la21", split="eval", id="la21__eval", name="la21:eval")]
    stage = evaluate_eval_sets(sets, tmp_path / "scores", manifests, ci=False, n_resamples=10, seed=0)[
        "la21:eval"
    ]
    all_scores = str(_scores(tmp_path / "all.txt", cm))
    ref = _cli(tmp_path, ["--scores", all_scores, "--protocol", str(root / "keys" / "LA"),
                          "--format", "asvspoof2021", "--subset", "eval"])  # fmt: skip
    for k in (*COMPARED, "per_attack_min_tdcf", "per_condition_min_tdcf", "per_attack_condition_min_tdcf"):
        assert stage[k] == ref[k], k
    assert set(stage["per_condition_min_tdcf"]["codec"]) == set(CODECS)
    assert stage["tdcf_c012"] == ref["tdcf_c012"]
    if with_c012_file:
        assert (
            stage["tdcf_c012"] == "LA-C012-eval.npy"
            and "none" not in stage["per_attack_condition_min_tdcf"]["codec"]["A08"]
        )
    else:
        assert stage["tdcf_c012"].startswith("recomputed from ASV/")
    assert 0 <= stage["t_eer"] <= 1


def test_2019_la_stage_uses_the_official_asv_score_files(tmp_path, rng):
    la = tmp_path / "la19" / "LA"
    cm_scores: dict[str, dict[str, float]] = {}
    for split, suffix in (("train", "train.trn"), ("dev", "dev.trl"), ("eval", "eval.trl")):
        lines = []
        for i in range(12):
            utt, bona = f"LA_{split[0].upper()}_{i:07d}", i % 3 == 0
            lines.append(f"LA_{split}{i % 2} {utt} - {'-' if bona else ('A01', 'A02')[i % 2]} "
                         f"{'bonafide' if bona else 'spoof'}")  # fmt: skip
            _flac(la / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac", rng)
            cm_scores.setdefault(split, {})[utt] = round(float(rng.normal(1.0 if bona else -1.0, 1.3)), 4)
        _lines(la / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{suffix}.txt", lines)
    for split in ("dev", "eval"):
        asv = [f"{'spoof' if k == 'spoof' else 'bonafide'} {k} "
               f"{rng.normal({'target': 3.0, 'nontarget': -3.0, 'spoof': 0.5}[k], 1.5):.4f}"
               for k in ("target", "nontarget", "spoof") * 20]  # fmt: skip
        _lines(la / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt", asv)
    view = {"split": "eval", "where": {"attack": ["-", "A01"]}}  # a split view gets its split's ASV scores
    cfg = parse_corpus("la19", {"type": "asvspoof2019_la", "source_dir": str(tmp_path / "la19"),
                                "views": {"eval_a01": view}})  # fmt: skip
    manifests = tmp_path / "manifests"
    prepare_corpus(cfg, tmp_path / "unused", manifests / "la19", workers=1)
    assert read_asv_keys(manifests / "la19" / "train.csv") is None  # train has no ASV scores
    assert read_asv_keys(manifests / "la19" / "dev.csv").c012 is None
    pd.testing.assert_frame_equal(
        read_asv_keys(manifests / "la19" / "eval_a01.csv").scores,
        read_asv_keys(manifests / "la19" / "eval.csv").scores,
    )

    _scores(tmp_path / "scores" / "la19__eval.txt", cm_scores["eval"])
    sets = [EvalSet(corpus="la19", split="eval", id="la19__eval", name="la19:eval")]
    stage = evaluate_eval_sets(sets, tmp_path / "scores", manifests, ci=False, n_resamples=10, seed=0)[
        "la19:eval"
    ]
    asv_file = la / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"
    ref = _cli(tmp_path, ["--scores", str(tmp_path / "scores" / "la19__eval.txt"), "--protocol",
                          str(la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"),
                          "--format", "asvspoof2019", "--asv-scores", str(asv_file)])  # fmt: skip
    for k in COMPARED:
        assert stage[k] == ref[k], k

    # a later prepare of a copy without the ASV files leaves no stale ones behind
    for f in (la / "ASVspoof2019_LA_asv_scores").iterdir():
        f.unlink()
    prepare_corpus(cfg, tmp_path / "unused", manifests / "la19", workers=1)
    assert read_asv_keys(manifests / "la19" / "eval.csv") is None
    stage = evaluate_eval_sets(sets, tmp_path / "scores", manifests, ci=False, n_resamples=10, seed=0)[
        "la19:eval"
    ]
    assert "min_tdcf" not in stage and "t_eer" not in stage


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (
            '{"format": "asvspoof2015", "files": ["a.txt"], "subset": null}',
            "format 'asvspoof2015'; expected one of",
        ),
        ('{"format": "asvspoof2019", "files": "a.txt", "subset": null}', "files 'a.txt'; expected a list"),
        ("{not json", "unreadable"),
    ],
)
def test_bad_asv_folder_names_the_file_and_what_was_expected(tmp_path, doc, fragment):
    folder = asv_dir(tmp_path / "eval.csv")
    folder.mkdir()
    (folder / "asv.json").write_text(doc)
    with pytest.raises(EvaluationError, match=fragment) as err:
        read_asv_keys(tmp_path / "eval.csv")
    assert str(folder / "asv.json") in str(err.value)


def test_real_2019_la_asv_scores_give_the_official_min_tdcf_of_a_published_cm(shared_dir, tmp_path):
    """The organisers' 2019 LA eval ASV scores, copied by prepare's step, with a published CM's scores
    (RawGAT-ST) on the whole eval protocol: the stage's EER and both min t-DCFs equal the official
    scoring code's (../shared reference), and its t-EER equals ``sdd evaluate``'s on the same files."""
    from sdd.data.corpora.asvspoof2019 import asv_files
    from sdd.data.corpora.la_layout import read_asvspoof2019_protocol
    from sdd.data.prepare import _copy_asv_files

    real = shared_dir / "data" / "asvspoof2019_la"
    la = tmp_path / "la19" / "LA"
    la.mkdir(parents=True)
    for d in ("ASVspoof2019_LA_cm_protocols", "ASVspoof2019_LA_asv_scores"):
        (la / d).symlink_to(real / d)
    cfg = parse_corpus("la19", {"type": "asvspoof2019_la", "source_dir": str(tmp_path / "la19")})
    manifests = tmp_path / "manifests"
    protocol = la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    manifest = read_asvspoof2019_protocol(protocol).assign(
        path="-", condition="-", split="eval", duration_s=1.0, sample_rate=16000, channels=1
    )
    (manifests / "la19").mkdir(parents=True)
    manifest.to_csv(manifests / "la19" / "eval.csv", index=False)
    _copy_asv_files(asv_files(cfg, tmp_path / "unused", "eval"), asv_dir(manifests / "la19" / "eval.csv"))

    name = "rawgat_st_add_LA19eval_Scores.txt"
    cm = pd.read_csv(shared_dir / "data" / "scores" / name, sep=" ", header=None, names=["u", "a", "k", "s"])
    scores = _scores(tmp_path / "scores" / "la19__eval.txt", dict(zip(cm["u"], cm["s"], strict=True)))
    sets = [EvalSet(corpus="la19", split="eval", id="la19__eval", name="la19:eval")]
    stage = evaluate_eval_sets(sets, tmp_path / "scores", manifests, ci=False, n_resamples=10, seed=0)[
        "la19:eval"
    ]
    ref = json.loads((shared_dir / "data" / "reference" / "metrics_asvspoof2019_la_eval.json").read_text())[
        name
    ]
    for k in ("eer", "min_tdcf", "min_tdcf_legacy"):
        assert stage[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-12), k
    asv_file = real / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"
    cli = _cli(tmp_path, ["--scores", str(scores), "--protocol", str(protocol), "--format", "asvspoof2019",
                          "--asv-scores", str(asv_file)])  # fmt: skip
    assert stage["t_eer"] == cli["t_eer"] and 0 < stage["t_eer"] < 0.1


def test_2021_la_keys_with_one_asv_file_only_warn_and_give_no_asv_scores(tmp_path, rng, caplog):
    root = tmp_path / "la21"
    _la21(root, rng)
    (root / "keys" / "LA" / "ASV" / "ASVTorch_Kaldi" / "score.txt").unlink()
    cfg = parse_corpus(
        "la21", {"type": "asvspoof2021_la", "source_dir": str(root), "keys_source_dir": str(root)}
    )
    prepare_corpus(cfg, tmp_path / "unused", tmp_path / "m", workers=1)
    assert read_asv_keys(tmp_path / "m" / "eval.csv") is None
    assert "has ASV/trial_metadata.txt but not ASV/ASVTorch_Kaldi/score.txt" in caplog.text
    assert "will have no min t-DCF and no t-EER" in caplog.text
