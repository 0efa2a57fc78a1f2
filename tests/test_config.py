"""params.yaml validation and plan resolution (what DVC re-runs when a param changes)."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sdd.config import load_params, make_plan, validate_params
from sdd.configbase import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def plan_of(raw, **changes):
    data = copy.deepcopy(raw)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return make_plan(validate_params(data))


def changed(a, b):
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


ALIGNED_ARMS = {f"dual_path_{m}": m for m in ("pcgrad", "gradvac", "cagrad", "gr")}


def test_default_params_validate_and_resolve_the_default_arms(raw):
    loaded = load_params(REPO / "params.yaml")
    assert set(loaded.arms) == {"main", "clean", *ALIGNED_ARMS, "lora", "attm"}
    assert "augmented" not in loaded.arms, "the pooled baseline optimises main's objective (methods.md)"
    assert loaded.arms["main"].regime == "dual_path" and loaded.arms["main"].align == "none"
    assert loaded.arms["clean"].regime == "clean"
    for arm, method in ALIGNED_ARMS.items():
        assert loaded.arms[arm].regime == "dual_path" and loaded.arms[arm].align == method
        assert loaded.arms[arm].aligner.granularity == ("per_tensor" if method == "gr" else "global")
    assert loaded.arms["lora"].lora and loaded.arms["lora"].model.finetune == "lora"
    attm = loaded.arms["attm"].model
    assert (attm.merge, attm.head, attm.finetune) == ("attm", "lstm", "partial")
    assert not loaded.arms["main"].lora and loaded.arms["main"].model.finetune == "full"
    assert loaded.eval_sets == (("demo", "eval"), ("demo", "eval_degraded"))
    # LoRA and AttM are not degenerate on the demo backbone: >= 4 layers (AttM's bottleneck has L/2 units).
    assert loaded.arms["attm"].model.tiny.num_layers >= 4


def test_lora_true_switches_main_to_lora_and_changes_only_main(raw):
    base, new = plan_of(raw), plan_of(raw, lora=True)
    assert new["arms/main.json"]["arm"]["lora"] is True
    assert new["arms/main.json"]["arm"]["model"]["finetune"] == "lora"
    assert changed(base, new) == ["arms/main.json"]


@pytest.mark.parametrize("method", ["gradvac", "cagrad", "gr"])
def test_align_toggle_takes_every_method_and_changes_only_main(raw, method):
    base, new = plan_of(raw), plan_of(raw, align=method)
    assert new["arms/main.json"]["arm"]["align"] == method
    assert changed(base, new) == ["arms/main.json"]


def test_an_aligner_setting_changes_only_the_arms_using_that_method(raw):
    base = plan_of(raw)
    assert changed(base, plan_of(raw, aligner__gr__k=3.0)) == ["arms/dual_path_gr.json"]
    assert changed(base, plan_of(raw, aligner__granularity="per_tensor")) == sorted(
        f"arms/{a}.json" for a in ("dual_path_pcgrad", "dual_path_gradvac", "dual_path_cagrad")
    ), "auto already means per_tensor for GR, and granularity means nothing without alignment"
    arms = copy.deepcopy(raw["arms"])
    arms["dual_path_gradvac"] = {**arms["dual_path_gradvac"], "aligner": {"gradvac": {"ema": "paper"}}}
    new = plan_of(raw, arms=arms)
    assert changed(base, new) == ["arms/dual_path_gradvac.json"]
    assert new["arms/dual_path_gradvac.json"]["arm"]["aligner"]["gradvac"] == {"beta": 0.5, "ema": "paper"}


def test_align_true_means_pcgrad_and_changes_only_main(raw):
    base, new = plan_of(raw), plan_of(raw, align=True)
    assert new["arms/main.json"]["arm"]["align"] == "pcgrad"
    assert changed(base, new) == ["arms/main.json"]


def test_training_seed_never_touches_data_stages(raw):
    diff = changed(plan_of(raw), plan_of(raw, seed=1))
    assert diff == sorted(f"arms/{arm}.json" for arm in raw["arms"])


def test_augment_policy_change_leaves_fetch_and_prepare(raw):
    diff = changed(plan_of(raw), plan_of(raw, augment__policy="rawboost5"))
    assert "fetch.json" not in diff and "prepare.json" not in diff and "augment.json" in diff


@pytest.mark.parametrize(
    "changes,needles",
    [
        ({"model__finetune": "lora"}, ["arms.main", "lora=false", "`lora` toggle"]),
        ({"arms__main": {"lora": True, "model": {"finetune": "partial"}}}, ["arms.main", "lora=true"]),
        ({"model__lora__r": 0}, ["model.lora.r", "positive"]),
        ({"model__lora__dropout": 1.5}, ["model.lora.dropout"]),
        ({"model__merge": "mean"}, ["model.merge", "'mean'", "attm"]),
        ({"model__head": "mlp"}, ["model.head", "'mlp'", "lstm"]),
        ({"model__head": "aasist", "train__dual_path": {"forward": "separate"}},
         ["model.head", "'separate'", "joint"]),
        ({"model__layers": 9}, ["model.layers", "9", "4 layers"]),
        ({"model__merge": "index", "model__layer": 7}, ["model.layer", "7"]),
        ({"model__finetune": "partial", "model__partial": {"layers": 5}}, ["model.partial.layers", "5"]),
        ({"model__partial": {"layers": 1, "side": "middle"}}, ["model.partial.side", "'middle'", "bottom"]),
        ({"model__merge": "attm", "model__layers": 1}, ["attm", "at least 2"]),
        ({"model__attm": {"middle": True}}, ["model.attm", "middle_linear"]),
        ({"align": "maybe"}, ["align", "'maybe'", "pcgrad", "gradvac", "cagrad", "gr"]),
        ({"aligner__granularity": "layer"}, ["aligner.granularity", "'layer'", "per_tensor"]),
        ({"aligner__gr__k": 0.5}, ["aligner.gr.k", "expected > 1"]),
        ({"aligner__gradvac__ema": "x"}, ["aligner.gradvac.ema", "'paper'"]),
        ({"aligner__bogus": 1}, ["aligner", "bogus"]),
        ({"train__dual_path": {"forward": "both"}}, ["train.dual_path.forward", "'joint'"]),
        ({"train__patience": 0}, ["train.patience", "null"]),
        ({"train__monitor": "eval_eer"}, ["train.monitor", "'dev_eer'"]),
        ({"train__freeze_backbone_epochs": 99}, ["train.freeze_backbone_epochs", "fewer than epochs"]),
        ({"train__lr": "abc"}, ["train.lr", "'abc'", "number"]),
        ({"train__epochs": 0}, ["train.epochs", "positive"]),
        ({"regime": "triple"}, ["regime", "'triple'", "dual_path"]),
        ({"unknown": 1}, ["unknown key", "'unknown'"]),
        ({"train__bogus": 1}, ["train", "bogus"]),
        ({"corpus": "nope"}, ["corpus", "'nope'"]),
        ({"eval_sets": ["demo:nosuch"]}, ["eval_sets[0]", "nosuch", "eval_degraded"]),
        ({"eval_sets": ["demo:train"]}, ["eval_sets", "training"]),
        ({"eval_sets": ["nocolon"]}, ["eval_sets[0]", "<corpus name>:<split>"]),
        ({"backbone": "tiny-nonexistent"}, ["backbone", "tiny-wavlm"]),
        ({"arms__main": {"regime": "augmented", "align": "pcgrad"}}, ["arms.main", "dual_path"]),
        ({"arms__main": {"colour": "red"}}, ["arms.main", "colour"]),
    ],
)
def test_bad_values_give_one_clear_error(raw, changes, needles):
    with pytest.raises(ConfigError) as info:
        plan_of(raw, **changes)
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_plan_stage_fails_with_one_line_and_restore_hint(tmp_path, raw):
    bad = copy.deepcopy(raw)
    bad["align"] = "maybe"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "stages/plan.py"),
            "--params",
            str(tmp_path / "params.yaml"),
            "--out",
            str(tmp_path / "plan"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: params.yaml: align: got 'maybe'")
    assert "git checkout params.yaml" in proc.stderr
    assert not (tmp_path / "plan").exists(), "nothing is written on a validation error"
