"""A store that fails mid-stage (a tracking server gone down): every logging call after the first
failure is skipped with a warning instead of waiting out MLflow's HTTP retries again, status updates
never fail the stage, and a cached arm's copy under a failed parent is not attempted. (The same with
a real ``mlflow server`` on PostgreSQL stopped during ``dvc repro``: ``tests/tracking/test_pg_server.py``.)"""

from __future__ import annotations

import logging

import pytest

from sdd.report import tracking


class DownClient:
    """An MLflow client whose server is down: every call is recorded, then fails."""

    def __init__(self, working: tuple[str, ...] = ()) -> None:
        self.calls: list[str] = []
        self.working = working

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append(name)
            if name in self.working:
                return None
            raise ConnectionError(f"{name}: Max retries exceeded (connection refused)")

        return call


@pytest.fixture
def warnings(caplog, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # a server; the fake client stands for it
    caplog.set_level(logging.WARNING, logger="sdd.report.tracking")
    return caplog


def test_after_the_first_failure_the_run_stops_calling_the_store(warnings):
    client = DownClient()
    run = tracking.Run(client, "r1", "q-gr/main-s0/train")
    run.log_metrics({"epoch": {"loss": 0.5}}, step=1)
    run.log_params({"align": "gr"})
    run.set_tags({"sdd.train": "logged"})
    run.log_epoch({"epoch": 2, "loss": 0.4, "seconds": 3.0})
    assert client.calls == ["log_batch"], "one attempt, then nothing"
    assert run.failed is not None and run.failed.startswith("ConnectionError: log_batch")
    lines = [r.getMessage() for r in warnings.records]
    assert len(lines) == 4 and all(
        "NOT logged to MLflow" in ln and "q-gr/main-s0/train" in ln for ln in lines
    )
    assert "unavailable" in lines[0] and all("not tried again" in ln for ln in lines[1:])
    assert " params of q-gr" in lines[1] and " set tags of q-gr" in lines[2] and " metrics of" in lines[3]
    assert all(ln.startswith("MLflow store http://127.0.0.1:9 ") for ln in lines)


def test_a_refused_value_is_no_failure_of_the_store(warnings):
    class Refused(Exception):
        error_code = "INVALID_PARAMETER_VALUE"  # as MlflowException carries it

    class RefusingClient(DownClient):
        def log_batch(self, *args, **kwargs):
            self.calls.append("log_batch")
            raise Refused("Invalid value for metric 'x'")

    client = RefusingClient()
    run = tracking.Run(client, "r1", "workspace/main-s0/evaluate")
    run.log_metrics({"x": 1.0})
    run.log_metrics({"y": 2.0})
    assert client.calls == ["log_batch", "log_batch"] and run.failed is None
    assert len(warnings.records) == 2 and "Invalid value" in warnings.records[0].getMessage()


def test_status_updates_never_fail_the_block(warnings):
    client = DownClient(working=("update_run",))
    run = tracking.Run(client, "r1", "workspace/main-s0/evaluate")
    with tracking._status(client, "r1", handle=run):
        pass  # set_terminated fails: a warning, no exception
    assert client.calls == ["update_run", "set_terminated"] and run.failed is not None
    assert "status FINISHED" in warnings.records[-1].getMessage()
    with tracking._status(client, "r1", handle=run):
        pass
    assert client.calls == ["update_run", "set_terminated"], "a failed run is not asked again"
    with pytest.raises(KeyError), tracking._status(client, "r1", handle=run):
        raise KeyError("the stage's own error still propagates")


def test_a_failed_parent_copies_no_cached_arm(warnings):
    client = DownClient()
    parent = tracking.Run(client, "p1", "workspace")
    parent.failed = "ConnectionError: down"
    child, created = tracking.ensure_arm_run(parent, {"name": "clean", "seed": 0}, lambda run: None)
    assert client.calls == [] and child.run_id is None and not created
    assert "workspace/clean-s0" in warnings.records[-1].getMessage()


def test_a_store_that_fails_while_copying_marks_the_parent(warnings):
    client = DownClient()
    parent = tracking.Run(client, "p1", "workspace")
    child, created = tracking.ensure_arm_run(parent, {"name": "clean", "seed": 0}, lambda run: None)
    assert child.run_id is None and not created and parent.failed is not None
    n = len(client.calls)
    parent.log_metrics({"report": {"x": 1.0}})
    tracking.save_runs_view(parent, "sdd", ["demo:eval"])
    assert len(client.calls) == n, "the parent's later calls are skipped"
