"""LayerDrop under ``train.dual_path.forward: separate``: one draw per step for both paths, as DPDA's
joint forward (issue 23, item 4), on tiny models of the families the presets use (XLS-R's wav2vec2 and
WavLM Large's configs at a tiny size, LayerDrop 0.1 as published)."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch
from torch import nn

from sdd.models.detector import Detector
from sdd.models.layerdrop import ENCODERS, check_shared_layerdrop, shared_layerdrop
from sdd.models.params import ModelParams
from sdd.train import step as step_module
from sdd.train.loop import _seed_step, fit
from sdd.train.params import DualPathParams
from sdd.train.step import AUG, CLEAN, Buffers, accumulate_dual, resolve_forward
from tests.helpers.hub import FAMILIES, tiny_model
from tests.helpers.train import make_arm, make_corpus, without_dropout

IDS = list(FAMILIES)


def null():
    return contextlib.nullcontext()


class LayerLog:
    """Which encoder layers ran (forward pre-hooks), by index."""

    def __init__(self, encoder: nn.Module) -> None:
        self.ran: list[int] = []
        for i, layer in enumerate(encoder.layers):
            layer.register_forward_pre_hook(lambda *_, i=i: self.ran.append(i))


@pytest.mark.parametrize("repo_id", IDS)
def test_the_shared_draw_runs_what_transformers_runs(repo_id):
    """Under the same RNG state the shared draw keeps the layers transformers' own loop keeps, and the
    encoder's output is bit-identical: skipping a layer by leaving it out of the list is what the loop
    does. LayerDrop 0.5, dropout and masking off (the draws are then the only random numbers)."""
    model = without_dropout(tiny_model(repo_id, layerdrop=0.5, apply_spec_augment=False)).train()
    log, layers = LayerLog(model.encoder), model.encoder.layers
    x = torch.randn(2, 1600, generator=torch.Generator().manual_seed(0))
    masks = set()
    for seed in range(8):
        torch.manual_seed(seed)
        expected = model(x).last_hidden_state
        ran, log.ran[:] = list(log.ran), []
        torch.manual_seed(seed)
        with shared_layerdrop(model) as kept:
            got = model(x).last_hidden_state
            assert model.config.layerdrop == 0.0, "transformers' own draws are off inside"
        assert kept == {"encoder": ran} and log.ran == ran
        assert torch.equal(got, expected)
        assert model.encoder.layers is layers and model.config.layerdrop == 0.5, "restored on exit"
        log.ran.clear()
        masks.add(tuple(ran))
    assert len(masks) > 2 and min(map(len, masks)) < len(layers), f"the seeds must drop layers: {masks}"
    if ENCODERS[type(model.encoder).__name__].first_droppable == 1:
        assert all(m[:1] == (0,) for m in masks), "WavLM never drops its first layer"


def test_nothing_is_drawn_without_layerdrop_or_in_eval_mode():
    """A model without LayerDrop (the demo's backbone) or in eval mode: no draw, the RNG is untouched."""
    for model in (tiny_model(IDS[0], layerdrop=0.0).train(), tiny_model(IDS[0]).eval()):
        state = torch.get_rng_state()
        with shared_layerdrop(model) as kept:
            assert kept == {}
        assert torch.equal(torch.get_rng_state(), state)


def _detector(repo_id: str, **config) -> Detector:
    return Detector(tiny_model(repo_id, **config), ModelParams()).train()


@pytest.mark.parametrize("repo_id", IDS)
def test_both_paths_get_a_gradient_or_neither(repo_id, monkeypatch):
    """LayerDrop 0.1 (the published configs'), dropout and SpecAugment on, separate passes, the loop's
    per-step seeding: over 8 steps every trainable tensor gets a gradient from both paths or from
    neither, and the tensors without one are exactly those of the layers that did not run. Without
    the shared draw (transformers drawing once per pass) the same steps break it."""

    def run(steps: int) -> tuple[int, int]:
        model = _detector(repo_id)
        params = [p for p in model.parameters() if p.requires_grad]
        names = {id(p): n for n, p in model.named_parameters()}
        log = LayerLog(model.backbone.encoder)
        gen = torch.Generator().manual_seed(1)
        y, w = torch.tensor([0, 1, 1]), torch.tensor([0.1, 0.9])
        one_sided = dropped_steps = 0
        for step in range(steps):
            _seed_step(3, step, 0)
            x_c, x_a = torch.randn(3, 1600, generator=gen), torch.randn(3, 1600, generator=gen)
            buffers, log.ran[:] = Buffers(params), []
            accumulate_dual(model, buffers, x_c, x_a, y, w, "separate", null)
            clean, aug = buffers.grads[CLEAN], buffers.grads[AUG]
            one_sided += sum((c is None) != (a is None) for c, a in zip(clean, aug, strict=True))
            skipped = set(range(len(model.backbone.encoder.layers))) - set(log.ran)
            dropped_steps += bool(skipped)
            if not one_sided:
                without = {names[id(p)] for p, c in zip(params, clean, strict=True) if c is None}
                layer_of = {f"backbone.encoder.layers.{i}." for i in skipped}
                expected = {n for n in names.values() if n.startswith(tuple(layer_of))}
                assert without == expected, (step, sorted(without ^ expected))
        return one_sided, dropped_steps

    one_sided, dropped_steps = run(8)
    assert one_sided == 0
    assert dropped_steps >= 2, "LayerDrop must have dropped something, or the test shows nothing"
    monkeypatch.setattr(step_module, "shared_layerdrop", lambda model: contextlib.nullcontext())
    unshared, _ = run(8)
    assert unshared > 0, "transformers' per-pass draws give one-sided gradients: the check can fail"


@pytest.mark.parametrize("repo_id", IDS)
def test_separate_passes_equal_the_joint_forward_under_layerdrop(repo_id):
    """With the shared draw, the separate passes' per-path gradients are the joint forward's (DPDA's
    step) under LayerDrop, step by step (float64; dropout and masking off, so that the LayerDrop draws
    are the only random numbers and both forwards draw the same mask from the same seed)."""
    model = without_dropout(_detector(repo_id, layerdrop=0.3, apply_spec_augment=False).double())
    params = [p for p in model.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(2)
    y, w = torch.tensor([0, 1, 1]), torch.tensor([0.1, 0.9], dtype=torch.float64)
    active_counts = set()
    for step in range(6):
        x_c = torch.randn(3, 1600, generator=gen, dtype=torch.float64)
        x_a = torch.randn(3, 1600, generator=gen, dtype=torch.float64)
        out = {}
        for forward in ("separate", "joint"):
            _seed_step(5, step, 0)
            buffers = Buffers(params)
            accumulate_dual(model, buffers, x_c, x_a, y, w, forward, null)
            out[forward] = buffers.reduce([CLEAN, AUG])
        (act_s, grads_s, loss_s), (act_j, grads_j, loss_j) = out["separate"], out["joint"]
        assert act_s == act_j
        active_counts.add(len(act_s))
        for path in (CLEAN, AUG):
            assert loss_s[path] == pytest.approx(loss_j[path], rel=1e-12)
            for g_s, g_j in zip(grads_s[path], grads_j[path], strict=True):
                torch.testing.assert_close(g_s, g_j, rtol=1e-9, atol=1e-12)
    assert len(active_counts) > 1, "some step must have dropped layers"


class _OddEncoder(nn.Module):
    """An encoder with LayerDrop on that is not in ENCODERS."""

    def __init__(self) -> None:
        super().__init__()
        self.config = type("Config", (), {"layerdrop": 0.1})()
        self.layers = nn.ModuleList([nn.Linear(2, 2)])


def test_an_unknown_layerdrop_module_is_refused_for_separate_and_auto_takes_joint():
    model = nn.Sequential(_OddEncoder())
    with pytest.raises(ValueError, match=r"same LayerDrop mask in 0 \(_OddEncoder, LayerDrop 0.1\).*'joint'"):
        check_shared_layerdrop(model)
    with pytest.raises(ValueError, match="_OddEncoder"):
        resolve_forward(model, "separate")
    assert resolve_forward(model, "auto") == "joint"
    assert resolve_forward(model, "joint") == "joint"
    assert resolve_forward(_detector(IDS[1]), "auto") == "separate", "known encoders share the draw"


@pytest.mark.slow  # two short fits
def test_fit_under_layerdrop_and_specaugment_is_deterministic(tmp_path):
    """Same seed -> same weights with LayerDrop and SpecAugment on (numpy's generator, from which
    transformers draws the masks, is seeded per step), and another seed -> other weights."""
    train, dev, aug, aug_dir = make_corpus(tmp_path / "corpus")
    tiny_model(IDS[0]).save_pretrained(tmp_path / "backbone")
    arm = make_arm("dual_path", "pcgrad", epochs=1)
    arm = dataclasses.replace(
        arm,
        backbone=str(tmp_path / "backbone"),
        train=dataclasses.replace(arm.train, dual_path=DualPathParams("separate")),
    )

    def weights(a):
        model, _ = fit(a, train, dev, aug, aug_dir)
        return model.state_dict()

    first, second = weights(arm), weights(arm)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    other = weights(dataclasses.replace(arm, seed=arm.seed + 1))
    assert any(not torch.equal(first[k], other[k]) for k in first)
