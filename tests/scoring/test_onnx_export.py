"""`sdd export --format onnx`: the exported scorer's ONNX Runtime log-odds equal `sdd score`'s PyTorch
ones to 1e-4, on real clips, on synthetic audio of any length and batch; its metadata says what it
takes, gives and decides with; a failed export check writes nothing.

The oracle for PyTorch is `sdd score`'s own path: the checkpoint loaded as `sdd score` loads it, each
clip cut or tiled to the model's window by numpy (:func:`score_paths` for files). ONNX Runtime gets
the whole decoded clip and cuts it itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import soundfile as sf
import torch

from sdd.audio.io import read_audio
from sdd.core.sections import ScoreParams
from sdd.models.detector import Detector, decision_threshold_record, load_detector
from sdd.models.params import TinyBackboneParams
from sdd.scoring import onnx_export
from sdd.scoring.score import score_paths
from sdd.train.arm_model import build_detector, save_arm
from sdd.train.loop import fit
from tests.helpers.train import make_arm, make_corpus

# A model leaving the repo (issue 25) belongs to the team lane (docs/tests.md); each module fixture trains
# or exports a model (5-20 s on 2 cores).
pytestmark = [pytest.mark.team, pytest.mark.slow]

SR = 16000
N_IN = 4000  # the tiny checkpoints' window (train.dev_samples)
TOL = 1e-4
SDD = [sys.executable, "-m", "sdd.cli"]


def _oracle(model_dir: Path, waves: list[np.ndarray]) -> np.ndarray:
    """`sdd score`'s log-odds for decoded 16 kHz clips: its model, numpy's cut or tile to the window."""
    model, arm = load_detector(model_dir, lite=True)
    n = arm["train"]["dev_samples"]
    cut = [w[:n] if w.size >= n else np.tile(w, -(-n // w.size))[:n] for w in waves]
    with torch.no_grad():
        return Detector.scores(model(torch.from_numpy(np.stack(cut)))).double().numpy()


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnx(session: ort.InferenceSession, waves: np.ndarray) -> np.ndarray:
    return session.run(["log_odds"], {"waveform": waves.astype(np.float32)})[0].astype(np.float64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A tiny wav2vec2 detector trained two epochs on a synthetic corpus (the lite backbone `sdd score`
    runs), saved with its dev-EER threshold as the train stage saves it, and exported."""
    root = tmp_path_factory.mktemp("onnx")
    train, dev, _, _ = make_corpus(root / "corpus")
    torch.manual_seed(0)
    arm = dataclasses.replace(make_arm(regime="clean", epochs=2, dev_samples=N_IN), backbone="tiny-wav2vec2")
    model, result = fit(arm, train, dev)
    record = decision_threshold_record(result.summary["dev_eer_threshold"], result.summary["final_dev_eer"])
    save_arm(model, arm, root / "models" / "t" / "s3", extra={"decision_threshold": record})
    out = root / "exported" / "t_s3.onnx"
    r = subprocess.run([*SDD, "export", "--format", "onnx", "--model", str(root / "models" / "t"),
                        "--out", str(out)], capture_output=True, text=True, timeout=600)  # fmt: skip
    return {"dir": root / "models" / "t" / "s3", "out": out, "run": r, "threshold": record["threshold"]}


def test_the_command_writes_one_file_and_says_what_it_is(trained):
    r = trained["run"]
    assert r.returncode == 0, r.stderr
    out = trained["out"]
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp file left beside it
    line = r.stdout.strip()
    assert "\n" not in line and line.startswith(f"{out}: ")
    assert f"scored on the first {N_IN} samples" in line and "dynamic length" in line
    assert f"decision threshold {trained['threshold']:.6f}" in line
    diff = float(line.rsplit("PyTorch to ", 1)[1].split()[0])
    assert diff <= TOL
    # stderr: the export's own log lines only, none of the exporter's stack (torchvision, rewrites)
    assert all(line.startswith("INFO sdd.scoring.onnx_export: ") for line in r.stderr.splitlines()), r.stderr


def test_metadata_says_what_the_graph_takes_gives_and_decides_with(trained):
    proto = onnx.load(str(trained["out"]))
    onnx.checker.check_model(proto)
    props = {p.key: p.value for p in proto.metadata_props}
    config = json.loads((trained["dir"] / "config.json").read_text())
    assert props["sdd.length"] == "dynamic"
    assert int(props["sdd.input_samples"]) == N_IN and int(props["sdd.sample_rate"]) == SR
    assert float(props["sdd.decision_threshold"]) == config["decision_threshold"]["threshold"]
    assert json.loads(props["sdd.decision_threshold_record"]) == config["decision_threshold"]
    assert props["sdd.decision_rule"] == "bonafide if log_odds > threshold, else spoof"
    assert json.loads(props["sdd.arm_config"]) == config["arm"]
    assert json.loads(props["sdd.backbone_config"]) == config["backbone_config"]
    weights = (trained["dir"] / "model.safetensors").read_bytes()
    assert props["sdd.source_sha256"] == hashlib.sha256(weights).hexdigest()
    assert json.loads(props["sdd.versions"])["opset"] == onnx_export.OPSET
    # the graph's signature: both input axes symbolic, one log-odds per clip
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "waveform" and out.name == "log_odds"
    assert [d.dim_param for d in inp.type.tensor_type.shape.dim] == ["batch", "samples"]
    assert [d.dim_param for d in out.type.tensor_type.shape.dim] == ["batch"]
    # no debugging records of the exporter (stack traces with this checkout's paths)
    assert not any(node.metadata_props or node.doc_string for node in proto.graph.node)


def _tone_in_noise(rng, batch: int, n: int) -> np.ndarray:
    t = np.arange(n) / SR
    tone = 0.3 * np.sin(2 * np.pi * rng.uniform(80, 900, (batch, 1)) * t)
    return (tone + rng.uniform(0.01, 0.3, (batch, 1)) * rng.standard_normal((batch, n))).astype(np.float32)


@pytest.mark.parametrize("n", [2, 57, N_IN // 3, N_IN - 1, N_IN, N_IN + 1, 5 * N_IN])
def test_onnx_equals_pytorch_on_synthetic_audio_of_any_length(trained, n):
    """Dynamic length: shorter clips are tiled, longer ones cut, in the graph as in `sdd score`."""
    session = _session(trained["out"])
    rng = np.random.default_rng(n)
    for batch in (1, 3):
        waves = _tone_in_noise(rng, batch, n)
        got, want = _onnx(session, waves), _oracle(trained["dir"], list(waves))
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    # the window is what is scored: anything after it changes nothing
    waves = _tone_in_noise(rng, 2, max(n, N_IN) + 100)
    later = waves.copy()
    later[:, max(n, N_IN) :] = 0.9
    np.testing.assert_array_equal(_onnx(session, waves), _onnx(session, later))


def test_a_one_sample_clip_is_tiled_into_a_constant_window(trained):
    """A constant window is where the detector's input normalisation, (x - mean) / sqrt(var + 1e-7),
    divides the rounding noise of the mean by sqrt(1e-7): PyTorch and ONNX Runtime, which sum in
    different orders, agree there only to about 1e-3 (docs/cli.md says so). The tiling itself is exact."""
    session = _session(trained["out"])
    waves = _tone_in_noise(np.random.default_rng(1), 3, 1)
    constant = np.repeat(waves, N_IN, axis=1)
    np.testing.assert_array_equal(_onnx(session, waves), _onnx(session, constant))
    np.testing.assert_allclose(_onnx(session, waves), _oracle(trained["dir"], list(waves)), rtol=0, atol=1e-2)


def test_scores_vary_with_the_clip(trained):
    """The comparisons above are not between constants: tones and noise get log-odds that differ by
    far more than the tolerance (two epochs on 8 clips do not make a detector: no claim about which is
    higher)."""
    session = _session(trained["out"])
    rng = np.random.default_rng(7)
    t = np.arange(N_IN) / SR
    tones = np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in (120, 150, 180)]).astype(np.float32)
    noise = (0.3 * rng.standard_normal((3, N_IN))).astype(np.float32)
    assert np.ptp(np.concatenate([_onnx(session, tones), _onnx(session, noise)])) > 1000 * TOL


def test_onnx_equals_sdd_score_on_real_clips(shared_dir, trained):
    """Real speech from realmini (bona fide and vocoded, 16 and 22.05 kHz, all longer than the window)
    decoded by sdd.audio.io; PyTorch's scores through `sdd score`'s score_paths."""
    root = shared_dir / "data" / "realmini"
    prot = pd.read_csv(root / "protocol.tsv", sep="\t")
    picks = prot.groupby(["corpus", "label"]).head(3)
    paths = [root / p for p in picks["path"]]
    assert {sf.info(p).samplerate for p in paths} == {16000, 22050}
    want = score_paths(load_detector(trained["dir"], lite=True)[0], paths, ScoreParams(num_samples=N_IN))
    session = _session(trained["out"])
    got = np.array([_onnx(session, read_audio(p, SR)[0][None, :])[0] for p in paths])
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    assert np.ptp(want) > 1e-3  # real clips get different scores


@pytest.fixture(scope="module")
def transformers_arm(tmp_path_factory) -> Path:
    """A random-init detector loaded through transformers (WavLM with LoRA adapters), AttM merge, LSTM
    head: the other path `sdd score` loads, and the merge and head the demo's attm arm uses."""
    root = tmp_path_factory.mktemp("onnx_tf")
    torch.manual_seed(1)
    arm = make_arm(regime="clean", dev_samples=N_IN)
    tiny = TinyBackboneParams(
        conv_channels=8, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=16
    )
    model = dataclasses.replace(arm.model, tiny=tiny, merge="attm", head="lstm", finetune="lora")
    arm = dataclasses.replace(arm, model=model)
    save_arm(build_detector(arm).eval(), arm, root / "m")  # no decision threshold stored
    return root / "m"


def test_a_transformers_backbone_with_lora_attm_and_lstm_exports_too(transformers_arm, tmp_path):
    result = onnx_export.export_onnx(str(transformers_arm), tmp_path / "m.onnx")
    assert result.threshold is None and result.max_abs_diff <= TOL
    onnx_export.export_onnx(str(transformers_arm), tmp_path / "again.onnx")
    assert (tmp_path / "m.onnx").read_bytes() == (tmp_path / "again.onnx").read_bytes()  # deterministic
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert "sdd.decision_threshold" not in props and props["sdd.length"] == "dynamic"
    session = _session(tmp_path / "m.onnx")
    rng = np.random.default_rng(0)
    for n in (700, N_IN, 2 * N_IN):
        waves = _tone_in_noise(rng, 2, n)
        np.testing.assert_allclose(
            _onnx(session, waves), _oracle(transformers_arm, list(waves)), rtol=0, atol=TOL
        )


def test_a_nan_in_the_export_check_fails_it(transformers_arm, tmp_path, monkeypatch):
    real = onnx_export.reference_log_odds

    def one_nan(*args):
        out = real(*args)
        out[-1] = np.nan
        return out

    monkeypatch.setattr(onnx_export, "reference_log_odds", one_nan)
    with pytest.raises(onnx_export.ExportMismatch, match="by nan on the check clips"):
        onnx_export.export_onnx(str(transformers_arm), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_check_writes_nothing(transformers_arm, tmp_path, monkeypatch, capsys):
    """ONNX Runtime far from PyTorch (here: PyTorch's reference shifted by 1): one line, exit code 1, no
    file and no temp file."""
    real = onnx_export.reference_log_odds
    monkeypatch.setattr(onnx_export, "reference_log_odds", lambda *a: real(*a) + 1.0)
    out = tmp_path / "out" / "m.onnx"
    rc = onnx_export.cli_main(["--format", "onnx", "--model", str(transformers_arm), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err
    assert "differ from PyTorch's by 1 on the check clips (tolerance 0.0001); nothing written" in err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
