"""Backbones, truncation, fine-tuning modes, LoRA, layer merges and heads (issue 10).

Oracles are the papers' formulas and the libraries' own definitions (peft's LoRA shapes, the
transformers model's own layers and hidden states), not our code re-derived.
"""

import copy
import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sdd.audio.io import write_audio
from sdd.core.configbase import ConfigError
from sdd.core.sections import ScoreParams
from sdd.models import params as model_params
from sdd.models.backbone import BackboneUnavailable, build_backbone
from sdd.models.detector import Detector, load_detector, parameter_counts
from sdd.models.heads import HEADS, LstmHead
from sdd.models.lora import apply_lora, route_wavlm_attention_through_modules
from sdd.models.merges import AttM, WeightedSum
from sdd.models.params import (
    MERGES,
    LoraParams,
    ModelParams,
    PartialParams,
    TinyBackboneParams,
    check_backbone_name,
)
from sdd.scoring.score import score_paths
from sdd.train.arm_model import load_arm, save_arm
from sdd.train.loop import fit
from sdd.train.params import ArmConfig, DualPathParams, TrainParams
from tests.helpers import REPO

TINY = TinyBackboneParams(conv_channels=8, hidden_size=16, num_layers=4, num_heads=2, intermediate_size=16)
BACKBONES = ("tiny-wavlm", "tiny-wav2vec2")


def backbone(name="tiny-wavlm", seed=0, tiny=TINY):
    torch.manual_seed(seed)
    return build_backbone(name, tiny)


def detector(name="tiny-wavlm", seed=0, **model):
    torch.manual_seed(seed)
    return Detector(build_backbone(name, TINY), ModelParams(tiny=TINY, **model))


def wave(batch=2, samples=6400, seed=1):
    return torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


def arm_for(model: ModelParams, regime="clean", **train) -> ArmConfig:
    tp = dict(epochs=1, batch_size=4, lr=1e-2, crop_samples=3200, patience=1, average_best=1, threads=1,
              telemetry_every=1, dev_samples=4000)
    tp.update(train)
    return ArmConfig(name="t", corpus="synthetic", backbone="tiny-wavlm", regime=regime, align="none",
                     seed=3, model=model, train=TrainParams(**tp))


# ---- LoRA ----


@pytest.mark.parametrize("name", BACKBONES)
def test_lora_at_init_gives_the_base_models_outputs_exactly(name):
    # Compared with the frozen base model: torch picks another kernel for a linear layer whose weight
    # requires grad (WavLM feeds its projections non-contiguous inputs), which moves the last bit.
    model = backbone(name).eval().requires_grad_(False)
    x = wave()
    base = model(x, output_hidden_states=True)
    apply_lora(model, LoraParams(r=4, alpha=8, dropout=0.1))
    adapted = model(x, output_hidden_states=True)
    assert torch.equal(base.last_hidden_state, adapted.last_hidden_state)
    assert all(torch.equal(a, b) for a, b in zip(base.hidden_states, adapted.hidden_states, strict=True))


@pytest.mark.parametrize("name", BACKBONES)
def test_lora_trainable_parameters_are_r_times_din_plus_dout_per_adapted_matrix(name):
    r = 4
    base = backbone(name)
    expected = sum(
        r * (m.in_features + m.out_features)
        for n, m in base.named_modules()
        if isinstance(m, torch.nn.Linear) and n.split(".")[-1] in ("q_proj", "v_proj")
    )
    assert expected == TINY.num_layers * 2 * r * (16 + 16)  # every layer, q and v
    model = Detector(base, ModelParams(tiny=TINY, finetune="lora", lora=LoraParams(r=r)))
    head = 16 * 2 + 2
    assert parameter_counts(model.backbone)["trainable_parameters"] == expected
    assert parameter_counts(model)["trainable_parameters"] == expected + head
    assert parameter_counts(model)["total_parameters"] == sum(p.numel() for p in base.parameters()) + head


@pytest.mark.parametrize("name", BACKBONES)
def test_after_training_steps_only_lora_and_head_parameters_changed(name):
    model = detector(name, finetune="lora", lora=LoraParams(r=4, alpha=8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = wave(4), torch.tensor([0, 1, 0, 1])
    for _ in range(2):  # step 1 moves B (A's gradient is B^T(...) = 0 while B = 0), step 2 moves A too
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    adapters = {k for k in before if re.search(r"\.lora_[AB]\.", k)}
    head = {k for k in before if k.startswith("head.")}
    assert changed == adapters | head, "only adapters and head train; every adapter is on the forward path"


def test_wavlm_attention_through_modules_is_bit_identical_to_transformers():
    """The rerouted WavLM attention (needed so peft's q/v wrappers are called) computes exactly what
    transformers' F.multi_head_attention_forward path does: outputs and gradients, dropout on."""
    original = backbone("tiny-wavlm").train()
    rerouted = copy.deepcopy(original)
    assert route_wavlm_attention_through_modules(rerouted) == TINY.num_layers
    x = wave()
    outs = []
    for model in (original, rerouted):
        torch.manual_seed(7)  # same dropout masks
        out = model(x, output_hidden_states=True)
        (out.last_hidden_state.square().sum() + sum(h.sum() for h in out.hidden_states)).backward()
        outs.append(out)
    assert torch.equal(outs[0].last_hidden_state, outs[1].last_hidden_state)
    for p, q in zip(original.parameters(), rerouted.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)


def test_lora_refuses_adapters_that_the_forward_never_calls(monkeypatch):
    # Without the rerouting, WavLM reads q_proj.weight directly and peft's wrappers would be ignored.
    monkeypatch.setattr("sdd.models.lora.route_wavlm_attention_through_modules", lambda model: 0)
    with pytest.raises(ValueError, match="never called"):
        apply_lora(backbone("tiny-wavlm"), LoraParams())


def test_peft_errors_reach_the_user_unchanged():
    with pytest.raises(ValueError, match=r"Target modules \{'nope'\} not found in the base model"):
        apply_lora(backbone("tiny-wav2vec2"), LoraParams(target_modules=("nope",)))


# ---- truncation, fine-tuning modes, LayerDrop ----


@pytest.mark.parametrize("name", BACKBONES)
def test_truncation_keeps_the_first_k_layers_and_removes_the_rest(name):
    full = backbone(name).eval()
    per_layer = sum(p.numel() for p in full.encoder.layers[-1].parameters())
    x = wave()
    with FlopCounterMode(display=False) as flops_full:
        ref = full(x, output_hidden_states=True).hidden_states
    model = Detector(copy.deepcopy(full), ModelParams(tiny=TINY, layers=2, merge="weighted")).eval()
    bb = model.backbone
    assert len(bb.encoder.layers) == 2 and bb.config.num_hidden_layers == 2
    n_full = sum(p.numel() for p in full.parameters())
    assert sum(p.numel() for p in bb.parameters()) == n_full - 2 * per_layer
    calls = []
    for layer in bb.encoder.layers:
        layer.register_forward_hook(lambda *a: calls.append(1))
    with FlopCounterMode(display=False) as flops_cut:
        states = bb(x, output_hidden_states=True).hidden_states
    assert len(calls) == 2 and len(states) == 3
    assert all(torch.equal(a, b) for a, b in zip(states, ref[:3], strict=True)), "the same first k layers"
    assert flops_cut.get_total_flops() < flops_full.get_total_flops()


@pytest.mark.parametrize("side,kept", [("top", {2, 3}), ("bottom", {0, 1})])
def test_partial_trains_exactly_the_chosen_layers(side, kept):
    model = detector(finetune="partial", partial=PartialParams(layers=2, side=side))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {f"backbone.{n}" for n, _ in model.backbone.named_parameters()
                if re.match(rf"encoder\.layers\.({'|'.join(map(str, kept))})\.", n)}
    assert trainable == expected | {"head.proj.weight", "head.proj.bias"}


def test_frozen_and_feature_encoder_freezing():
    frozen = detector(finetune="frozen", merge="weighted")
    assert {n for n, p in frozen.named_parameters() if p.requires_grad} == {
        "merge.weight", "head.proj.weight", "head.proj.bias"}
    frozen.train()
    assert not frozen.backbone(wave()).last_hidden_state.requires_grad, "no backward into a frozen backbone"
    cnn = detector(freeze_feature_encoder=True)
    frozen_names = {n for n, p in cnn.backbone.named_parameters() if not p.requires_grad}
    encoder = cnn.backbone.feature_extractor
    assert frozen_names == {f"feature_extractor.{n}" for n, _ in encoder.named_parameters()}


@pytest.mark.parametrize("merge", ["weighted", "attm", "index"])
def test_layerdrop_is_off_when_layers_are_collected(merge):
    bb = backbone()
    bb.config.layerdrop = 0.5
    model = Detector(bb, ModelParams(tiny=TINY, merge=merge)).train()
    assert model.backbone.config.layerdrop == 0.0
    assert all(len(model.hidden_states(wave())) == TINY.num_layers + 1 for _ in range(8))
    kept = backbone()
    kept.config.layerdrop = 0.5
    assert Detector(kept, ModelParams(tiny=TINY)).backbone.config.layerdrop == 0.5, "merge last keeps it"


# ---- merges and heads ----


def test_attm_follows_the_papers_formula_and_weights_lie_in_0_1():
    """methods.md §4 (Pan et al. 2024): X2 = mean_T X1; X3 = SiLU(X2 W); a = sigmoid(SiLU(X3 W1) W2);
    concatenation per frame in the released order (B, T, H, L); proj = Linear -> SiLU -> Linear."""
    torch.manual_seed(0)
    b, n_layers, frames, hidden = 3, 4, 7, 16
    attm = AttM(n_layers, hidden)
    assert attm.W.shape == (hidden, 1) and attm.W1.shape == (4, 2) and attm.W2.shape == (2, 4)
    x1 = torch.randn(b, n_layers, frames, hidden)
    x3 = F.silu(x1.mean(dim=2) @ attm.W)[..., 0]  # (B, L)
    a = torch.sigmoid(F.silu(x3 @ attm.W1) @ attm.W2)  # (B, L)
    assert a.shape == (b, n_layers) and bool(((a > 0) & (a < 1)).all())
    xc = (a[:, :, None, None] * x1).permute(0, 2, 3, 1).reshape(b, frames, hidden * n_layers)
    lin1, lin2 = attm.proj[0], attm.proj[2]
    assert (lin1.in_features, lin1.out_features, lin2.out_features) == (64, 16, 16)
    expected = lin2(F.silu(lin1(xc)))
    assert torch.allclose(attm.layer_weights(x1), a) and torch.allclose(attm.merge(x1), expected)
    # The released nn.SiLU(nn.Linear(h, h)) is an in-place SiLU: that Linear never runs.
    released_silu = torch.nn.SiLU(torch.nn.Linear(16, 16))
    assert torch.equal(released_silu(lin1(xc)), F.silu(lin1(xc)))
    middle = AttM(n_layers, hidden, middle_linear=True)
    assert [type(m).__name__ for m in middle.proj] == ["Linear", "SiLU", "Linear", "SiLU", "Linear"]


def test_linm_is_a_softmax_weighted_sum_starting_from_the_mean():
    merge = WeightedSum(3)
    states = tuple(torch.randn(2, 5, 4) for _ in range(4))
    out = type("Out", (), {"hidden_states": states})()
    assert torch.allclose(merge(out), torch.stack(states[1:]).mean(dim=0), atol=1e-6)  # input dropped
    with torch.no_grad():
        merge.weight.copy_(torch.tensor([0.0, 1.0, 2.0]))
    w = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    assert torch.allclose(merge(out), sum(w[i] * states[i + 1] for i in range(3)), atol=1e-6)


def test_lstm_head_is_attms_back_end():
    head = LstmHead(16)
    assert (head.lstm.input_size, head.lstm.hidden_size, head.lstm.num_layers) == (16, 192, 1)
    x = torch.randn(2, 9, 16)
    out, _ = head.lstm(x)
    assert torch.equal(head(x), head.proj(out.mean(dim=1)))


def test_head_registry_is_the_declared_heads_that_exist():
    assert set(HEADS) == set(model_params.HEADS) - set(model_params.HEADS_NOT_YET)


def test_aasist_head_with_per_path_regimes_needs_the_joint_step():
    model = ModelParams(head="aasist")
    for regime in ("dual_path", "augmented"):
        with pytest.raises(ConfigError, match="BatchNorm.*'joint'"):
            arm_for(model, regime, dual_path=DualPathParams(forward="separate"))
        assert arm_for(model, regime).train.dual_path.forward == "auto"
    assert arm_for(model, "clean").model.head == "aasist"


@pytest.mark.parametrize("merge", MERGES)
@pytest.mark.parametrize("head", ["linear", "lstm", "aasist"])
def test_every_merge_and_head_trains_a_step_and_reloads_to_identical_scores(merge, head, tmp_path):
    params = ModelParams(tiny=TINY, merge=merge, head=head, layer=2)
    model = detector(merge=merge, head=head, layer=2).train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    before = {k: v.clone() for k, v in model.merge.state_dict().items()}
    F.cross_entropy(model(wave(4)), torch.tensor([0, 1, 0, 1])).backward()
    opt.step()
    assert all(not torch.equal(before[k], v) for k, v in model.merge.state_dict().items()), "merge trains"
    model.eval()
    save_arm(model, arm_for(params), tmp_path / "m")
    loaded, _ = load_detector(tmp_path / "m")
    x = wave(3, 8000, seed=5)
    assert torch.equal(Detector.scores(model(x)), Detector.scores(loaded(x)))


# ---- training through the loop, LoRA checkpoints ----


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    rows, aug_rows = [], []
    for i in range(10):
        label = "bonafide" if i % 2 == 0 else "spoof"
        t = np.arange(int(16000 * 0.25)) / 16000
        w = 0.3 * np.sin(2 * np.pi * 150 * t) if label == "bonafide" else 0.3 * rng.standard_normal(t.size)
        noisy = w + 0.05 * rng.standard_normal(t.size)
        write_audio(root / f"u{i}.flac", w.astype(np.float32), 16000)
        write_audio(root / "aug" / f"u{i}__aug0.flac", noisy.astype(np.float32), 16000)
        rows.append({"utt_id": f"u{i}", "path": str(root / f"u{i}.flac"), "label": label})
        aug_rows.append(
            {"utt_id": f"u{i}__aug0", "source_utt_id": f"u{i}", "copy": 0, "path": f"u{i}__aug0.flac"}
        )
    df = pd.DataFrame(rows)
    return df[:6], df[6:], pd.DataFrame(aug_rows[:6]), root / "aug"


@pytest.mark.parametrize(
    "model",
    [
        ModelParams(tiny=TINY, finetune="lora"),
        ModelParams(tiny=TINY, merge="attm", head="lstm", finetune="partial"),
    ],
    ids=["lora", "attm"],
)
def test_fit_dual_path_is_deterministic_and_checkpoint_scores_identically(corpus, model, tmp_path):
    train, dev, aug, aug_dir = corpus
    arm = arm_for(model, "dual_path")
    m1, r1 = fit(arm, train, dev, aug, aug_dir)
    m2, _ = fit(arm, train, dev, aug, aug_dir)
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert r1.summary["trainable_parameters"] == parameter_counts(m1)["trainable_parameters"]
    save_arm(m1, arm, tmp_path / "m")
    if model.finetune == "lora":
        from safetensors.torch import load_file

        stored = load_file(str(tmp_path / "m" / "model.safetensors"))
        assert any(".lora_A." in k for k in stored), "adapters are stored"
        assert any(".base_layer." in k for k in stored), "unmerged, beside the frozen base weights"
    loaded, arm2 = load_arm(tmp_path / "m")
    assert arm2 == arm
    paths = list(dev["path"])
    sp = ScoreParams(num_samples=4000, batch_size=2, threads=1)
    np.testing.assert_array_equal(score_paths(loaded, paths, sp), score_paths(m1, paths, sp))


# ---- backbones from disk and the hub ----


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE=1 with an empty cache, without a subprocess (both are read at call time)."""
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


def test_backbone_from_local_save_pretrained_directory_offline(offline_hub):
    original = backbone("tiny-wav2vec2").eval()
    original.save_pretrained(offline_hub / "local")
    check_backbone_name(str(offline_hub / "local"))
    loaded = build_backbone(str(offline_hub / "local"), TINY).eval()
    assert type(loaded) is type(original)
    x = wave()
    assert torch.equal(original(x).last_hidden_state, loaded(x).last_hidden_state)


def test_uncached_hub_id_gives_one_clear_error(offline_hub):
    with pytest.raises(ValueError, match=r"not in the local Hugging Face cache.*hf download someorg/uncache"):
        check_backbone_name("someorg/uncached")
    with pytest.raises(BackboneUnavailable) as info:
        build_backbone("someorg/uncached", TINY)
    assert "hf download someorg/uncached" in str(info.value)
    assert info.value.__suppress_context__, "no chained traceback"


def test_plan_stage_stops_on_an_uncached_hub_backbone_with_one_line(tmp_path):
    import os
    import subprocess
    import sys

    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["backbone"] = "someorg/uncached"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, str(REPO / "stages/plan.py"), "--params", str(tmp_path / "params.yaml"),
           "--out", str(tmp_path / "plan")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "hf download someorg/uncached" in proc.stderr


def test_trust_remote_code_is_never_on():
    for path in (REPO / "sdd").rglob("*.py"):
        assert not re.search(r"trust_remote_code\s*=\s*True", path.read_text()), path


def test_model_params_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelParams().merge = "attm"  # type: ignore[misc]
