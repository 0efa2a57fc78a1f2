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


def test_default_params_validate_and_resolve_three_arms(raw):
    loaded = load_params(REPO / "params.yaml")
    assert set(loaded.arms) == {"main", "augmented", "dual_path_pcgrad"}
    assert loaded.arms["main"].regime == "dual_path" and loaded.arms["main"].align == "none"
    assert loaded.arms["augmented"].regime == "augmented"
    assert loaded.arms["dual_path_pcgrad"].align == "pcgrad"
    assert loaded.eval_sets == (("demo", "eval"), ("demo", "eval_degraded"))


def test_align_true_means_pcgrad_and_changes_only_main(raw):
    base, new = plan_of(raw), plan_of(raw, align=True)
    assert new["arms/main.json"]["arm"]["align"] == "pcgrad"
    assert changed(base, new) == ["arms/main.json"]


def test_training_seed_never_touches_data_stages(raw):
    diff = changed(plan_of(raw), plan_of(raw, seed=1))
    assert diff == ["arms/augmented.json", "arms/dual_path_pcgrad.json", "arms/main.json"]


def test_augment_policy_change_leaves_fetch_and_prepare(raw):
    diff = changed(plan_of(raw), plan_of(raw, augment__policy="rawboost5"))
    assert "fetch.json" not in diff and "prepare.json" not in diff and "augment.json" in diff


@pytest.mark.parametrize(
    "changes,needles",
    [
        ({"align": "maybe"}, ["align", "'maybe'", "pcgrad"]),
        ({"align": "gradvac"}, ["align", "not available yet"]),
        ({"lora": True}, ["lora", "not available yet"]),
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
        ({"model__head": "attm"}, ["model.head", "not available yet"]),
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
