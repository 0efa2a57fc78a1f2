"""A trained arm as an MLflow pyfunc (:mod:`sdd.report.tracking_model`), without a server: ``predict``
on base64 audio bytes gives ``sdd score``'s scores and dev-EER decisions, bad rows are one
``INVALID_PARAMETER_VALUE`` error naming each row, and the requirements are the installed versions.
The served model over HTTP is ``tests/report/test_serving.py`` (team lane)."""

from __future__ import annotations

import base64
import dataclasses
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from mlflow.exceptions import MlflowException

from sdd.core.sections import ScoreParams
from sdd.models.detector import decision_threshold_record
from sdd.report import tracking_model, tracking_pyfunc
from sdd.scoring.score import load_scorer, score_paths
from sdd.train.arm_model import build_detector, save_arm
from tests.helpers.train import make_arm

N_IN = 16000  # the tiny arm's input length (train.dev_samples): 1 s


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


@pytest.fixture(scope="module")
def arm(tmp_path_factory):
    """A tiny arm's model folder with a dev-EER threshold between its scores of ``clips`` (so both
    decisions occur), the clips (formats, rates, channels, one shorter than the input) and a FLAC
    truncated inside the input's first second."""
    root = tmp_path_factory.mktemp("arm")
    rng = np.random.default_rng(0)
    clips = []
    for name, sr, seconds, channels in [("a.wav", 16000, 1.5, 1), ("b.flac", 22050, 0.7, 2),
                                        ("c.ogg", 44100, 1.2, 1), ("d.flac", 8000, 0.3, 1)]:  # fmt: skip
        t = np.arange(int(sr * seconds)) / sr
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t)[:, None]
        sf.write(root / name, (tone + 0.05 * rng.standard_normal((t.size, channels))).astype(np.float32), sr)
        clips.append(root / name)
    sf.write(root / "full.flac", (0.3 * rng.standard_normal(N_IN)).astype(np.float32), 16000)
    data = (root / "full.flac").read_bytes()
    (root / "truncated.flac").write_bytes(data[: len(data) // 2])
    torch.manual_seed(0)
    config = make_arm(regime="clean", dev_samples=N_IN)
    model = build_detector(config).eval()
    scores = score_paths(model, clips, ScoreParams(num_samples=N_IN, threads=1))
    threshold = float(np.sort(scores)[1:3].mean())
    save_arm(
        model,
        config,
        root / "model",
        extra={"decision_threshold": decision_threshold_record(threshold, 0.25)},
    )
    served = tracking_pyfunc.ArmModel()
    served.load_context(SimpleNamespace(artifacts={tracking_pyfunc.ARM_ARTIFACT: str(root / "model")}))
    return SimpleNamespace(folder=root / "model", clips=clips, truncated=root / "truncated.flac",
                           threshold=threshold, served=served)  # fmt: skip


def test_predict_on_base64_bytes_gives_sdd_scores_and_dev_eer_decisions(arm):
    out = arm.served.predict(None, pd.DataFrame({"audio": [_b64(p) for p in arm.clips]}))
    assert list(out.columns) == list(tracking_pyfunc.OUTPUT_COLUMNS) and len(out) == len(arm.clips)
    model, n = load_scorer(str(arm.folder))  # what `sdd score --model <folder>` loads
    want = score_paths(model, arm.clips, ScoreParams(num_samples=n))
    np.testing.assert_array_equal(out["score"].to_numpy(), want)  # the same reader, resampler, crop
    assert list(out["decision"]) == ["bonafide" if s > arm.threshold else "spoof" for s in want]
    assert set(out["decision"]) == {"bonafide", "spoof"}
    assert "too short" in out["warnings"].iloc[3] and out["warnings"].iloc[0] == ""  # 0.3 s < 1 s input


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["not base64!"], ["row 0: column 'audio' is not the base64 of an audio file"]),
        ([""], ["row 0: column 'audio' is not the base64 of an audio file (empty)"]),
        ([base64.b64encode(b"plain text, no audio").decode()], ["row 0: cannot decode audio"]),
        (
            ["CLIP", "TRUNCATED", "CLIP", 3],
            ["row 3: column 'audio' is not the base64", "a int, not a string"],
        ),
        (["CLIP", "TRUNCATED"], ["row 1: cannot decode audio", "lost sync"]),
    ],
)
def test_a_bad_row_is_an_invalid_parameter_error_naming_it(arm, rows, expected):
    subs = {"CLIP": _b64(arm.clips[0]), "TRUNCATED": _b64(arm.truncated)}
    with pytest.raises(MlflowException) as err:
        arm.served.predict(None, pd.DataFrame({"audio": [subs.get(r, r) for r in rows]}))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE" and err.value.get_http_status_code() == 400
    for text in expected:
        assert text in err.value.message, err.value.message
    assert "row 0" not in err.value.message or rows[0] not in subs, err.value.message  # good rows unnamed
    assert "sdd-serve-" not in err.value.message  # no temporary path: the row is named


def test_a_missing_column_is_named(arm):
    with pytest.raises(MlflowException, match=r"expected a column 'audio' of base64-encoded audio files; "
                       r"got \['wav'\]"):  # fmt: skip
        arm.served.predict(None, pd.DataFrame({"wav": [_b64(arm.clips[0])]}))


def test_requirements_are_the_installed_versions(arm, tmp_path):
    reqs = tracking_model.pip_requirements(arm.folder)
    pins = dict(r.split("==") for r in reqs)
    assert set(tracking_model.REQUIREMENTS) <= set(pins)
    assert all(v == metadata.version(k) for k, v in pins.items()), reqs
    # the tiny WavLM is outside `sdd score`'s lite loader: it loads through transformers
    assert "transformers" in pins and "peft" not in pins
    # a wav2vec2 backbone (the demo's) loads without transformers: not pinned
    config = dataclasses.replace(make_arm(regime="clean", dev_samples=N_IN), backbone="tiny-wav2vec2")
    save_arm(build_detector(config).eval(), config, tmp_path / "w2v", extra={})
    lite = [r.split("==")[0] for r in tracking_model.pip_requirements(tmp_path / "w2v")]
    assert lite == list(tracking_model.REQUIREMENTS)
