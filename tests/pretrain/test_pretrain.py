"""The pretrain stage (issues 12 and 20): both objectives (wav2vec 2.0's and HuBERT's first iteration)
lower their own loss on demo audio, are deterministic, and write a backbone that
``AutoModel.from_pretrained`` loads and the detector uses; HuBERT's targets align with the CNN frames,
come from the train audio only and its loss reads masked frames only; with another backbone the stage
only writes records."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from sdd.audio.io import write_audio
from sdd.core.configbase import ConfigError, build
from sdd.data.demo.synthesis import make_voice, synthesize_clean
from sdd.models.params import ModelParams, TinyBackboneParams
from sdd.models.source import RECORD, backbone_from_folder, resolve_backbone
from sdd.plan.assemble import make_plan, validate_params
from sdd.pretrain import hubert
from sdd.pretrain.params import HubertObjective, PretrainParams, PretrainPlan
from sdd.pretrain.run import run_pretrain_plan
from sdd.pretrain.wav2vec2 import pretraining_model, run_pretraining, save_backbone
from tests.helpers import REPO

TINY = TinyBackboneParams(conv_channels=8, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=16)
P = dict(
    objective="wav2vec2",
    batch_size=4,
    crop_samples=8000,
    threads=1,
    wav2vec2=dict(
        steps=25,
        warmup_steps=3,
        lr=3e-3,
        codevector_dim=16,
        proj_codevector_dim=16,
        codevectors_per_group=8,
    ),
)
# HuBERT on 8 utterances of 0.75 s (37 frames each): few clusters, short crops
H = dict(
    objective="hubert", batch_size=4, crop_samples=8000, threads=1, hubert=dict(steps=25, lr=3e-3, clusters=8)
)


def params(base: dict, **changes) -> PretrainParams:
    """``base`` with ``changes`` to its objective's own subsection."""
    data = copy.deepcopy(base)
    data[data["objective"]].update(changes)
    return build(PretrainParams, data, "pretrain")


@pytest.fixture(scope="module")
def waves() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [synthesize_clean(make_voice(rng), 12000, 16000, rng).astype(np.float32) for _ in range(8)]


def test_pretraining_reduces_its_own_loss_and_saves_a_loadable_backbone(tmp_path, waves):

    torch.set_num_threads(1)
    p = params(P)
    model = pretraining_model(p, TINY)
    result = run_pretraining(model, waves, p, log_every=5)
    s = result.summary
    assert s["fixed_batch_loss_final"] < s["fixed_batch_loss_initial"] - 0.02
    assert s["objective"] == "wav2vec2" and s["cpu_seconds"] > 0
    assert result.log[-1]["step"] == p.steps - 1
    _check_saved_backbone(model, tmp_path / "bb", waves)


def _check_saved_backbone(model, folder: Path, waves) -> None:
    """The saved folder loads with AutoModel as a plain Wav2Vec2Model with the trained encoder's
    outputs, and the train stage builds a detector from it like any local save_pretrained backbone."""
    from transformers import AutoModel

    from sdd.models.backbone import build_backbone
    from sdd.models.detector import Detector

    save_backbone(model, folder)
    loaded = AutoModel.from_pretrained(str(folder)).eval()
    assert type(loaded).__name__ == "Wav2Vec2Model" and not loaded.config.apply_spec_augment
    assert getattr(loaded, "masked_spec_embed", None) is None  # pretraining-only parameter dropped
    x = torch.from_numpy(np.stack([w[:8000] for w in waves[:2]]))
    with torch.no_grad():
        ref = model.wav2vec2.eval()(x).last_hidden_state
        np.testing.assert_allclose(loaded(x).last_hidden_state.numpy(), ref.numpy(), atol=1e-5)
    det = Detector(build_backbone(resolve_backbone("pretrained", folder), TINY), ModelParams(tiny=TINY))
    assert det.eval()(x).shape == (2, 2)


def test_pretraining_is_deterministic(waves):
    p = params(P, steps=3)
    states = []
    for _ in range(2):
        model = pretraining_model(p, TINY)
        run_pretraining(model, waves, p)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_other_backbones_skip_pretraining_and_write_records(tmp_path):
    plan = {"backbone": "tiny-wavlm", "corpus": "demo", "tiny": vars(TINY), "pretrain": None, "seed": 4}
    summary = run_pretrain_plan(build(PretrainPlan, plan, ""), pd.DataFrame({"path": []}),
                                tmp_path / "backbone", tmp_path / "random")
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
        "pretrain": {**P, "wav2vec2": {**P["wav2vec2"], "steps": 2, "warmup_steps": 1}},
    }
    summary = run_pretrain_plan(build(PretrainPlan, plan, ""), train, tmp_path / "backbone",
                                tmp_path / "random")
    assert summary["pretrained"] and summary["steps"] == 2 and len(summary["log"]) == 2
    start = backbone_from_folder(tmp_path / "random")
    again = pretraining_model(build(PretrainParams, plan["pretrain"], "pretrain"), TINY).wav2vec2
    # the random control is exactly the initialisation pretraining started from
    for k, v in start.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_save_backbone_replaces_the_folder_whole_or_not_at_all(tmp_path, monkeypatch):
    """A failed save leaves the previous backbone byte for byte and no temp folder; a temp folder left by
    a killed process (a pid no longer running) is removed by the next save."""
    from transformers import Wav2Vec2Model

    from sdd.models.source import folder_sha256

    p = params(P)
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


# ---- objective choice (issue 20) ----


def test_an_unknown_objective_is_refused_naming_the_key_the_value_and_the_choices():
    with pytest.raises(ConfigError) as err:
        build(PretrainParams, {"objective": "hubertt"}, "pretrain")
    for word in ("pretrain.objective", "'hubertt'", "'hubert'", "'wav2vec2'"):
        assert word in str(err.value)
    with pytest.raises(ConfigError, match="pretrain.objective"):
        PretrainParams(objective="data2vec")
    # each objective's settings live in its own subsection, checked like any other
    with pytest.raises(ConfigError, match=r"pretrain.hubert: unknown key\(s\) \['num_negatives'\]"):
        build(PretrainParams, {"hubert": {"num_negatives": 5}}, "pretrain")
    with pytest.raises(ConfigError, match="pretrain.hubert.deltas"):
        build(PretrainParams, {"hubert": {"deltas": 3}}, "pretrain")


def test_the_plan_holds_the_chosen_objectives_settings_only():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    chosen = raw["pretrain"]["objective"]
    other = next(o for o in ("hubert", "wav2vec2") if o != chosen)
    plan = make_plan(validate_params(raw))["pretrain.json"]
    assert chosen in plan["pretrain"] and other not in plan["pretrain"]
    changed = copy.deepcopy(raw)
    changed["pretrain"][other]["steps"] += 1  # the unused objective's settings re-run nothing
    assert make_plan(validate_params(changed))["pretrain.json"] == plan
    changed["pretrain"]["objective"] = other
    assert make_plan(validate_params(changed))["pretrain.json"]["pretrain"]["objective"] == other


# ---- HuBERT iteration 1 ----


@pytest.mark.parametrize("samples", [4000, 8000, 8319, 8320, 12345, 32000])
def test_mfcc_frames_are_the_cnn_frames(samples, waves):
    h = HubertObjective()
    model = hubert.pretraining_model(params(H), TINY)
    wave = np.resize(waves[0], samples)
    feats = hubert.mfcc_frames(wave, h)
    assert feats.shape == (int(model.wav2vec2._get_feat_extract_output_lengths(samples)), 39)
    assert feats.shape[0] == int(model.wav2vec2(torch.from_numpy(wave)[None]).last_hidden_state.shape[1])


def test_a_mfcc_hop_off_the_cnn_stride_is_refused():
    with pytest.raises(ValueError, match="frame_shift_ms.*would not align"):
        hubert.pretraining_model(params(H, frame_shift_ms=10.0), TINY)


def test_a_crop_on_a_frame_boundary_gets_its_own_frames_labels(waves, rng):
    h = HubertObjective(clusters=8, deltas=0)  # static MFCCs: a frame depends on its own samples only
    targets = hubert.fit_targets(waves, h, seed=0)
    assert [len(y) for y in targets.utterance_labels] == [1 + (12000 - 400) // 320] * len(waves)
    for i in range(len(waves)):
        crop, labels = hubert.aligned_crop(waves[i], targets.utterance_labels[i], 8000, 400, 320, rng)
        np.testing.assert_array_equal(labels, targets.labels(crop))  # the crop's own MFCC frames
    short, none = hubert.aligned_crop(waves[0][:5000], targets.utterance_labels[0], 8000, 400, 320, rng)
    assert none is None and short.shape == (8000,)  # repeat-padded; its labels come from the crop itself


def test_kmeans_reads_the_train_audio_only_and_never_the_labels(tmp_path, waves, monkeypatch):
    for i, w in enumerate(waves):
        write_audio(tmp_path / f"u{i}.flac", w, 16000)
    paths = [str(tmp_path / f"u{i}.flac") for i in range(len(waves))]
    seen = []
    fit = hubert.fit_targets
    monkeypatch.setattr(hubert, "fit_targets", lambda w, h, seed: seen.append(list(w)) or fit(w, h, seed))
    plan = {"backbone": "pretrained", "corpus": "demo", "tiny": vars(TINY), "seed": 0,
            "pretrain": {**H, "hubert": {**H["hubert"], "steps": 2}}}
    weights = []
    for labels in (["bonafide", "spoof"] * 4, ["spoof"] * 8):  # the manifest's labels change nothing
        train = pd.DataFrame({"path": paths, "label": labels, "attack": ["A01"] * 8})
        summary = run_pretrain_plan(build(PretrainPlan, plan, ""), train, tmp_path / "backbone",
                                tmp_path / "random")
        weights.append(backbone_from_folder(tmp_path / "backbone").state_dict())
    assert len(seen[0]) == len(waves)  # the train manifest's audio, every utterance, nothing else
    for got, want in zip(seen[0], waves, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)  # FLAC round trip
    assert all(torch.equal(v, weights[1][k]) for k, v in weights[0].items())
    assert summary["objective"] == "hubert" and summary["kmeans_frames"] == 8 * (1 + (12000 - 400) // 320)
    assert 1 <= summary["kmeans_clusters_used"] <= 8 and summary["kmeans_inertia_per_frame"] > 0


def test_the_loss_reads_the_masked_frames_only(rng):
    logits = torch.from_numpy(rng.normal(size=(3, 20, 7)))
    targets = torch.from_numpy(rng.integers(0, 7, size=(3, 20)))
    mask = torch.from_numpy(rng.random((3, 20)) < 0.3)
    loss, acc = hubert.masked_prediction_loss(logits, targets, mask)
    other = torch.where(mask, targets, (targets + 1) % 7)  # every unmasked target changed
    noisy = torch.where(mask[..., None], logits, logits + 5 * torch.randn(3, 20, 7, dtype=logits.dtype))
    for lg, tg in ((logits, other), (noisy, targets), (noisy, other)):
        again, acc_again = hubert.masked_prediction_loss(lg, tg, mask)
        assert torch.equal(again, loss) and torch.equal(acc_again, acc)
    changed, _ = hubert.masked_prediction_loss(logits, torch.where(mask, (targets + 1) % 7, targets), mask)
    assert not torch.equal(changed, loss)
    want = torch.nn.functional.cross_entropy(logits[mask], targets[mask])  # the mean over masked frames
    torch.testing.assert_close(loss, want)


def test_hubert_pretraining_reduces_its_loss_and_saves_a_loadable_backbone(tmp_path, waves):

    torch.set_num_threads(1)
    p = params(H)
    model = hubert.pretraining_model(p, TINY)
    result = hubert.run_pretraining(model, waves, p, log_every=5)
    s = result.summary
    assert s["fixed_batch_loss_final"] < s["fixed_batch_loss_initial"] - 0.1
    assert s["fixed_batch_accuracy_final"] > s["fixed_batch_accuracy_initial"]
    assert 0 < s["fixed_batch_masked_fraction"] < 1 and s["cpu_seconds"] > 0
    assert result.log[-1]["step"] == p.steps - 1 and set(result.log[0]) >= {"step", "loss", "accuracy"}
    _check_saved_backbone(model, tmp_path / "bb", waves)


def test_hubert_pretraining_is_deterministic_and_starts_from_the_same_init_as_wav2vec2(waves):
    p = params(H, steps=3)
    states = []
    for _ in range(2):
        model = hubert.pretraining_model(p, TINY)
        result = hubert.run_pretraining(model, waves, p)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        assert result.summary["steps"] == 3
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    # the random-init control is the same whichever objective pretrains it
    start_h = hubert.pretraining_model(p, TINY).wav2vec2.state_dict()
    start_w = pretraining_model(params(P), TINY).wav2vec2.state_dict()
    assert start_h.keys() == start_w.keys() and all(torch.equal(v, start_w[k]) for k, v in start_h.items())
