"""The rehearsal's pass criteria (sdd.train.rehearsal.verdict) on synthetic digests, and the rehearsal of
a preset at tiny size through the same code path as benchmarks/rehearsal.py's full-size run."""

from __future__ import annotations

import pytest

from sdd.core.yamlfile import read_yaml
from sdd.plan import arms as plan_arms
from sdd.plan.assemble import validate_params
from sdd.train.architectures import PUBLISHED_ARCHITECTURES
from sdd.train.rehearsal import rehearse, verdict
from tests.helpers import REPO

TRAINABLE = {"a": 4, "layer0.w": 2, "layer1.w": 2, "head.bn1.w": 3}
FROZEN = {"f"}
BEFORE = {"a": b"a0", "layer0.w": b"l0", "layer1.w": b"l1", "head.bn1.w": b"b0", "f": b"f0"}
LAYER_OF = {"layer0.w": 0, "layer1.w": 1}


def check(
    after=None,
    losses=(0.7, 0.6),
    analytic=11,
    ran=(0, 1),
    unused=("head.bn1.w",),
    got=("a", "layer0.w", "layer1.w"),
):
    moved = {"a": b"a1", "layer0.w": b"l0'", "layer1.w": b"l1'"}
    return verdict(
        list(losses),
        TRAINABLE,
        FROZEN,
        BEFORE,
        {**BEFORE, **moved, **(after or {})},
        analytic,
        LAYER_OF,
        set(ran),
        set(unused),
        set(got),
    )


def test_a_step_that_trains_what_the_config_says_passes():
    assert check() == ([], [], ["head.bn1.w"])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (dict(losses=(0.7, float("nan"))), "step 1: loss nan"),
        (dict(analytic=12), "11 trainable parameters; the config gives 12"),
        (dict(after={"f": b"f1"}), "1 frozen tensors changed"),
        (dict(after={"a": b"a0"}, got=("layer0.w", "layer1.w")), "1 trainable tensors got no gradient"),
        (dict(after={"a": b"a0"}), "got a gradient but did not change"),
        (dict(after={"head.bn1.w": b"b1"}), "unused by design got a gradient or changed"),
        (dict(unused=()), "1 trainable tensors got no gradient"),  # bn1 unexplained without the list
        # a layer that ran in some step must change; one skipped in every step is excused...
        (dict(after={"layer1.w": b"l1"}, got=("a", "layer0.w")), "got no gradient"),
    ],
)
def test_each_criterion_fails_on_its_own(case, message):
    problems, _, _ = check(**case)
    assert len(problems) == 1 and message in problems[0], problems


def test_layerdrop_excuses_only_a_layer_skipped_in_every_step_without_a_gradient():
    problems, dropped, _ = check(after={"layer1.w": b"l1"}, ran=(0,), got=("a", "layer0.w"))
    assert problems == [] and dropped == ["layer1.w"]
    problems, dropped, _ = check(after={"layer1.w": b"l1"}, ran=(0,))  # it got a gradient: not excused
    assert dropped == [] and "got a gradient but did not change" in problems[0]


#: Tiny sizes of the published architectures (the same fields, overridden).
TINY = dict(
    conv_dim=(8,) * 7,
    hidden_size=16,
    num_hidden_layers=3,
    num_attention_heads=2,
    intermediate_size=16,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)


def published_only(backbone: str) -> None:
    """The plan's backbone check, passing the published architectures (built from their config, never
    loaded from the Hugging Face cache)."""
    if backbone not in PUBLISHED_ARCHITECTURES:
        raise ValueError(f"unexpected backbone {backbone!r}")


def preset_arm(monkeypatch, name: str, **overrides):
    monkeypatch.setattr(plan_arms, "check_backbone_name", published_only)
    raw = read_yaml(REPO / "params.yaml")
    raw.update(preset=name, preset_overrides=overrides, corpus="la19")
    return validate_params(raw, REPO / "presets").arms["main"]


@pytest.mark.slow
def test_dpda_pcgrad_rehearses_at_tiny_size(monkeypatch):
    """DPDA's recipe (dual path, joint forward, PCGrad, Adam, SSL-AASIST head) at tiny size and short
    crops passes, and its trainable count is the config's."""
    arm = preset_arm(
        monkeypatch,
        "dpda_pcgrad",
        train={"crop_samples": 16000, "dev_samples": 16000},
        score={"num_samples": 16000},
    )
    out = rehearse(arm, per_path=1, **TINY)
    (stage,) = out["stages"]
    assert out["forward"] == "joint" and stage.passed, stage.problems
    assert stage.trainable == stage.analytic == out["parameters"] and stage.frozen_tensors == 0
    assert len(stage.unused_by_design) == 10 and all(".bn1." in n for n in stage.unused_by_design)
    assert stage.flops_step > 0 and stage.saved_bytes > 0 and out["dev_flops_per_utterance"] > 0


@pytest.mark.slow
def test_a_rehearsal_fails_when_the_step_changes_nothing(monkeypatch):
    """The same path with LoRA at a learning rate of 1e-30: the adapters get gradients, but the
    updates round away, and the rehearsal says so."""
    arm = preset_arm(
        monkeypatch,
        "lora_xlsr",
        train={"crop_samples": 16000, "dev_samples": 16000, "lr": 1e-30, "lora_lr": 1e-30},
        score={"num_samples": 16000},
    )
    (stage,) = rehearse(arm, per_path=2, **TINY)["stages"]
    assert stage.trainable == stage.analytic < stage.trainable + stage.frozen_tensors
    assert not stage.passed and "got a gradient but did not change" in stage.problems[0]
