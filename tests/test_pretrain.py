"""The pretrain stage (issue 12): wav2vec 2.0 pretraining lowers its own loss on demo audio, is
deterministic, and writes a backbone that ``AutoModel.from_pretrained`` loads and the detector uses;
with another backbone it only writes records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sdd.audio.io import write_audio
from sdd.data.demo import _make_voice, _synthesize_clean
from sdd.models.params import ModelParams, TinyBackboneParams
from sdd.models.source import RECORD, backbone_from_folder, resolve_backbone
from sdd.pretrain.params import PretrainParams
from sdd.pretrain.run import run_pretrain_plan
from sdd.pretrain.wav2vec2 import pretraining_model, run_pretraining, save_backbone

TINY = TinyBackboneParams(conv_channels=8, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=16)
P = dict(
    steps=25,
    batch_size=4,
    crop_samples=8000,
    warmup_steps=3,
    lr=3e-3,
    threads=1,
    codevector_dim=16,
    proj_codevector_dim=16,
    codevectors_per_group=8,
)


@pytest.fixture(scope="module")
def waves() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [_synthesize_clean(_make_voice(rng), 12000, 16000, rng).astype(np.float32) for _ in range(8)]


def test_pretraining_reduces_its_own_loss_and_saves_a_loadable_backbone(tmp_path, waves):
    from transformers import AutoModel

    torch.set_num_threads(1)
    p = PretrainParams(**P)
    model = pretraining_model(p, TINY)
    result = run_pretraining(model, waves, p, log_every=5)
    s = result.summary
    assert s["fixed_batch_loss_final"] < s["fixed_batch_loss_initial"] - 0.02
    assert result.log[-1]["step"] == p.steps - 1
    save_backbone(model, tmp_path / "bb")
    loaded = AutoModel.from_pretrained(str(tmp_path / "bb")).eval()
    assert type(loaded).__name__ == "Wav2Vec2Model" and not loaded.config.apply_spec_augment
    assert getattr(loaded, "masked_spec_embed", None) is None  # pretraining-only parameter dropped
    x = torch.from_numpy(np.stack([w[:8000] for w in waves[:2]]))
    with torch.no_grad():
        ref = model.wav2vec2.eval()(x).last_hidden_state
        np.testing.assert_allclose(loaded(x).last_hidden_state.numpy(), ref.numpy(), atol=1e-5)
    # the train stage builds its backbone from the folder like any local save_pretrained backbone
    from sdd.models.detector import Detector

    name = resolve_backbone("pretrained", tmp_path / "bb")
    from sdd.models.backbone import build_backbone

    det = Detector(build_backbone(name, TINY), ModelParams(tiny=TINY)).eval()
    assert det(x).shape == (2, 2)


def test_pretraining_is_deterministic(waves):
    p = PretrainParams(**{**P, "steps": 3})
    states = []
    for _ in range(2):
        model = pretraining_model(p, TINY)
        run_pretraining(model, waves, p)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_other_backbones_skip_pretraining_and_write_records(tmp_path):
    plan = {"backbone": "tiny-wavlm", "corpus": "demo", "tiny": vars(TINY), "pretrain": None, "seed": 4}
    summary = run_pretrain_plan(plan, pd.DataFrame({"path": []}), tmp_path / "backbone", tmp_path / "random")
    assert summary == {"pretrained": False, "backbone": "tiny-wavlm"}
    for name in ("backbone", "random"):
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == [RECORD]
        bb = backbone_from_folder(tmp_path / name)
        assert bb.config.model_type == "wavlm" and bb.config.num_hidden_layers == 2
    rec = json.loads((tmp_path / "random" / RECORD).read_text())
    assert rec["init"] == "random" and rec["seed"] == 4
    with pytest.raises(FileNotFoundError, match="no pretrained weights"):
        resolve_backbone("pretrained", tmp_path / "backbone")
    assert resolve_backbone("tiny-wavlm", tmp_path / "backbone") == "tiny-wavlm"


def test_the_pretrain_stage_pretrains_and_keeps_the_random_start(tmp_path, waves):
    for i, w in enumerate(waves):
        write_audio(tmp_path / f"u{i}.flac", w, 16000)
    train = pd.DataFrame({"path": [str(tmp_path / f"u{i}.flac") for i in range(len(waves))]})
    plan = {
        "backbone": "pretrained",
        "corpus": "demo",
        "tiny": vars(TINY),
        "seed": 0,
        "pretrain": {**P, "steps": 2, "warmup_steps": 1},
    }
    summary = run_pretrain_plan(plan, train, tmp_path / "backbone", tmp_path / "random")
    assert summary["pretrained"] and summary["steps"] == 2 and len(summary["log"]) == 2
    start = backbone_from_folder(tmp_path / "random")
    again = pretraining_model(PretrainParams(**plan["pretrain"]), TINY).wav2vec2
    # the random control is exactly the initialisation pretraining started from
    for k, v in start.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_save_backbone_replaces_the_folder_whole_or_not_at_all(tmp_path, monkeypatch):
    """A failed save leaves the previous backbone byte for byte and no temp folder; a temp folder left by
    a killed process (a pid no longer running) is removed by the next save."""
    from transformers import Wav2Vec2Model

    from sdd.models.source import folder_sha256

    p = PretrainParams(**P)
    model = pretraining_model(p, TINY)
    out = tmp_path / "bb"
    save_backbone(model, out)
    before = folder_sha256(out)
    save = Wav2Vec2Model.save_pretrained

    def half_then_fail(self, folder, **kwargs):
        save(self, folder, **kwargs)
        (Path(folder) / "model.safetensors").write_bytes(b"truncated")
        raise OSError("No space left on device")

    with torch.no_grad():
        model.wav2vec2.feature_projection.projection.weight.add_(1.0)  # another backbone
    monkeypatch.setattr(Wav2Vec2Model, "save_pretrained", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save_backbone(model, out)
    assert folder_sha256(out) == before, "the previous backbone must stay intact"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["bb"], "no temp folder left"
    monkeypatch.setattr(Wav2Vec2Model, "save_pretrained", save)
    (tmp_path / ".bb.tmp999999999").mkdir()  # above any pid_max: a dead process's leftover
    save_backbone(model, out)
    assert folder_sha256(out) != before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["bb"]
