"""What an arm/seed child run shows in MLflow (:mod:`sdd.report.tracking`): readable names, params as
params.yaml writes them, per-epoch training seconds (across a resume), a duration that is the training
time, and params that never silently change."""

from __future__ import annotations

import logging
import time

import pytest

from sdd.report import tracking

CONFIG = {"name": "main", "seed": 0, "align": "none", "lora": False, "regime": "dual_path",
          "model": {"layers": None, "lora": {"target_modules": ["q_proj", "v_proj"]}}}  # fmt: skip


def test_metric_and_param_names_read_as_params_yaml():
    m = tracking.metric_names(
        {"demo:eval": {"eer": 0.1, "eer_ci95": [0.05, 0.15], "seeds": [0, 1]}, "x": {"holm_ci": [1, 2]}}
    )
    assert m == {"demo/eval.eer": 0.1, "demo/eval.eer_ci95_low": 0.05, "demo/eval.eer_ci95_high": 0.15,
                 "x.holm_ci_low": 1, "x.holm_ci_high": 2}  # fmt: skip
    p = tracking.arm_params(CONFIG)
    assert p["align"] == "false" and p["lora"] == "false" and p["model.layers"] == "null"
    assert p["model.lora.target_modules"] == "q_proj, v_proj"
    assert tracking.arm_params({**CONFIG, "align": "gr"})["align"] == "gr"
    assert tracking.align_method("false") == "none" and tracking.align_method("gr") == "gr"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))
    monkeypatch.setenv("DVC_EXP_NAME", "exp-layout")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_epoch_seconds_duration_and_params(store, caplog):
    with tracking.arm_run("train", CONFIG) as run:
        run.log_epoch({"epoch": 0, "dev_loss": 0.5, "seconds": 10.0})
        run.log_epoch({"epoch": 1, "dev_loss": 0.4, "seconds": 25.0})
        run_id = run.run_id
    with tracking.arm_run("train", CONFIG) as run:  # a resumed run: a new process, the same child
        assert run.run_id == run_id
        run.log_epoch({"epoch": 2, "dev_loss": 0.3, "seconds": 45.0})
    trained = store.get_run(run_id).info
    time.sleep(0.05)
    with tracking.arm_run("evaluate", CONFIG) as run:
        run.log_metrics({"demo:eval": {"eer": 0.1}})
        caplog.set_level(logging.WARNING, logger="sdd.report.tracking")
        run.log_params({"score": {"num_samples": 32000}})
        run.log_params({"score": {"num_samples": 32000}})  # the same value again: nothing to say
        assert not caplog.records
        run.log_params({"score": {"num_samples": 64000}})
    assert [r.getMessage() for r in caplog.records if "score.num_samples: logged '32000', now '64000'" in
            r.getMessage()], [r.getMessage() for r in caplog.records]  # fmt: skip

    history = {m.step: m.value for m in store.get_metric_history(run_id, "epoch.seconds")}
    assert history == {0: 10.0, 1: 15.0, 2: 20.0}, "each epoch's own seconds, the resumed one included"
    run = store.get_run(run_id)
    assert run.data.params["score.num_samples"] == "32000" and run.data.params["align"] == "false"
    assert run.info.end_time == trained.end_time, "evaluate leaves the end time training left"
    assert run.info.status == "FINISHED" and run.data.metrics["demo/eval.eer"] == 0.1
