"""Run metadata (git, params diff, packages, stage durations), the stage-time log, skip records of arm/seed
pairs an arm does not train, and `models/<arm>` resolving to its one seed."""

from __future__ import annotations

import json
import subprocess

import pytest

from sdd.core.stage import is_skipped, run_stage, write_skip
from sdd.models.detector import resolve_model_dir
from sdd.report.metadata import params_diff, read_stage_times, run_metadata


def test_params_diff_lists_changed_added_and_removed_keys():
    committed = "seeds: [0]\ntrain: {lr: 0.001, epochs: 12}\nalign: false\n"
    current = "seeds: [0, 1, 2]\ntrain: {lr: 0.001, epochs: 3}\nlora: true\n"
    assert params_diff(committed, current) == {
        "align": [False, None],
        "lora": [None, True],
        "seeds": [[0], [0, 1, 2]],
        "train.epochs": [12, 3],
    }
    assert params_diff(current, current) == {}


def test_params_diff_reads_values_as_the_plan_does():
    # YAML 1.2, as DVC and the plan read params.yaml: 1e-3 is the number 0.001, `yes` is not `true`
    committed = "train: {lr: 0.001}\nalign: true\n"
    assert params_diff(committed, "train: {lr: 1e-3}\nalign: true\n") == {}
    assert params_diff(committed, "train: {lr: 0.001}\nalign: yes\n") == {"align": [True, "yes"]}


def test_stage_times_keep_the_newest_run_of_each_stage_and_clear(tmp_path):
    log = tmp_path / "times.jsonl"
    lines = [
        {"stage": "train@main-0", "started": 10.0, "seconds": 5.0},
        {"stage": "plan", "started": 1.0, "seconds": 0.5},
        {"stage": "train@main-0", "started": 20.0, "seconds": 7.0},
    ]
    log.write_text("\n".join(json.dumps(r) for r in lines) + "\n{torn line\n")
    got = read_stage_times(log, clear=True)
    assert [(r["stage"], r["seconds"]) for r in got] == [("plan", 0.5), ("train@main-0", 7.0)]
    assert not log.exists() and read_stage_times(log) == []


def test_run_stage_records_its_duration_only_under_dvc_on_rank_0(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    run_stage("x", lambda: None)
    assert not (tmp_path / ".sdd/stage_times.jsonl").exists()
    monkeypatch.setenv("DVC_STAGE", "score@main-1")
    monkeypatch.setenv("RANK", "1")  # another rank of a torchrun job (on this node or another)
    run_stage("score", lambda: None)
    assert not (tmp_path / ".sdd/stage_times.jsonl").exists()
    monkeypatch.setenv("RANK", "0")
    run_stage("score", lambda: None)
    (rec,) = read_stage_times(tmp_path / ".sdd/stage_times.jsonl")
    assert rec["stage"] == "score@main-1" and 0 <= rec["seconds"] < 5


def test_run_metadata_names_commit_dirty_flag_and_params_diff(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    (tmp_path / "params.yaml").write_text("seeds: [0]\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=tmp_path, check=True)
    clean = run_metadata(tmp_path, experiment="ws", seeds=[0], params_file=tmp_path / "params.yaml")
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False and clean["params_diff"] == {}
    (tmp_path / "params.yaml").write_text("seeds: [0, 1]\n")
    meta = run_metadata(
        tmp_path,
        experiment="exp-1",
        seeds=[0, 1],
        params_file=tmp_path / "params.yaml",
        durations=[{"stage": "plan", "started": 1.0, "seconds": 0.5}],
    )
    assert meta["git_dirty"] is True and meta["params_diff"] == {"seeds": [[0], [0, 1]]}
    assert meta["dvc_experiment"] == "exp-1" and meta["seeds"] == [0, 1]
    assert meta["durations"] == [{"stage": "plan", "seconds": 0.5}]
    assert {"numpy", "pandas", "mlflow"} <= set(meta["packages"]) and meta["cpu"] and meta["gpu"]
    outside = run_metadata(tmp_path / "nowhere", experiment="x", seeds=[0])
    assert outside["git_commit"].startswith("unknown") and outside["git_dirty"] == "unknown"


def test_skip_records_pass_down_the_stages(tmp_path):
    record = {"skipped": "arms.attm.seeds is [0]", "arm": "attm", "seed": 1}
    write_skip(record, tmp_path / "models/attm/s1/skipped.json", tmp_path / "train.json")
    assert is_skipped(tmp_path / "models/attm/s1") == record
    assert json.loads((tmp_path / "train.json").read_text()) == record
    assert is_skipped(tmp_path / "models/main/s0") is None


def test_an_arm_folder_resolves_to_its_one_seed_and_asks_when_there_are_several(tmp_path):
    arm = tmp_path / "models/main"
    (arm / "s0").mkdir(parents=True)
    (arm / "s0/config.json").write_text("{}")
    assert resolve_model_dir(arm) == arm / "s0"
    assert resolve_model_dir(arm / "s0") == arm / "s0"
    (arm / "s10").mkdir()
    (arm / "s10/config.json").write_text("{}")
    (arm / "s2").mkdir()  # not a model: no config.json
    with pytest.raises(ValueError, match=r"seeds s0, s10; name one, e.g. .*s0"):
        resolve_model_dir(arm)
