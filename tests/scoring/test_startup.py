"""``sdd score`` starts fast (issue 22, item 5) without changing a score.

The start-up gain is guarded without timing anything: a fresh ``sdd`` process scoring with a
wav2vec2 checkpoint must not import what scoring does not need (transformers' modeling stack, peft,
``torch._dynamo``, pandas, MLflow, matplotlib, scikit-learn, scipy.signal; no scipy at all for files
already at 16 kHz), and importing the command's module must not import torch either. Its output must
be that of the model loaded through transformers, scored in this process; the time and memory
themselves are ``benchmarks/cli_startup.py``'s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sdd.core.sections import ScoreParams
from sdd.models.detector import load_detector
from sdd.models.params import ModelParams, TinyBackboneParams
from sdd.scoring.score import iter_scores
from sdd.train.arm_model import build_detector, save_arm
from sdd.train.params import AlignerParams, ArmConfig, TrainParams, resolve_aligner
from tests.helpers import REPO

N_IN = 4000
TINY = TinyBackboneParams(conv_channels=8, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=16)

#: Modules (with their submodules) that scoring never needs: importing them is what made a one-file
#: `sdd score` take 7 s before its first sample was read (scipy.signal is checked separately).
NEVER = (
    "transformers", "peft", "accelerate", "torch._dynamo", "sympy", "pandas", "mlflow", "matplotlib",
    "sklearn",
)  # fmt: skip


def _loaded(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == b or m.startswith(b + ".") for b in banned))


@pytest.fixture(scope="module")
def wav2vec2_model(tmp_path_factory) -> Path:
    """A tiny random-init wav2vec2 detector saved by the train stage's function (the demo's kind of
    backbone, which :mod:`sdd.models.wav2vec2_lite` covers)."""
    arm = ArmConfig(
        name="t", corpus="synthetic", backbone="tiny-wav2vec2", regime="clean", align="none", seed=0,
        model=ModelParams(tiny=TINY, merge="weighted"),
        train=TrainParams(epochs=1, batch_size=2, crop_samples=3200, dev_samples=N_IN, average_best=1,
                          threads=1),
        aligner=resolve_aligner("none", AlignerParams()),
    )  # fmt: skip
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("model") / "s0"
    save_arm(build_detector(arm).eval(), arm, out)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    paths = {}
    for name, sr in (("a16k.wav", 16000), ("b16k.flac", 16000), ("c22k.wav", 22050)):
        paths[name] = root / name
        sf.write(paths[name], (0.3 * rng.standard_normal(int(sr * 0.4))).astype(np.float32), sr)
    return paths


_PROBE = """
import atexit, json, sys
from pathlib import Path
out = Path(sys.argv[1])
atexit.register(lambda: out.write_text(json.dumps(sorted(sys.modules))))  # runs before the quick exit
sys.argv = ["sdd", *sys.argv[2:]]
from sdd.cli import run
run()
"""


def _sdd_score(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``sdd score ARGS`` through the program's entry point (:func:`sdd.cli.run`) in a fresh process;
    returns the process and the modules it had imported when it exited."""
    dump = tmp_path / "modules.json"
    cmd = [sys.executable, "-c", _PROBE, str(dump), "score", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert dump.is_file(), f"the exit handlers did not run (rc {proc.returncode}): {proc.stderr}"
    return proc, json.loads(dump.read_text())


def _score_lines(stdout: str) -> list[str]:
    """The score lines of `sdd score`'s output (its ``#`` header lines aside)."""
    return [line for line in stdout.splitlines() if not line.startswith("#")]


def _expected_lines(model_dir: Path, files: list[Path]) -> list[str]:
    """What `sdd score` prints, from the checkpoint loaded through transformers in this process."""
    model, _ = load_detector(model_dir)
    params = ScoreParams(num_samples=N_IN)
    return [f"{p}\t{s:.6f}" for p, s, _ in iter_scores(model, files, params)]


def test_importing_the_command_and_parsing_its_arguments_loads_no_torch():
    probe = (
        "import json, sys\n"
        "from sdd.scoring.score import cli_main\n"
        "try:\n"
        "    cli_main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert "sdd.scoring.score" in modules
    assert _loaded(modules, (*NEVER, "torch", "scipy")) == []


@pytest.mark.slow  # two fresh `sdd` processes that import torch (about 3 s each)
def test_a_fresh_sdd_score_imports_none_of_it_and_prints_the_transformers_scores(
    wav2vec2_model, clips, tmp_path
):
    at_16k = [clips["a16k.wav"], clips["b16k.flac"]]
    proc, modules = _sdd_score(tmp_path, "--model", str(wav2vec2_model), *map(str, at_16k))
    assert proc.returncode == 0, proc.stderr
    assert _score_lines(proc.stdout) == _expected_lines(wav2vec2_model, at_16k)
    assert {"torch", "sdd.models.wav2vec2_lite"} <= set(modules)  # it did load and score the model
    assert _loaded(modules, (*NEVER, "scipy")) == []  # nothing to resample: no scipy at all

    # a 22.05 kHz file is resampled without scipy.signal (scipy.special's Bessel function only); an
    # unreadable input gives exit code 1 through the quick exit, the other files scored
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio\n")
    proc, modules = _sdd_score(tmp_path, "--model", str(wav2vec2_model), str(clips["c22k.wav"]), str(bad))
    assert proc.returncode == 1, proc.stderr
    assert _score_lines(proc.stdout) == _expected_lines(wav2vec2_model, [clips["c22k.wav"]])
    assert "bad.wav: cannot decode audio" in proc.stderr
    assert "scipy.special" in modules and _loaded(modules, (*NEVER, "scipy.signal")) == []


def test_lite_and_transformers_loaded_checkpoints_score_files_identically(wav2vec2_model, clips):
    files = list(clips.values())
    params = ScoreParams(num_samples=N_IN, batch_size=2)
    scores = {}
    for lite in (False, True):
        model, _ = load_detector(wav2vec2_model, lite=lite)
        scores[lite] = np.array([s for _, s, _ in iter_scores(model, files, params)])
    assert type(load_detector(wav2vec2_model, lite=True)[0].backbone).__name__ == "Wav2Vec2Lite"
    assert np.array_equal(scores[True], scores[False]) and np.isfinite(scores[True]).all()
