"""Presets (``preset: <name>``, sdd.plan.presets): a paper's recipe applied by the plan, its replaced keys
logged with both values, ``preset_overrides`` merged last, and the default params unchanged by it."""

import copy
import logging
import shutil

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from sdd.core.configbase import ConfigError, to_dict
from sdd.core.yamlfile import read_yaml
from sdd.plan import arms as plan_arms
from sdd.plan.assemble import load_params, make_plan, validate_params
from sdd.plan.presets import apply_preset, merge_preset, preset_names
from tests.helpers import REPO

PRESETS = REPO / "presets"
NAMES = [
    "attm_wavlm_large",
    "dpda_cagrad",
    "dpda_gr",
    "dpda_gradvac",
    "dpda_pcgrad",
    "lora_xlsr",
    "ssl_aasist_df",
    "ssl_aasist_la",
]
HUB_IDS = {"facebook/wav2vec2-xls-r-300m", "microsoft/wavlm-large"}


@pytest.fixture(scope="module")
def raw():
    return read_yaml(REPO / "params.yaml")


@pytest.fixture
def hub_ids_resolve(monkeypatch):
    """The presets' hub ids pass the plan's cache check as on a machine that has downloaded them; any
    other id fails (the check itself is tested in tests/models)."""
    seen = []

    def check(name):
        seen.append(name)
        if name not in HUB_IDS:
            raise ValueError(f"unexpected backbone {name!r}")

    monkeypatch.setattr(plan_arms, "check_backbone_name", check)
    return seen


def with_preset(raw, name, **overrides):
    """``raw`` as `dvc exp run -S preset=<name> -S corpus=la19` leaves it (dvc.yaml reads `corpus`)."""
    data = copy.deepcopy(raw)
    data["preset"] = name
    data["corpus"] = "la19" if name is not None else data["corpus"]
    data["preset_overrides"] = overrides
    return data


def test_the_repo_holds_the_issue_presets_and_the_default_selects_none(raw):
    assert preset_names(PRESETS) == NAMES
    assert raw["preset"] is None and raw["preset_overrides"] == {}


def test_default_params_resolve_as_without_the_preset_keys(raw):
    """`make repro` is unchanged: preset null and empty overrides change no plan document."""
    bare = {k: v for k, v in raw.items() if k not in ("preset", "preset_overrides")}
    with_keys = make_plan(validate_params(copy.deepcopy(raw), PRESETS))
    assert with_keys == make_plan(validate_params(bare, PRESETS))


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_resolves_to_one_arm_on_its_hub_backbone(raw, name, hub_ids_resolve):
    preset = read_yaml(PRESETS / f"{name}.yaml")
    loaded = validate_params(with_preset(raw, name), PRESETS)
    assert set(loaded.arms) == {"main"} and loaded.params.preset == name
    arm = loaded.arms["main"]
    assert arm.backbone == preset["backbone"] and preset["backbone"] in hub_ids_resolve
    # each set value reaches the arm (the plan consumes lora_lr: a LoRA arm's lr is it)
    for key, value in preset["train"].items():
        got = getattr(arm.train, key)
        if key == "lr" and arm.model.finetune == "lora":
            value = preset["train"]["lora_lr"]
        if key != "lora_lr" and not isinstance(value, dict):
            assert (list(got) if isinstance(got, tuple) else got) == value, key
    assert arm.train.dev_samples == loaded.params.score.num_samples


def test_preset_values_replace_params_and_each_replaced_key_is_logged(raw, hub_ids_resolve, caplog):
    edited = copy.deepcopy(raw)
    edited["train"]["lr"] = 0.5  # what `-S train.lr=0.5` leaves in params.yaml: the preset wins
    with caplog.at_level(logging.INFO, logger="sdd.plan.presets"):
        loaded = validate_params(with_preset(edited, "dpda_pcgrad"), PRESETS)
    assert loaded.arms["main"].train.lr == 1e-6
    lines = [r.getMessage() for r in caplog.records]
    assert "preset dpda_pcgrad replaces train.lr: 0.5 (params.yaml) -> 1e-06" in lines
    assert "preset dpda_pcgrad replaces train.batch_size: 16 (params.yaml) -> 5" in lines
    # a key the preset sets to the value params.yaml already has is not reported as replaced
    assert not any("train.weight_decay" in line for line in lines)


def test_preset_overrides_are_applied_last_and_logged(raw, hub_ids_resolve, caplog):
    with caplog.at_level(logging.INFO, logger="sdd.plan.presets"):
        loaded = validate_params(
            with_preset(raw, "dpda_pcgrad", train={"lr": 2e-6}, augment={"copies": 3}), PRESETS
        )
    assert loaded.arms["main"].train.lr == 2e-6 and loaded.augment.copies == 3
    assert loaded.arms["main"].train.batch_size == 5, "the preset's other values stay"
    assert "preset_overrides replaces train.lr: 1e-06 (preset dpda_pcgrad) -> 2e-06" in [
        r.getMessage() for r in caplog.records
    ]


def test_dvc_set_param_spelling_of_a_preset_and_an_override(tmp_path, hub_ids_resolve):
    """What `dvc exp run -S preset=dpda_pcgrad -S corpus=la19 -S +preset_overrides.train.lr=2e-6` writes
    resolves."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(PRESETS, tmp_path / "presets")
    sets = ["preset=dpda_pcgrad", "corpus=la19", "+preset_overrides.train.lr=2e-6"]
    apply_overrides(str(tmp_path / "params.yaml"), sets)
    loaded = load_params(tmp_path / "params.yaml")  # the presets beside this params.yaml
    assert loaded.arms["main"].align == "pcgrad" and loaded.arms["main"].train.lr == 2e-6


@pytest.mark.parametrize(
    "change,added",
    [
        ({"corpus": "demo"}, "-S 'corpus=la19'"),
        ({"preset_overrides": {"seeds": [1234]}}, "-S 'seeds=[1234]'"),
        ({"preset_overrides": {"probe": {"models": ["main"]}}}, "-S 'probe.models=[\"main\"]'"),
    ],
)
def test_keys_dvc_reads_before_the_plan_must_agree_with_params_yaml(raw, change, added):
    """dvc.yaml interpolates corpus, seeds and probe.models from params.yaml: a preset that disagrees
    stops the plan with the -S to add, instead of running stages on the wrong manifests or seeds."""
    data = with_preset(raw, "dpda_pcgrad") | change
    with pytest.raises(ConfigError, match="dvc.yaml reads before the plan runs") as err:
        validate_params(data, PRESETS)
    assert added in str(err.value) and "\n" not in str(err.value)


def test_arms_a_preset_drops_get_skip_documents_for_dvcs_matrix(raw, hub_ids_resolve):
    """dvc.yaml's train/score/evaluate matrix runs over params.yaml's arms x seeds: every pair has a
    document, the preset's arm a training plan, every other a skip record; the report reads `main`."""
    plan = make_plan(validate_params(with_preset(raw, "dpda_pcgrad"), PRESETS))
    pairs = {f"arms/{arm}/s{seed}.json" for arm in raw["arms"] for seed in raw["seeds"]}
    assert pairs <= set(plan)
    for key in pairs:
        doc = to_dict(plan[key])
        if key.startswith("arms/main/"):
            assert doc["arm"]["align"] == "pcgrad"
        else:
            assert "not an arm of preset 'dpda_pcgrad'" in doc["skipped"]
    assert set(to_dict(plan["report.json"])["arms"]) == {"main"}


def test_a_preset_arm_that_params_yaml_lacks_is_refused(raw):
    data = with_preset(raw, "dpda_pcgrad", arms={"paper": {}})
    with pytest.raises(ConfigError, match=r"arms \['paper'\] are not arms of params.yaml"):
        validate_params(data, PRESETS)


@pytest.mark.parametrize(
    "name,hub_id",
    [("dpda_pcgrad", "facebook/wav2vec2-xls-r-300m"), ("attm_wavlm_large", "microsoft/wavlm-large")],
)
def test_an_uncached_hub_backbone_stops_the_plan_with_the_download_command(
    raw, name, hub_id, tmp_path, monkeypatch
):
    """Offline (the Makefile's HF_HUB_OFFLINE=1) with an empty cache: one line naming the command."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ConfigError) as err:
        validate_params(with_preset(raw, name), PRESETS)
    assert f"HF_HUB_OFFLINE=0 .venv/bin/hf download {hub_id}" in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_preset_is_one_line_listing_the_names(raw):
    with pytest.raises(ConfigError) as err:
        validate_params(with_preset(raw, "dpda_pcgrd"), PRESETS)
    message = str(err.value)
    assert "\n" not in message and "'dpda_pcgrd'" in message
    assert all(name in message for name in NAMES)


@pytest.mark.parametrize(
    "preset,overrides,match",
    [
        (None, {"train": {"lr": 1e-6}}, "preset_overrides adjusts a preset"),
        ("dpda_pcgrad", {"preset": "lora_xlsr"}, "preset_overrides: sets"),
        (3, {}, "expected null or one of"),
    ],
)
def test_bad_preset_settings_are_refused(raw, preset, overrides, match):
    with pytest.raises(ConfigError, match=match):
        validate_params(with_preset(raw, preset, **overrides), PRESETS)


def test_a_preset_file_that_selects_a_preset_is_refused(raw, tmp_path):
    (tmp_path / "loop.yaml").write_text(yaml.safe_dump({"preset": "loop", "train": {"lr": 1.0}}))
    with pytest.raises(ConfigError, match="cannot select or adjust a preset"):
        apply_preset(with_preset(raw, "loop"), tmp_path)


def test_merge_rules_mappings_merge_lists_replace_arms_replace_whole():
    base = {"train": {"lr": 1.0, "epochs": 6}, "eval_sets": ["a", "b"], "arms": {"main": {}, "clean": {}}}
    merged, changed = merge_preset(base, {"train": {"lr": 2.0}, "eval_sets": ["c"], "arms": {"main": {}}})
    assert merged == {"train": {"lr": 2.0, "epochs": 6}, "eval_sets": ["c"], "arms": {"main": {}}}
    assert changed == [
        ("train.lr", 1.0, 2.0),
        ("eval_sets", ["a", "b"], ["c"]),
        ("arms", {"main": {}, "clean": {}}, {"main": {}}),
    ]
    assert base["train"]["lr"] == 1.0, "the input is not modified"
