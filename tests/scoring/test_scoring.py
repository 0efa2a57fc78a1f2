"""`sdd score` for any user: formats, rates, channels, folders, damaged files, decisions, progress, and
the bounded reader; the dev-EER threshold the training stores with the model.

The oracle for a score is the whole file decoded by soundfile, channels averaged, resampled with
scipy's ``resample_poly``, cut or tiled to the input length, then the model on that one clip.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from sdd import metrics as M
from sdd.audio.io import AudioError, frames_for_samples, read_audio
from sdd.core.sections import ScoreParams
from sdd.models.backbone import build_backbone
from sdd.models.detector import Detector, decision_threshold_record, read_decision_threshold
from sdd.models.params import ModelParams, TinyBackboneParams
from sdd.scoring.attm_weights import LayerWeightRecorder
from sdd.scoring.score import cli_main, iter_scores, score_paths
from sdd.train.arm_model import build_detector, save_arm
from sdd.train.params import AlignerParams, ArmConfig, TrainParams, resolve_aligner
from tests.helpers import SHARED

SR = 16000
N_IN = 4000  # the tiny checkpoint's input length (train.dev_samples)
TINY = TinyBackboneParams(conv_channels=8, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=16)
SDD = [sys.executable, "-m", "sdd.cli"]


def _arm(**train) -> ArmConfig:
    tp = dict(epochs=1, batch_size=4, lr=1e-3, crop_samples=3200, dev_samples=N_IN, patience=1,
              average_best=2, threads=1, telemetry_every=1)  # fmt: skip
    tp.update(train)
    return ArmConfig(name="t", corpus="synthetic", backbone="tiny-wavlm", regime="clean", align="none",
                     seed=3, model=ModelParams(tiny=TINY), train=TrainParams(**tp),
                     aligner=resolve_aligner("none", AlignerParams()))  # fmt: skip


def _tone(sr: int, seconds: float, channels: int, rng) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t)[:, None]
    return (x + 0.05 * rng.standard_normal((t.size, channels))).astype(np.float32)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    """wav/flac/ogg at 8, 16, 22.05, 44.1 and 48 kHz, mono and stereo, short and long, in subfolders."""
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    specs = [
        ("a_8k_mono.wav", 8000, 0.6, 1),
        ("b_22k_stereo.flac", 22050, 1.0, 2),
        ("sub/c_44k_mono.ogg", 44100, 0.5, 1),
        ("sub/deeper/d_48k_stereo.wav", 48000, 1.2, 2),
        ("e_16k_short.flac", 16000, 0.1, 1),  # shorter than the input: tiled
    ]
    for name, sr, sec, ch in specs:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, _tone(sr, sec, ch, rng), sr)
    (root / "notes.txt").write_text("not audio, and not picked up from the folder\n")
    return root


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, audio_dir):
    """The same random-init tiny detector saved with and without a decision threshold."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    arm = _arm()
    model = build_detector(arm).eval()
    files = sorted(p for p in audio_dir.rglob("*") if p.is_file() and p.suffix != ".txt")
    scores = score_paths(model, files, ScoreParams(num_samples=N_IN, threads=1))
    thr = float(np.sort(scores)[1:3].mean())  # between two scores: both decisions occur, no tie
    record = decision_threshold_record(thr, 0.25)
    save_arm(model, arm, root / "with", extra={"decision_threshold": record})
    save_arm(model, arm, root / "without")
    return {"model": model, "with": root / "with", "without": root / "without", "threshold": thr}


def _oracle(model, path: Path, n: int = N_IN) -> float:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    mono = x.mean(axis=1)
    if sr != SR:
        g = np.gcd(sr, SR)
        mono = resample_poly(mono, SR // g, sr // g).astype(np.float32)
    wave = mono[:n] if mono.size >= n else np.tile(mono, -(-n // mono.size))[:n]
    with torch.no_grad():
        return float(Detector.scores(model(torch.from_numpy(wave[None, :].copy()))).double()[0])


def _lines(out: str) -> list[list[str]]:
    """The score lines of ``sdd score``'s stdout (its ``#`` header left out)."""
    return [line.split("\t") for line in out.splitlines() if not line.startswith("#")]


def test_any_format_rate_and_channels_in_folders(audio_dir, checkpoints, capsys):
    assert cli_main(["--model", str(checkpoints["with"]), "--batch-size", "2", str(audio_dir)]) == 0
    out = capsys.readouterr()
    rows = _lines(out.out)
    paths = [Path(p) for p, _ in rows]
    want = sorted(p for p in audio_dir.rglob("*") if p.is_file() and p.suffix != ".txt")
    assert paths == want and len(rows) == 5  # recursive, sorted, the .txt file left out
    np.testing.assert_allclose([float(s) for _, s in rows], [_oracle(checkpoints["model"], p) for p in want],
                               atol=1e-5)  # fmt: skip
    # no progress bar (stderr is not a terminal); the one clip shorter than the input is named
    assert out.err.splitlines() == [
        f"sdd score: warning: {audio_dir / 'e_16k_short.flac'}: too short for the model's input rule: "
        f"0.100 s (1600 samples at 16000 Hz) < its 0.25 s input, so the score is of the clip repeated 3 times"
    ]


def test_damaged_files_are_reported_and_the_others_scored(audio_dir, checkpoints, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.flac").write_text("this is a text file named .flac\n")
    damaged = SHARED / "data" / "bad_audio" / "truncated_lost_sync.flac"  # a real FLAC that loses sync
    has_damaged = damaged.is_file()  # absent in a user's clone: the rest of the test still runs
    if has_damaged:
        shutil.copy(damaged, bad / "truncated_lost_sync.flac")
    good = audio_dir / "a_8k_mono.wav"
    argv = ["--model", str(checkpoints["with"]), "--num-samples", "64600", str(good), str(bad),
            str(tmp_path / "missing.wav"), str(audio_dir / "b_22k_stereo.flac")]  # fmt: skip
    assert cli_main(argv) == 1
    out = capsys.readouterr()
    assert [Path(p) for p, _ in _lines(out.out)] == [good, audio_dir / "b_22k_stereo.flac"]
    err = out.err.splitlines()
    assert any("text.flac" in e and "cannot decode audio" in e for e in err), out.err
    if has_damaged:
        assert any("truncated_lost_sync.flac" in e and "lost sync" in e for e in err), out.err
    assert any("missing.wav: no such file or directory" in e for e in err), out.err
    n_bad = 3 if has_damaged else 2
    assert err[-1] == f"sdd score: {n_bad} of {n_bad + 2} inputs could not be scored (listed above)"


def test_decisions_at_the_stored_threshold_or_a_given_one(audio_dir, checkpoints, capsys):
    thr = checkpoints["threshold"]
    assert read_decision_threshold(checkpoints["with"]) == thr
    assert cli_main(["--model", str(checkpoints["with"]), "--decisions", str(audio_dir)]) == 0
    rows = _lines(capsys.readouterr().out)
    assert all(len(r) == 3 for r in rows)
    assert [d for _, _, d in rows] == ["bonafide" if float(s) > thr else "spoof" for _, s, _ in rows]
    assert {d for _, _, d in rows} == {"bonafide", "spoof"}
    # a negative value needs the --opt=value form (argparse reads "-1e9" as an option otherwise)
    assert cli_main(["--model", str(checkpoints["without"]), "--decisions", "--threshold=-1e9",
                     str(audio_dir)]) == 0  # fmt: skip
    assert {d for _, _, d in _lines(capsys.readouterr().out)} == {"bonafide"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--decisions"], "config.json stores no decision threshold .* pass --threshold X"),
        (["--threshold", "0.5"], "--threshold goes with --decisions"),
        (["--decisions", "--threshold", "nan"], "argument --threshold: got 'nan'; expected a finite number"),
    ],
)
def test_decision_errors_are_one_clear_line(audio_dir, checkpoints, capsys, argv, message):
    try:
        rc = cli_main(["--model", str(checkpoints["without"]), *argv, str(audio_dir)])
    except SystemExit as exit_:  # refused while parsing the arguments
        rc = exit_.code
    assert rc == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert re.search(message, captured.err), captured.err


def test_aasist_decisions_need_a_threshold(audio_dir, capsys):
    # checked before anything is loaded: no weights needed to get the message
    assert cli_main(["--model", "aasist:nowhere/AASIST.pth", "--decisions", str(audio_dir)]) == 2
    err = capsys.readouterr().err
    assert "aasist:nowhere/AASIST.pth: this kind of model has no dev-EER threshold" in err
    assert "pass --threshold X" in err


@pytest.mark.slow  # end to end: the `sdd` command in a fresh process
def test_progress_bar_on_request(audio_dir, checkpoints):
    cmd = [*SDD, "score", "--model", str(checkpoints["with"]), "--progress", str(audio_dir)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "5/5" in r.stderr and "file" in r.stderr  # tqdm's bar on stderr
    assert len(_lines(r.stdout)) == 5 and len(_header(r.stdout)) == 1 and "5/5" not in r.stdout


def test_no_audio_at_all_is_an_error(tmp_path, checkpoints, capsys):
    (tmp_path / "empty").mkdir()
    assert cli_main(["--model", str(checkpoints["with"]), str(tmp_path / "empty")]) == 2
    assert "no audio files to score" in capsys.readouterr().err


def test_iter_scores_raises_or_skips_bad_files(checkpoints, audio_dir, tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    files = [audio_dir / "a_8k_mono.wav", bad]
    params = ScoreParams(num_samples=N_IN, threads=1)
    with pytest.raises(AudioError, match="x.wav"):
        score_paths(checkpoints["model"], files, params)
    got = list(iter_scores(checkpoints["model"], files, params, skip_bad=True))
    assert got[0][1] is not None and got[1][1] is None and "x.wav" in got[1][2]


# ---- the bounded reader ----


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_reading_the_beginning_equals_the_whole_file(tmp_path, rng, sr, fmt):
    path = tmp_path / f"x.{fmt}"
    sf.write(path, _tone(sr, 5.0, 2, rng), sr)
    whole, _ = read_audio(path, SR)
    for n in (1, 1000, 64600):
        part, rate = read_audio(path, SR, max_samples=n)
        assert rate == SR and part.shape == (n,)
        np.testing.assert_array_equal(part, whole[:n])
    short, _ = read_audio(path, SR, max_samples=10 * whole.size)
    np.testing.assert_array_equal(short, whole)  # asking for more than the file holds


def test_a_ten_minute_file_is_read_in_bounded_memory(tmp_path, rng, monkeypatch):
    path = tmp_path / "long.wav"
    sf.write(path, (0.1 * rng.standard_normal(10 * 60 * 44100)).astype(np.float32), 44100, subtype="PCM_16")
    requested = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        return real_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    tracemalloc.start()
    wave, _ = read_audio(path, SR, max_samples=64600)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert requested == [frames_for_samples(64600, 44100, SR)] and requested[0] < 180_000
    assert wave.shape == (64600,)
    whole_mb = 10 * 60 * 44100 * 4 / 1e6  # float32, one channel
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB; the whole file decodes to {whole_mb:.0f} MB"


# ---- the threshold stored at training ----


def test_training_stores_the_saved_models_dev_eer_threshold(tmp_path, rng):
    from sdd.train.loop import fit

    rows = []
    for i in range(12):
        label = "bonafide" if i % 2 == 0 else "spoof"
        n = int(SR * rng.uniform(0.15, 0.3))
        t = np.arange(n) / SR
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 200) * t)
        wave = tone if label == "bonafide" else 0.3 * rng.standard_normal(n)
        sf.write(tmp_path / f"u{i}.flac", wave.astype(np.float32), SR)
        rows.append({"utt_id": f"u{i}", "path": str(tmp_path / f"u{i}.flac"), "label": label, "attack": "-"})
    df = pd.DataFrame(rows)
    arm = _arm(epochs=2)
    model, result = fit(arm, df.iloc[:8], df.iloc[8:])
    dev = df.iloc[8:]
    # the scores `sdd score` gives the saved (averaged) model on dev, and their official EER threshold
    params = ScoreParams(num_samples=arm.train.dev_samples, threads=1)
    scores = score_paths(model, list(dev["path"]), params)
    is_b = (dev["label"] == "bonafide").to_numpy()
    want = M.eer_threshold(scores[is_b], scores[~is_b])
    assert result.summary["dev_eer_threshold"] == pytest.approx(want, abs=1e-5)
    assert result.summary["final_dev_eer"] == M.eer(scores[is_b], scores[~is_b])


def test_train_stage_record_round_trips(tmp_path):
    torch.manual_seed(0)
    arm = _arm()
    record = decision_threshold_record(-0.25, 0.1)
    save_arm(build_detector(arm), arm, tmp_path / "m", extra={"decision_threshold": record})
    assert read_decision_threshold(tmp_path / "m") == -0.25
    (tmp_path / "m" / "config.json").write_text('{"decision_threshold": {"value": 1}}')
    with pytest.raises(ValueError, match="decision_threshold is"):
        read_decision_threshold(tmp_path / "m")


# ---- real clips ----


@pytest.mark.slow  # end to end: real clips through the `sdd` command in a fresh process
def test_realmini_clips_at_16_and_22_khz(shared_dir, checkpoints):
    prot = pd.read_csv(shared_dir / "data" / "realmini" / "protocol.tsv", sep="\t")
    libri = prot["corpus"] == "LibriSpeech"
    picks = pd.concat([prot[libri].head(2), prot[~libri].head(2)])
    paths = [str(shared_dir / "data" / "realmini" / p) for p in picks["path"]]
    assert {sf.info(p).samplerate for p in paths} == {16000, 22050}
    r = subprocess.run([*SDD, "score", "--model", str(checkpoints["with"]), "--decisions", *paths],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = _lines(r.stdout)
    assert [p for p, _, _ in rows] == paths and all(np.isfinite(float(s)) for _, s, _ in rows)
    want = [_oracle(checkpoints["model"], Path(p)) for p in paths]
    np.testing.assert_allclose([float(s) for _, s, _ in rows], want, atol=1e-5)
    head = _header(r.stdout)
    assert head[0].startswith("# sdd score: model=") and "not calibrated log-odds" in head[0]
    assert head[1].startswith(
        f"# threshold: {checkpoints['threshold']:.6f} (the EER threshold of corpus synthetic"
    )
    assert r.stderr == "" and "Traceback" not in r.stdout  # real clips longer than the input: no warning


@pytest.mark.slow  # end to end: real clips, `sdd score --ids` into `sdd evaluate`, fresh processes
def test_realmini_ids_round_trip_and_warnings(shared_dir, checkpoints, tmp_path):
    """Real clips scored with --ids feed `sdd evaluate` (In-the-Wild meta.csv: trial id = file stem);
    a 0.2 s cut and a phase-cancelled stereo copy of a real clip are warned about."""
    root = shared_dir / "data" / "realmini"
    prot = pd.read_csv(root / "protocol.tsv", sep="\t")
    picks = pd.concat([prot[prot["label"] == "bonafide"].head(3), prot[prot["label"] == "spoof"].head(3)])
    meta = tmp_path / "meta.csv"
    labels = picks["label"].map({"bonafide": "bona-fide", "spoof": "spoof"})
    pd.DataFrame({"file": picks["path"], "speaker": picks["speaker"], "label": labels}).to_csv(
        meta, index=False
    )
    paths = [str(root / p) for p in picks["path"]]
    r = subprocess.run([*SDD, "score", "--model", str(checkpoints["with"]), "--ids", *paths],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0 and r.stderr == "", r.stderr
    (tmp_path / "scores.txt").write_text(r.stdout)
    assert [u for u, _ in _lines(r.stdout)] == [Path(p).stem for p in paths]
    e = subprocess.run([*SDD, "evaluate", "--scores", str(tmp_path / "scores.txt"), "--protocol", str(meta),
                        "--format", "itw", "--out", str(tmp_path / "m.json")],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert e.returncode == 0, e.stderr
    m = json.loads((tmp_path / "m.json").read_text())
    assert (m["n_bonafide"], m["n_spoof"]) == (3, 3)
    wave, sr = sf.read(paths[0], dtype="float32")
    sf.write(tmp_path / "cut.wav", wave[: sr // 5], sr)
    sf.write(tmp_path / "cancelled.wav", np.stack([wave, -wave], axis=1), sr, subtype="FLOAT")
    clips = [str(tmp_path / "cut.wav"), str(tmp_path / "cancelled.wav")]
    w = subprocess.run([*SDD, "score", "--model", str(checkpoints["with"]), *clips],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert w.returncode == 0, w.stderr
    err = w.stderr.splitlines()
    assert len(err) == 2 and "Traceback" not in w.stderr
    assert "cut.wav: too short for the model's input rule: 0.200 s" in err[0]
    assert "cancelled.wav: channels cancel when mixed down to mono" in err[1]


def test_attm_layer_weights_are_recorded_while_scoring():
    tiny = TinyBackboneParams(
        conv_channels=8, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=16
    )
    torch.manual_seed(0)
    model = Detector(
        build_backbone("tiny-wav2vec2", tiny), ModelParams(merge="attm", head="linear", tiny=tiny)
    ).eval()
    rec = LayerWeightRecorder(model)
    with torch.no_grad():
        model(torch.randn(3, 4000))
        model(torch.randn(2, 4000))
    got = rec.take()
    assert rec.active and got["n"] == 5 and len(got["mean"]) == 2 and all(0 < m < 1 for m in got["mean"])
    assert rec.take() is None  # taken
    plain = Detector(build_backbone("tiny-wav2vec2", tiny), ModelParams(tiny=tiny))
    assert not LayerWeightRecorder(plain).active


# ---- what a score means: header, threshold source, notices, warnings, trial ids ----


def _header(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("#")]


def test_header_says_what_a_score_is_and_where_the_threshold_comes_from(audio_dir, checkpoints, capsys):
    assert cli_main(["--model", str(checkpoints["with"]), "--decisions", str(audio_dir)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = _header(out)
    assert lines[: len(head)] == head and len(head) == 2  # the header comes first
    assert head[0].startswith(
        f"# sdd score: model={checkpoints['with']} (arm t, seed 3, trained on corpus synthetic)"
    )
    for phrase in (f"the first {N_IN} samples at 16000 Hz", "higher = more bona fide",
                   "not calibrated log-odds", "columns: path score decision"):  # fmt: skip
        assert phrase in head[0], head[0]
    thr = checkpoints["threshold"]
    assert head[1].startswith(
        f"# threshold: {thr:.6f} (the EER threshold of corpus synthetic's dev split (dev EER 25.00%)"
    )
    assert f"first {N_IN} samples, stored in {checkpoints['with'] / 'config.json'}" in head[1]
    # a threshold given by the user says so
    assert (
        cli_main(["--model", str(checkpoints["without"]), "--decisions", "--threshold=-0.5", str(audio_dir)])
        == 0
    )
    assert _header(capsys.readouterr().out)[1] == (
        "# threshold: -0.500000 (given with --threshold); "
        "decision = bonafide if score > threshold, else spoof"
    )


def test_notice_for_a_model_trained_on_the_demo_corpus(tmp_path, audio_dir, checkpoints, capsys):
    demo = tmp_path / "demo_model"
    save_arm(checkpoints["model"], dataclasses.replace(_arm(), corpus="demo"), demo)
    files = [str(audio_dir / "a_8k_mono.wav")]
    assert cli_main(["--model", str(demo), *files]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"sdd score: notice: {demo} was trained on the synthetic demo corpus only (corpus 'demo'): "
        "a pipeline check, not a detector; its scores on real speech mean nothing"
    ]
    assert cli_main(["--model", str(checkpoints["with"]), *files]) == 0
    assert "notice" not in capsys.readouterr().err  # another corpus: no notice


@pytest.fixture
def bad_clips(tmp_path, rng) -> dict[str, Path]:
    """One clip per warning, and an ordinary one: 0.2 s, one sample, digital silence, clipped, stereo
    whose channels cancel when mixed down (and 3 s of ordinary tone)."""
    t = np.arange(3 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.03 * rng.standard_normal(t.size)).astype(np.float32)
    clips = {
        "short": tone[: SR // 5],
        "one_sample": tone[:1],
        "silent": np.zeros(3 * SR, np.float32),
        "clipped": np.clip(8 * tone, -1, 1),
        "cancelled": np.stack([tone, -tone], axis=1),
        "ordinary": tone,
    }
    out = {}
    for name, x in clips.items():
        out[name] = tmp_path / f"{name}.wav"
        sf.write(out[name], x, SR, subtype="FLOAT")
    return out


def test_a_warning_per_input_whose_score_means_little(bad_clips, checkpoints, capsys):
    assert cli_main(["--model", str(checkpoints["with"]), *map(str, bad_clips.values())]) == 0
    out = capsys.readouterr()
    assert [Path(p) for p, _ in _lines(out.out)] == list(bad_clips.values())  # every file still scored
    warned = {}
    for line in out.err.splitlines():
        prefix, _, rest = line.partition(": warning: ")
        assert prefix == "sdd score", line
        path, _, message = rest.partition(": ")
        warned.setdefault(Path(path).stem, []).append(message)
    assert set(warned) == set(bad_clips) - {"ordinary"}
    assert warned["short"] == [
        "too short for the model's input rule: 0.200 s (3200 samples at 16000 Hz) < its 0.25 s input, so "
        "the score is of the clip repeated 2 times"
    ]
    assert warned["one_sample"] == [
        f"too short for the model's input rule: 0.000 s (1 sample at 16000 Hz) < its 0.25 s input, so "
        f"the score is of the clip repeated {N_IN} times"
    ]
    assert warned["silent"] == ["digitally silent: every sample is 0"]
    assert len(warned["clipped"]) == 1 and warned["clipped"][0].startswith("clipped: ")
    assert warned["cancelled"] == [
        "channels cancel when mixed down to mono (the mono mix is silent: opposite phase?); "
        "score one channel instead"
    ]


def _la_clips(root: Path, rng) -> tuple[Path, Path]:
    """Six clips named as ASVspoof 2019 LA trials in nested folders, and their 5-column protocol."""
    rows = []
    for i in range(6):
        label = "bonafide" if i % 2 == 0 else "spoof"
        utt = f"LA_E_{1000 + i}"
        path = root / "flac" / f"part{i % 2}" / f"{utt}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _tone(SR, 0.5, 1, rng), SR)
        rows.append(f"LA_0001 {utt} - {'-' if label == 'bonafide' else 'A07'} {label}\n")
    protocol = root / "protocol.txt"
    protocol.write_text("".join(rows))
    return root / "flac", protocol


def test_ids_feed_sdd_evaluate_also_as_utf16(tmp_path, checkpoints, capsys, rng):
    from sdd.evaluation.cli import cli_main as evaluate

    flac, protocol = _la_clips(tmp_path, rng)
    assert cli_main(["--model", str(checkpoints["with"]), "--ids", str(flac)]) == 0
    out = capsys.readouterr().out
    assert "columns: trial_id score" in _header(out)[0]
    rows = _lines(out)
    assert sorted(u for u, _ in rows) == [f"LA_E_{1000 + i}" for i in range(6)]
    scores = {u: float(s) for u, s in rows}
    metrics = {}
    for name, data in {
        "utf8": out.encode("utf-8"),
        "utf16": out.replace("\n", "\r\n").encode("utf-16"),  # what PowerShell's `>` writes
    }.items():
        (tmp_path / f"{name}.txt").write_bytes(data)
        argv = ["--scores", str(tmp_path / f"{name}.txt"), "--protocol", str(protocol),
                "--format", "asvspoof2019", "--out", str(tmp_path / f"{name}.json")]  # fmt: skip
        assert evaluate(argv) == 0, capsys.readouterr().err
        metrics[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert metrics["utf8"] == metrics["utf16"]
    assert metrics["utf8"]["n_bonafide"] == 3 and metrics["utf8"]["n_spoof"] == 3
    bona = np.array([scores[f"LA_E_{1000 + i}"] for i in (0, 2, 4)])
    spoof = np.array([scores[f"LA_E_{1000 + i}"] for i in (1, 3, 5)])
    assert metrics["utf8"]["eer"] == pytest.approx(M.eer(bona, spoof))  # the scores sdd score printed
