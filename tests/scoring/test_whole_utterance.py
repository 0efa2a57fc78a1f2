"""The whole-utterance input rule (``score.input: whole_utterance``, ``sdd score --input``).

Invariants: a whole-utterance score is the model's forward on exactly that clip (no padding, no crop);
batched equals per-item, and every forward pass holds clips of one length; the rule is really applied
(a clip longer than ``num_samples`` scores differently under the two rules, a clip of exactly
``num_samples`` scores the same); ``sdd score``'s header names the rule and ``sdd evaluate`` reads it
back; the score stage scores the eval sets AND ``dev.txt`` under the rule and sets its dev threshold on
those dev scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from sdd.audio.io import AudioError
from sdd.core.configbase import ConfigError, build
from sdd.core.plandocs import EvalSet, ScorePlan
from sdd.core.sections import ScoreParams, input_rule
from sdd.evaluation.convention import input_rule_of_score_file
from sdd.metrics import eer, eer_threshold
from sdd.models.detector import Detector, decision_threshold_record
from sdd.scoring.score import cli_main, iter_scores, score_paths
from sdd.train.arm_model import build_detector, save_arm
from sdd.train.score_arm import ScoreIO, score_arm_seed
from tests.scoring.test_scoring import N_IN, SR, _arm

WHOLE = ScoreParams(input="whole_utterance", num_samples=None, batch_size=8, threads=1)

#: (name, rate, samples at that rate, channels): lengths that differ, two equal ones (one batch group),
#: one of exactly N_IN samples, one far longer than N_IN, one shorter, one resampled and stereo.
CLIPS = [
    ("a.wav", SR, 3 * N_IN + 123, 1),
    ("b.wav", SR, N_IN, 1),
    ("c.flac", SR, 2500, 1),
    ("d.wav", SR, 5000, 1),
    ("e.wav", SR, 5000, 1),
    ("f.wav", 22050, 9000, 2),
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("whole")
    rng = np.random.default_rng(7)
    paths = []
    for name, rate, n, ch in CLIPS:
        t = np.arange(n) / rate
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t)[:, None] + 0.05 * rng.standard_normal((n, ch))
        sf.write(root / name, x.astype(np.float32), rate)
        paths.append(root / name)
    return paths


@pytest.fixture(scope="module")
def model() -> Detector:
    torch.manual_seed(0)
    return build_detector(_arm()).eval()


def _forward(model, wave: np.ndarray) -> float:
    with torch.no_grad():
        return float(Detector.scores(model(torch.from_numpy(wave[None, :].copy()))).double()[0])


def _decoded(path: Path) -> np.ndarray:
    """The whole file, channels averaged, at 16 kHz (scipy's resample_poly): the oracle's input."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    mono = x.mean(axis=1)
    if sr != SR:
        g = np.gcd(sr, SR)
        mono = resample_poly(mono, SR // g, sr // g).astype(np.float32)
    return mono


def test_a_whole_utterance_score_is_the_forward_on_exactly_that_clip(clips, model):
    got = score_paths(model, clips, WHOLE)
    want = [_forward(model, _decoded(p)) for p in clips]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # a 16 kHz file alone at its length in the batch: the same samples, the same one-clip forward pass,
    # bit for bit (d.wav and e.wav share a pass: equal to float32 rounding of a batch of 2)
    lengths = [sf.info(p).frames for p in clips]
    for path, n, score in zip(clips, lengths, got, strict=True):
        if sf.info(path).samplerate == SR and lengths.count(n) == 1:
            x, _ = sf.read(path, dtype="float32")
            assert score == _forward(model, x), path.name


def test_batched_equals_per_item_and_no_forward_mixes_lengths(clips, model):
    seen: list[tuple[int, ...]] = []
    hook = model.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    try:
        batched = score_paths(model, clips, WHOLE)
    finally:
        hook.remove()
    lengths = [_decoded(p).size for p in clips]
    # one pass per distinct length within the batch: d.wav and e.wav (5,000 samples) share one
    assert sorted(seen) == sorted((lengths.count(n), n) for n in set(lengths))
    for b in (1, 2, 5):
        np.testing.assert_allclose(
            score_paths(model, clips, ScoreParams(input="whole_utterance", num_samples=None, batch_size=b,
                                                  threads=1)), batched, rtol=0, atol=1e-6)  # fmt: skip
    # the order of the results is the order of the files, whatever the groups
    per_item = [score_paths(model, [p], WHOLE)[0] for p in clips]
    np.testing.assert_allclose(per_item, batched, rtol=0, atol=1e-6)


def test_the_rule_is_really_applied(clips, model):
    first = score_paths(model, clips, ScoreParams(num_samples=N_IN, threads=1))
    whole = score_paths(model, clips, WHOLE)
    by_name = {p.name: (f, w) for p, f, w in zip(clips, first, whole, strict=True)}
    f, w = by_name["a.wav"]  # 3 * N_IN + 123 samples: the first rule reads N_IN of them
    assert abs(f - w) > 1e-4
    f, w = by_name["c.flac"]  # shorter than N_IN: the first rule repeat-pads it, the whole rule does not
    assert abs(f - w) > 1e-4
    f, w = by_name["b.wav"]  # exactly N_IN samples: neither cut nor padded under either rule
    assert abs(f - w) < 1e-6  # (in a batch of 6 under the first rule, alone under the whole one)


def test_no_too_short_warning_when_nothing_is_padded(clips, model):
    warned: list[str] = []
    list(iter_scores(model, clips, WHOLE, on_warning=lambda p, _m: warned.append(p.name)))
    assert warned == []
    list(iter_scores(model, clips, ScoreParams(num_samples=N_IN, threads=1),
                     on_warning=lambda p, _m: warned.append(p.name)))  # fmt: skip
    assert warned == ["c.flac"]  # 2,500 < 4,000 samples: repeat-padded, said so


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"input": "whole_utterance", "num_samples": 32000},
         "score.num_samples: got 32000 with score.input whole_utterance; expected null"),
        ({"num_samples": None},
         "score.num_samples: got null with score.input first_n_samples; expected a positive integer"),
        ({"input": "whole"},
         "score.input: got 'whole'; expected one of 'first_n_samples', 'whole_utterance'"),
    ],
)  # fmt: skip
def test_an_invalid_combination_is_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError) as err:
        build(ScoreParams, data, "score")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_default_and_num_samples_keep_working():
    assert build(ScoreParams, {}, "score") == ScoreParams(input="first_n_samples", num_samples=64600)
    assert build(ScoreParams, {"num_samples": 64000}, "score").num_samples == 64000
    whole = build(ScoreParams, {"input": "whole_utterance", "num_samples": None}, "score")
    assert whole.whole and not ScoreParams().whole


def test_a_clip_too_short_for_the_model_whole_is_one_line_naming_it(clips, model, tmp_path):
    tiny = tmp_path / "tiny.wav"
    sf.write(tiny, np.full(100, 0.1, dtype=np.float32), SR)  # under the convolutions' receptive field
    files = [clips[0], tiny, clips[1]]
    got = list(iter_scores(model, files, WHOLE, skip_bad=True))
    assert [s is None for _, s, _ in got] == [False, True, False]  # the others are still scored
    why = got[1][2]
    assert why.startswith(f"{tiny}: the model fails on this input scored whole, 100 samples at 16000 Hz "
                          "(0.006 s): ") and "\n" not in why  # fmt: skip
    with pytest.raises(
        AudioError, match=r"tiny\.wav: the model fails on this input scored whole, 100 samples"
    ):
        score_paths(model, files, WHOLE)
    # under the first-N rule the same clip is repeat-padded to N_IN samples and scored
    assert np.isfinite(score_paths(model, [tiny], ScoreParams(num_samples=N_IN, threads=1))).all()


# ---- sdd score ----


def _header(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("#")]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, model) -> Path:
    folder = tmp_path_factory.mktemp("ckpt") / "m"
    save_arm(model, _arm(), folder, extra={"decision_threshold": decision_threshold_record(0.0, 0.2)})
    return folder


def test_sdd_score_header_names_whole_utterances_and_round_trips(clips, model, checkpoint, tmp_path, capsys):
    folder = clips[0].parent
    assert cli_main(["--model", str(checkpoint), "--input", "whole_utterance", "--ids", str(folder)]) == 0
    out = capsys.readouterr().out
    (head,) = _header(out)
    assert "; input = whole utterances at 16000 Hz, neither cut nor padded; " in head
    path = tmp_path / "scores.txt"
    path.write_text(out)
    assert input_rule_of_score_file(path) == input_rule(None, SR)
    rows = dict(line.split("\t") for line in out.splitlines() if not line.startswith("#"))
    want = dict(zip((p.stem for p in clips), score_paths(model, clips, WHOLE), strict=True))
    assert rows.keys() == want.keys()
    np.testing.assert_allclose([float(rows[k]) for k in want], list(want.values()), rtol=0, atol=1e-6)
    # the default rule round-trips too, and the two headers differ only in the rule
    assert cli_main(["--model", str(checkpoint), "--ids", str(folder)]) == 0
    (first_head,) = _header(capsys.readouterr().out)
    path.write_text(first_head + "\n")
    assert input_rule_of_score_file(path) == input_rule(N_IN, SR)
    assert first_head.replace(f"the first {N_IN} samples at 16000 Hz, repeat-padded",
                              "whole utterances at 16000 Hz, neither cut nor padded") == head  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--num-samples", "4000"], "--num-samples 4000 with --input whole_utterance: whole utterances are "
         "neither cut nor padded; drop --num-samples, or use --input first_n_samples"),
        (["--decisions"], f"--decisions with --input whole_utterance: the stored threshold was set on the "
         f"first {N_IN} samples, so it does not apply to scores of whole utterances"),
    ],
)  # fmt: skip
def test_sdd_score_refuses_what_does_not_fit_whole_utterances(clips, checkpoint, capsys, extra, message):
    argv = ["--model", str(checkpoint), "--input", "whole_utterance", *extra, str(clips[0])]
    assert cli_main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing scored
    (line,) = captured.err.splitlines()
    assert line.startswith(f"sdd score: {message}")
    # a threshold given by the user applies to whatever is scored
    assert cli_main([*argv[:4], "--decisions", "--threshold", "0", str(clips[0])]) == 0


def test_sdd_score_names_the_input_rules_in_its_help(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--input {first_n_samples,whole_utterance}" in text
    assert "whole_utterance: the whole utterance, neither cut nor padded" in text


# ---- the score stage ----


def _manifest(path: Path, files: list[Path], labels: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"utt_id": [f.stem for f in files], "path": [str(f) for f in files], "label": labels,
                  "attack": "-", "speaker": "s"}).to_csv(path, index=False)  # fmt: skip


def _read_scores(path: Path) -> dict[str, float]:
    return {u: float(s) for u, s in (line.split() for line in path.read_text().splitlines())}


def test_the_score_stage_scores_eval_and_dev_under_the_rule_and_sets_the_dev_threshold_there(
    clips, model, checkpoint, tmp_path
):
    manifests = tmp_path / "manifests"
    eval_set = EvalSet(corpus="c", split="eval", id="c__eval", name="c:eval")
    _manifest(manifests / "c" / "eval.csv", clips[:3], ["bonafide", "spoof", "spoof"])
    labels = ["bonafide", "spoof", "bonafide", "spoof", "spoof", "bonafide"]
    _manifest(tmp_path / "dev.csv", clips, labels)
    folders = {}
    for rule, params in {"whole": WHOLE, "first": ScoreParams(num_samples=N_IN, threads=1)}.items():
        out = tmp_path / rule
        io = ScoreIO(model=checkpoint, manifests=manifests, dev=tmp_path / "dev.csv", out=out)
        score_arm_seed(ScorePlan(eval_sets=(eval_set,), score=params), io)
        folders[rule] = out
    whole = {p.stem: s for p, s in zip(clips, score_paths(model, clips, WHOLE), strict=True)}
    out = folders["whole"]
    dev = _read_scores(out / "dev.txt")
    np.testing.assert_allclose([dev[k] for k in whole], list(whole.values()), rtol=0, atol=1e-6)
    ev = _read_scores(out / "c__eval.txt")
    np.testing.assert_allclose([ev[p.stem] for p in clips[:3]], [whole[p.stem] for p in clips[:3]], atol=1e-6)

    meta = json.loads((out / "model.json").read_text())
    assert meta["input"] == input_rule(None, SR)
    thr = meta["dev_threshold"]
    # the dev threshold is the EER threshold of exactly the dev scores written beside it
    bona = np.array([dev[p.stem] for p, lab in zip(clips, labels, strict=True) if lab == "bonafide"])
    spoof = np.array([dev[p.stem] for p, lab in zip(clips, labels, strict=True) if lab == "spoof"])
    assert thr["threshold"] == eer_threshold(bona, spoof) and thr["dev_eer"] == eer(bona, spoof)
    assert thr["input"] == meta["input"]["name"] and (thr["n_bonafide"], thr["n_spoof"]) == (3, 3)

    # under the first-N rule the same stage writes other dev scores, and its threshold follows them
    first = json.loads((folders["first"] / "model.json").read_text())
    assert first["input"] == input_rule(N_IN, SR)
    dev_first = _read_scores(folders["first"] / "dev.txt")
    assert abs(dev_first["a"] - dev["a"]) > 1e-4 and abs(dev_first["b"] - dev["b"]) < 1e-6
    assert first["dev_threshold"]["input"] == first["input"]["name"]


def test_a_dev_split_of_one_class_has_no_threshold_and_says_why(clips, checkpoint, tmp_path, caplog):
    _manifest(tmp_path / "dev.csv", clips[:2], ["bonafide", "bonafide"])
    io = ScoreIO(model=checkpoint, manifests=tmp_path, dev=tmp_path / "dev.csv", out=tmp_path / "s")
    score_arm_seed(ScorePlan(eval_sets=(), score=WHOLE), io)
    thr = json.loads((tmp_path / "s" / "model.json").read_text())["dev_threshold"]
    assert thr["threshold"] is None and thr["dev_eer"] is None
    assert thr["why"] == "the dev split has 2 bona fide and 0 spoof trials; an EER needs both"
    assert "no dev threshold" in caplog.text


# ---- a scoring-only arm: the published AASIST ----


@pytest.mark.slow  # the published AASIST on real clips, on CPU
def test_the_published_aasist_scores_whole_utterances_under_the_rule(aasist_dir):
    from sdd.models.published_spec import published_record
    from sdd.scoring.published import load_for_scoring

    record = published_record(f"aasist:{aasist_dir / 'AASIST.pth'}")
    model, params = load_for_scoring(record, WHOLE)
    assert params.whole and params.num_samples is None and params.batch_size == 8  # its kind's batch
    _, first = load_for_scoring(record, ScoreParams(num_samples=32000))
    assert first.num_samples == 64600  # under the first-N rule, its own input length, as before
    ref = pd.read_csv(aasist_dir / "reference_scores.tsv", sep="\t")
    paths = [aasist_dir.parent / "realmini" / p for p in ref["path"]]
    lengths = {p: sf.info(p).frames for p in paths if sf.info(p).samplerate == SR}
    longer = [p for p, n in lengths.items() if n > 64600 + SR]  # over a second past the first 64,600
    shorter = [p for p, n in lengths.items() if n < 64600]
    assert longer and shorter, "the real clips hold both kinds"
    clips = [min(longer, key=lengths.get), shorter[0]]
    got = score_paths(model, clips, params)
    want = [_forward(model, sf.read(p, dtype="float32", always_2d=True)[0].mean(axis=1)) for p in clips]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    cut = score_paths(model, clips, first)
    assert abs(cut[0] - got[0]) > 1e-4 and abs(cut[1] - got[1]) > 1e-4
