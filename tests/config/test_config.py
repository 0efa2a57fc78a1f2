"""params.yaml validation and plan resolution (what DVC re-runs when a param changes)."""

import copy
import subprocess
import sys

import pytest
import yaml

from sdd.core.configbase import ConfigError
from sdd.core.yamlfile import read_yaml
from sdd.plan.assemble import load_params, make_plan, validate_params
from tests.helpers import REPO


@pytest.fixture(scope="module")
def raw():
    return read_yaml(REPO / "params.yaml")  # as the plan stage reads it


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
    # AttM's recipe: its partial model (the first half of the layers), fully fine-tuned after a
    # merge + head stage, AdamW (methods.md, section 4)
    assert (attm.merge, attm.head, attm.finetune) == ("attm", "lstm", "full")
    assert attm.layers is not None and 2 * attm.layers == attm.tiny.num_layers
    attm_train = loaded.arms["attm"].train
    assert attm_train.optimizer == "adamw" and attm_train.freeze_backbone_epochs >= 1
    assert not loaded.arms["main"].lora and loaded.arms["main"].model.finetune == "full"
    assert loaded.eval_sets == (("demo", "eval"), ("demo", "eval_degraded"))
    # LoRA and AttM are not degenerate on the demo backbone: >= 4 layers (AttM's bottleneck has L/2 units).
    assert loaded.arms["attm"].model.tiny.num_layers >= 4


def test_lora_true_switches_main_to_lora_and_changes_only_main(raw):
    base, new = plan_of(raw), plan_of(raw, lora=True)
    assert new["arms/main/s0.json"]["arm"]["model"]["finetune"] == "lora"
    # one stored spelling: the resolved arm records LoRA only as model.finetune
    assert "lora" not in new["arms/main/s0.json"]["arm"] and "lora" not in base["arms/lora/s0.json"]["arm"]
    # the report plan carries every arm's resolved config (the report keys MLflow runs by it)
    assert changed(base, new) == ["arms/main/s0.json", "report.json"]


def test_configs_stored_with_the_old_lora_key_still_load_and_are_checked(raw):
    """Models trained before LoRA had one spelling store ``lora`` beside model.finetune."""
    from sdd.train.params import arm_from_dict

    for name in ("main", "lora"):
        stored = copy.deepcopy(plan_of(raw)[f"arms/{name}/s0.json"]["arm"])
        old = {**stored, "lora": name == "lora"}
        assert arm_from_dict(old) == arm_from_dict(stored)
        assert arm_from_dict(old).lora is (name == "lora")
        with pytest.raises(ConfigError, match=rf"arm {name}: stored lora={name != 'lora'}.*model.finetune"):
            arm_from_dict({**stored, "lora": name != "lora"})


def test_lora_runs_train_at_lora_lr_and_the_plan_names_the_rate(raw):
    rates = raw["train"]["lr"], raw["train"]["lora_lr"]
    assert rates[1] is not None and rates[1] != rates[0]
    plan = plan_of(raw)
    assert plan["arms/lora/s0.json"]["arm"]["train"]["lr"] == rates[1]
    assert plan["arms/main/s0.json"]["arm"]["train"]["lr"] == rates[0]
    assert plan_of(raw, lora=True)["arms/main/s0.json"]["arm"]["train"]["lr"] == rates[1]
    # null: LoRA runs use train.lr like every other run
    assert plan_of(raw, train__lora_lr=None)["arms/lora/s0.json"]["arm"]["train"]["lr"] == rates[0]
    # an arm's own lora_lr wins over the base one
    own = {**raw["arms"]["lora"], "train": {"lora_lr": 0.02}}
    assert plan_of(raw, arms__lora=own)["arms/lora/s0.json"]["arm"]["train"]["lr"] == 0.02


def test_changing_lora_lr_changes_the_lora_arms_plans_alone(raw):
    # Each train stage depends on its arm's plan file: a rate only LoRA runs use must not retrain the rest.
    base, new = plan_of(raw), plan_of(raw, train__lora_lr=raw["train"]["lora_lr"] * 2)
    changed = sorted(k for k in base if k.startswith("arms/") and base[k] != new[k])
    assert changed == ["arms/lora/s0.json"]
    assert new["arms/lora/s0.json"]["arm"]["train"]["lr"] == raw["train"]["lora_lr"] * 2
    assert base["arms/main/s0.json"]["arm"]["train"]["lora_lr"] is None


@pytest.mark.parametrize("method", ["gradvac", "cagrad", "gr"])
def test_align_toggle_takes_every_method_and_changes_only_main(raw, method):
    base, new = plan_of(raw), plan_of(raw, align=method)
    assert new["arms/main/s0.json"]["arm"]["align"] == method
    assert changed(base, new) == ["arms/main/s0.json", "report.json"]


def test_an_aligner_setting_changes_only_the_arms_using_that_method(raw):
    base = plan_of(raw)
    assert changed(base, plan_of(raw, aligner__gr__k=3.0)) == ["arms/dual_path_gr/s0.json", "report.json"]
    assert changed(base, plan_of(raw, aligner__granularity="per_tensor")) == sorted(
        [f"arms/{a}/s0.json" for a in ("dual_path_pcgrad", "dual_path_gradvac", "dual_path_cagrad")]
        + ["report.json"]
    ), "auto already means per_tensor for GR, and granularity means nothing without alignment"
    arms = copy.deepcopy(raw["arms"])
    arms["dual_path_gradvac"] = {**arms["dual_path_gradvac"], "aligner": {"gradvac": {"ema": "paper"}}}
    new = plan_of(raw, arms=arms)
    assert changed(base, new) == ["arms/dual_path_gradvac/s0.json", "report.json"]
    assert new["arms/dual_path_gradvac/s0.json"]["arm"]["aligner"]["gradvac"] == {"beta": 0.5, "ema": "paper"}


def test_align_true_means_pcgrad_and_changes_only_main(raw):
    base, new = plan_of(raw), plan_of(raw, align=True)
    assert new["arms/main/s0.json"]["arm"]["align"] == "pcgrad"
    assert changed(base, new) == ["arms/main/s0.json", "report.json"]


def test_the_input_rule_changes_only_the_documents_of_the_stages_reading_the_score_section(raw):
    base = plan_of(raw)
    new = plan_of(raw, score__input="whole_utterance", score__num_samples=None)
    assert new["score.json"]["score"] == {**base["score.json"]["score"], "input": "whole_utterance",
                                          "num_samples": None}  # fmt: skip
    assert changed(base, new) == ["partial.json", "report.json", "score.json"]  # no arm: nothing retrains
    # train.dev_samples (the train stage's own dev threshold) needs no match with whole utterances: the
    # score stage sets the threshold of its scores on dev.txt, scored under the same rule
    assert new["arms/main/s0.json"]["arm"]["train"]["dev_samples"] == raw["train"]["dev_samples"]
    # in dvc.yaml, those documents are read by the score, partial and report stages alone
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    readers = {
        name
        for name, st in stages.items()
        for dep in st.get("do", st).get("deps", [])
        if isinstance(dep, str) and dep in {f"data/plan/{doc}" for doc in changed(base, new)}
    }
    assert readers == {"score", "partial", "report"}


def test_new_seeds_add_plan_files_and_leave_the_existing_ones_alone(raw):
    base, new = plan_of(raw), plan_of(raw, seeds=[0, 2])
    assert changed(base, new) == sorted([f"arms/{arm}/s2.json" for arm in raw["arms"]] + ["report.json"])
    assert new["arms/main/s2.json"]["arm"]["seed"] == 2
    assert new["arms/main/s0.json"] == base["arms/main/s0.json"]
    assert new["report.json"]["arms"]["main"] == [0, 2]


def test_an_arm_can_train_a_subset_of_the_seeds(raw):
    data = copy.deepcopy(raw)
    data["seeds"] = [0, 1, 2]
    data["arms"]["attm"] = {**data["arms"]["attm"], "seeds": [0]}
    plan = make_plan(validate_params(data))
    assert plan["arms/attm/s1.json"] == {"skipped": "arms.attm.seeds is [0]", "arm": "attm", "seed": 1}
    assert plan["arms/attm/s0.json"]["arm"]["seed"] == 0 and plan["arms/main/s2.json"]["arm"]["seed"] == 2
    assert plan["report.json"]["arms"]["attm"] == [0] and plan["report.json"]["arms"]["main"] == [0, 1, 2]


def test_training_seeds_never_touch_data_stages(raw):
    diff = changed(plan_of(raw), plan_of(raw, seeds=[1]))
    assert diff == sorted([f"arms/{arm}/s0.json" for arm in raw["arms"]]
                          + [f"arms/{arm}/s1.json" for arm in raw["arms"]] + ["report.json"])


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
        ({"train__lora_lr": -1}, ["train.lora_lr", "-1", "null"]),
        ({"train__epochs": 1}, ["arms.attm", "freeze_backbone_epochs", "fewer than epochs (1)"]),
        ({"train__lr": 0.02, "train__lr_min": 0.015, "train__lora_lr": 0.01},
         ["arms.lora.train", "lora_lr 0.01", "train.lr_min", "0.015"]),
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
        ({"seed": 1}, ["seed", "replaced by seeds", "seeds=[1]"]),
        ({"arms__main": {"seed": 1}}, ["arms.main.seed", "arms.main.seeds"]),
        ({"seeds": []}, ["seeds", "at least one"]),
        ({"seeds": [0, 0]}, ["seeds", "distinct"]),
        ({"seeds": [0, -1]}, ["seeds", "non-negative"]),
        ({"seeds": 1}, ["seeds", "a list of"]),
        ({"arms__main": {"seeds": [3]}}, ["arms.main.seeds", "[3]", "subset"]),
        ({"report__reference": "nope"}, ["report.reference", "'nope'", "main"]),
        ({"report__alpha": 1.5}, ["report.alpha", "(0, 1)"]),
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


def test_the_report_plan_keeps_the_arms_in_params_order(raw):
    arms = {"zeta": {}, "main": {}, "alpha": {"regime": "clean"}}
    plan = plan_of(raw, arms=arms)
    assert plan["report.json"]["order"] == ["zeta", "main", "alpha"]
