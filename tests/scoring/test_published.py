"""The published AASIST (Jung et al., ICASSP 2022) as a scoring-only arm: ``{backbone: "aasist:<path>",
regime: published}``.

Oracles: the official implementation's logits on real clips (``../shared/data/aasist/
reference_scores.tsv``; a score is the bona fide logit minus the spoof logit), ``hashlib`` for the
recorded digests, and the plan documents of the default arms (which the new arm must not touch).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sdd.core.configbase import ConfigError
from sdd.models.published_spec import PUBLISHED
from sdd.plan.assemble import make_plan, validate_params
from sdd.scoring.score import SCORERS
from sdd.train.params import PUBLISHED_KINDS, REGIMES
from sdd.train.telemetry import EPOCH_COLUMNS, TELEMETRY_COLUMNS
from tests.helpers import REPO

TOL = 1e-3


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture
def weights(tmp_path) -> Path:
    """A folder with one stand-in .pth and its .conf: the plan hashes the files and never loads them."""
    folder = tmp_path / "aasist"
    folder.mkdir()
    (folder / "AASIST.pth").write_bytes(b"stand-in weights")
    (folder / "AASIST.conf").write_text('{"model_config": {}}')
    return folder


def with_arm(raw, arm: dict | None, **top) -> dict:
    data = copy.deepcopy(raw)
    data.update(top)
    if arm is not None:
        data["arms"]["aasist"] = arm
    return data


def plan_of(data: dict) -> dict:
    return make_plan(validate_params(data))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_registries_agree_and_the_default_params_have_no_scoring_only_arm(raw):
    assert "published" in REGIMES and "pretrained" not in REGIMES  # the old name is refused
    assert set(PUBLISHED_KINDS) == set(PUBLISHED) <= set(SCORERS)
    loaded = validate_params(raw)
    assert all(a.regime != "published" for a in loaded.arms.values()), "the arm is opt-in (README)"


# --------------------------------------------------------------------------------------------------
# Validation: the regime and the backbone go together, both ways
# --------------------------------------------------------------------------------------------------


def test_the_old_regime_name_is_refused_naming_the_new_one(raw):
    with pytest.raises(ConfigError) as info:
        validate_params(with_arm(raw, {"backbone": "aasist:W", "regime": "pretrained"}))
    for needle in ("arms.aasist.regime", "got 'pretrained'", "now 'published'", "pretrain stage's backbone"):
        assert needle in str(info.value), f"{needle!r} not in {str(info.value)!r}"
    with pytest.raises(ConfigError, match=r"^regime: got 'pretrained'.*now 'published'"):
        validate_params({**raw, "regime": "pretrained"})


@pytest.mark.parametrize(
    "arm,top,needles",
    [
        ({"regime": "published"}, {},
         ["arms.aasist.regime", "'pretrained'", "aasist:<path>", "'pretrained' from the top-level backbone"]),
        ({"regime": "published", "backbone": "tiny-wavlm"}, {},
         ["arms.aasist.regime", "'tiny-wavlm' from arms.aasist.backbone", "aasist:<path>"]),
        ({"backbone": "aasist:W", "regime": "clean"}, {},
         ["arms.aasist.backbone", "'aasist:W'", "needs regime 'published'",
          "'clean' from arms.aasist.regime"]),
        ({"backbone": "aasist:W"}, {},
         ["arms.aasist.backbone", "inherited from the top-level regime", "regime: published"]),
        (None, {"regime": "published"},
         ["regime: got 'published' at the top level", "arms.main inherits", "backbone is 'pretrained'",
          "+arms.aasist="]),
        (None, {"backbone": "aasist:W"}, ["backbone: got 'aasist:W'", "only be an arm's backbone"]),
        ({"backbone": "aasist:", "regime": "published"}, {},
         ["arms.aasist.backbone", "a path after the ':'"]),
        ({"backbone": "aasist:W", "regime": "published", "align": "pcgrad"}, {},
         ["arms.aasist.align", "'pcgrad'", "trains nothing"]),
        ({"backbone": "aasist:W", "regime": "published", "lora": True}, {},
         ["arms.aasist.lora", "trains nothing"]),
        ({"backbone": "aasist:W", "regime": "published", "train": {"lr": 0.1}}, {},
         ["arms.aasist.train", "no `train` section"]),
        ({"backbone": "aasist:W", "regime": "published", "seeds": [0, 1]}, {"seeds": [0, 1]},
         ["arms.aasist.seeds", "[0, 1]", "runs once"]),
        ({"backbone": "aasist:W", "regime": "published"}, {"probe": "aasist"},
         ["probe.models", "'aasist'", "scoring-only"]),
    ],
)
def test_regime_and_backbone_mismatches_give_one_clear_error(raw, arm, top, needles):
    if top.get("probe"):
        top = {"probe": {**raw["probe"], "models": ["random", top["probe"]]}}
    with pytest.raises(ConfigError) as info:
        validate_params(with_arm(raw, arm, **top))
    for needle in needles:
        assert needle in str(info.value), f"{needle!r} not in {str(info.value)!r}"


def test_missing_weights_stop_the_plan_with_the_path_and_the_fetch_command(raw, tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))  # where relative paths in params.yaml resolve
    data = with_arm(raw, {"backbone": "aasist:data/published/aasist", "regime": "published"})
    validate_params(data)  # no I/O there: the files are checked when the plan is made
    with pytest.raises(ConfigError) as info:
        plan_of(data)
    msg = str(info.value)
    for needle in ("arms.aasist.backbone", "'aasist:data/published/aasist'",
                   str(tmp_path / "data" / "published" / "aasist"), "`sdd fetch aasist`",
                   "`sdd fetch aasist --url ../shared/data/aasist`"):
        assert needle in msg, f"{needle!r} not in {msg!r}"
    # elsewhere: the command names the folder (and the variant a .pth names)
    data = with_arm(raw, {"backbone": "aasist:w/AASIST-L.pth", "regime": "published"})
    with pytest.raises(ConfigError, match=r"sdd fetch aasist --dest w --variant AASIST-L`"):
        plan_of(data)


def test_a_folder_without_the_conf_or_with_two_variants_is_refused(raw, weights):
    (weights / "AASIST.conf").unlink()
    data = with_arm(raw, {"backbone": f"aasist:{weights}", "regime": "published"})
    with pytest.raises(ConfigError, match=r"AASIST\.conf: missing"):
        plan_of(data)
    (weights / "AASIST.conf").write_text("{}")
    (weights / "AASIST-L.pth").write_bytes(b"x")
    with pytest.raises(ConfigError, match="holds 2 weight files; name one"):
        plan_of(data)


# --------------------------------------------------------------------------------------------------
# Plan: one run on the first seed, the weights' digests recorded, nothing else touched
# --------------------------------------------------------------------------------------------------


def test_plan_runs_the_first_seed_only_and_records_the_digests(raw, weights):
    spec = f"aasist:{weights}"
    plan = plan_of(with_arm(raw, {"backbone": spec, "regime": "published"}, seeds=[1, 2]))
    doc = plan["arms/aasist/s1.json"]
    assert doc["arm"]["regime"] == "published" and doc["arm"]["backbone"] == spec and doc["arm"]["seed"] == 1
    assert doc["published"] == {"spec": spec, "files": [
        {"name": "AASIST.pth", "sha256": sha256(weights / "AASIST.pth")},
        {"name": "AASIST.conf", "sha256": sha256(weights / "AASIST.conf")},
    ]}
    skipped = plan["arms/aasist/s2.json"]
    assert set(skipped) == {"skipped", "arm", "seed"} and skipped["seed"] == 2
    assert "scoring-only" in skipped["skipped"] and "first top-level seed (1)" in skipped["skipped"]
    assert plan["report.json"]["arms"]["aasist"] == [1] and plan["report.json"]["arms"]["main"] == [1, 2]
    assert plan["report.json"]["order"][-1] == "aasist"


def test_changed_weights_change_only_its_plan_and_training_toggles_leave_it_alone(raw, weights):
    data = with_arm(raw, {"backbone": f"aasist:{weights}", "regime": "published"})
    base = plan_of(data)
    assert "aasist" in base["report.json"]["configs"]
    # the default arms' documents are those of the default params: adding the arm touches no other stage
    default = plan_of(raw)
    assert {k: v for k, v in base.items() if "aasist" not in k and k != "report.json"} == {
        k: v for k, v in default.items() if k != "report.json"
    }
    (weights / "AASIST.pth").write_bytes(b"other weights")
    new = plan_of(data)
    assert sorted(k for k in base if base[k] != new.get(k)) == ["arms/aasist/s0.json"]
    for top in ({"align": "gr"}, {"lora": True}, {"train": {**raw["train"], "lr": 0.01}},
                {"model": {**raw["model"], "normalize_input": False}}):
        other = plan_of({**data, **top})
        assert other["arms/aasist/s0.json"] == new["arms/aasist/s0.json"], top


def test_pinning_the_toggles_off_and_one_own_seed_are_accepted(raw, weights):
    arm = {"backbone": f"aasist:{weights}", "regime": "published", "align": False, "lora": False,
           "seeds": [1]}
    plan = plan_of(with_arm(raw, arm, seeds=[0, 1]))
    assert plan["arms/aasist/s0.json"]["skipped"] == "arms.aasist.seeds is [1]"
    assert plan["arms/aasist/s1.json"]["arm"]["seed"] == 1


# --------------------------------------------------------------------------------------------------
# The train and score stages on real clips, with the published weights
# --------------------------------------------------------------------------------------------------


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(monkeypatch, name: str, **args) -> None:
    argv = [f"stages/{name}.py"] + [x for k, v in args.items() for x in (f"--{k}", str(v))]
    monkeypatch.setattr(sys, "argv", argv)
    _stage(name).main()


def test_train_and_score_stages_give_the_authors_log_odds(raw, aasist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    spec = f"aasist:{aasist_dir / 'AASIST.pth'}"
    plan = plan_of(with_arm(raw, {"backbone": spec, "regime": "published"}))
    plan_dir = tmp_path / "plan"
    for rel in ("arms/aasist/s0.json", "score.json"):
        (plan_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (plan_dir / rel).write_text(json.dumps(plan[rel]))
    # score.json as the demo's (2 s inputs, batch 32): the published model keeps its own 64,600 and 8
    assert plan["score.json"]["score"]["num_samples"] != 64600
    ref = pd.read_csv(aasist_dir / "reference_scores.tsv", sep="\t")
    ref["abs_path"] = [str(aasist_dir.parent / "realmini" / p) for p in ref["path"]]
    clips = ref.iloc[[0, 2, 40]]  # clip 2 is shorter than 64,600 samples: repeat-padded
    manifests = tmp_path / "manifests"

    def manifest(rows: pd.DataFrame, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"utt_id": [Path(p).stem for p in rows["path"]], "path": rows["abs_path"],
                      "label": "bonafide"}).to_csv(path, index=False)

    sets = {e["name"]: manifests / e["corpus"] / f"{e['split']}.csv" for e in plan["score.json"]["eval_sets"]}
    assert list(sets) == ["demo:eval", "demo:eval_degraded"]
    manifest(clips.iloc[:2], sets["demo:eval"])
    manifest(clips.iloc[2:], sets["demo:eval_degraded"])
    manifest(clips.iloc[2:], tmp_path / "dev.csv")

    model, metrics = tmp_path / "models/aasist/s0", tmp_path / "reports/train/aasist/s0.json"
    _run(monkeypatch, "train", plan=plan_dir / "arms/aasist/s0.json", train=tmp_path / "none.csv",
         dev=tmp_path / "dev.csv", augmented=tmp_path / "none", backbone=tmp_path / "none",
         checkpoints=tmp_path / "ckpt", out=model, telemetry=tmp_path / "tele.csv",
         epochs=tmp_path / "epochs.csv", metrics=metrics)
    record = json.loads((model / "published.json").read_text())
    assert record["spec"] == spec and record["input_samples"] == 64600
    assert record["files"][0] == {"name": "AASIST.pth", "sha256": sha256(aasist_dir / "AASIST.pth")}
    assert sorted(p.name for p in model.iterdir()) == ["published.json"], "no copy of the weights"
    summary = json.loads(metrics.read_text())["summary"]
    assert summary["trainable_parameters"] == 0
    assert summary["total_parameters"] // 1000 == 297  # the paper's 297K
    assert summary["epochs"] == 0 and summary["epochs_to_best"] is None and summary["best_dev_eer"] is None
    assert summary["seconds"] >= 0 and summary["peak_rss_mb"] > 0
    assert list(pd.read_csv(tmp_path / "tele.csv").columns) == list(TELEMETRY_COLUMNS)
    assert list(pd.read_csv(tmp_path / "epochs.csv").columns) == list(EPOCH_COLUMNS)

    scores = tmp_path / "scores/aasist/s0"
    _run(monkeypatch, "score", plan=plan_dir / "score.json", model=model, manifests=manifests,
         dev=tmp_path / "dev.csv", out=scores)
    expected = dict(zip(clips["path"].map(lambda p: Path(p).stem),
                        clips["aasist_bonafide_logit"] - clips["aasist_spoof_logit"], strict=True))
    got = {}
    for f in scores.glob("*.txt"):
        for line in f.read_text().splitlines():
            utt, score = line.split()
            got[(f.name, utt)] = float(score)
    assert sorted(got) == sorted([("demo__eval.txt", u) for u in list(expected)[:2]]
                                 + [(f, list(expected)[2]) for f in ("demo__eval_degraded.txt", "dev.txt")])
    for (_, utt), score in got.items():
        np.testing.assert_allclose(score, expected[utt], rtol=0, atol=TOL)
    model_json = json.loads((scores / "model.json").read_text())
    assert model_json["arm"] == plan["arms/aasist/s0.json"]["arm"], "evaluate keys the MLflow run by it"
    assert model_json["published"]["files"] == record["files"]
    assert model_json["input"]["num_samples"] == 64600, "AASIST's own input, whatever score.num_samples"
    assert model_json["input"]["name"].endswith("(AASIST / SSL-AASIST)")

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(plan["arms/aasist/s0.json"]["tracking"]["experiment"])
    runs = client.search_runs([experiment.experiment_id], "tags.`sdd.arm` = 'aasist'")
    assert len(runs) == 1 and runs[0].data.params["regime"] == "published"
    assert runs[0].data.params["backbone"] == spec and runs[0].data.metrics["train.trainable_parameters"] == 0


def test_train_and_score_refuse_weights_changed_since_the_plan(raw, weights, tmp_path):
    from sdd.core.sections import ScoreParams
    from sdd.scoring.published import load_for_scoring, write_model

    arm = {"backbone": f"aasist:{weights}", "regime": "published"}
    doc = plan_of(with_arm(raw, arm))["arms/aasist/s0.json"]
    (weights / "AASIST.conf").write_text('{"model_config": {"nb_samp": 1}}')
    with pytest.raises(ValueError, match=r"changed since the plan stage hashed them.*dvc repro -f -s plan"):
        write_model(doc, tmp_path / "model")
    assert not (tmp_path / "model").exists()
    with pytest.raises(ValueError, match=r"changed since the plan stage hashed them.*dvc repro -f -s plan"):
        load_for_scoring(doc["published"], ScoreParams())


def test_fit_refuses_a_scoring_only_arm(raw, weights):
    from sdd.train.loop import fit
    from sdd.train.params import arm_from_dict

    doc = plan_of(with_arm(raw, {"backbone": f"aasist:{weights}", "regime": "published"}))
    arm = arm_from_dict(doc["arms/aasist/s0.json"]["arm"])
    with pytest.raises(ValueError, match="trains nothing"):
        fit(arm, pd.DataFrame(), pd.DataFrame())


def test_weights_gone_after_the_plan_is_a_stage_error_naming_the_fetch(raw, weights, tmp_path):
    from sdd.scoring.published import write_model

    doc = plan_of(with_arm(raw, {"backbone": f"aasist:{weights}", "regime": "published"}))
    for f in weights.iterdir():
        f.unlink()
    with pytest.raises(ValueError, match="the weights are not there.*sdd fetch aasist --dest"):
        write_model(doc["arms/aasist/s0.json"], tmp_path / "model")
