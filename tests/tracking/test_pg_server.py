"""A team's MLflow: queued DVC experiments log to ``mlflow server`` on PostgreSQL (issue 25, item 1).

One PostgreSQL cluster and one ``mlflow server`` on 127.0.0.1 (:func:`tests.helpers.servers.pg_mlflow_server`,
what ``make mlflow-server`` starts) serve a micro copy of the repository
(:func:`tests.helpers.servers.micro_project`: the arm ``main`` alone, one epoch, 8 clips per split):

- four experiments queued with ``dvc exp run --queue -S align=<method>`` and run by ``dvc queue start
  -j 1``, each retraining ``main``, all with ``MLFLOW_TRACKING_URI`` at the server: the store holds
  each experiment's parent run and its one child run exactly once, with their params, every metric
  step once, the eval EERs that DVC recorded, the weights uploaded through the server into its
  artifact folder, and the rows are PostgreSQL's;
- the server (MLflow and PostgreSQL) stopped while the workspace's ``dvc repro`` trains: the
  pipeline still finishes with every DVC output, and each stage that could not log says what it
  did not log; what the restarted store holds agrees with what the stages said.

Skipped, with the reason, without PostgreSQL's binaries or the driver. The team lane
(``make test-team``, docs/tests.md).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from sdd.report import mlflow_server
from tests.helpers.servers import (
    exp_metrics,
    micro_project,
    pg_mlflow_server,
    project_env,
    run,
    skip_without_postgres,
)

pytestmark = [pytest.mark.team, pytest.mark.slow]  # a PostgreSQL cluster, an MLflow server, dvc queues

ALIGNS = ("pcgrad", "gradvac", "cagrad", "gr")
NOT_LOGGED = "NOT logged to MLflow"


@pytest.fixture(scope="module")
def server():
    with pg_mlflow_server() as servers:
        yield servers


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    skip_without_postgres()  # before the copy
    repo = tmp_path_factory.mktemp("pgmlflow") / "repo"
    repo.mkdir()
    return micro_project(repo)


def _queue_status(repo: Path, env: dict[str, str], names: list[str]) -> dict[str, str]:
    status = {}
    for line in run(["dvc", "queue", "status"], repo, env).stdout.splitlines():
        cols = line.split()
        status.update({name: cols[-1] for name in names if name in cols})
    return status


def _exp_metrics(repo: Path, env: dict[str, str]) -> dict[str, dict]:
    """``{experiment name: reports/metrics.json}`` from ``dvc exp show --json``."""
    return exp_metrics(json.loads(run(["dvc", "exp", "show", "--json", "--no-fetch"], repo, env).stdout))


def _pg_count(servers: mlflow_server.Servers, sql: str) -> int:
    import psycopg

    password = (servers.folder / "pgpassword").read_text().strip()
    with psycopg.connect(host="127.0.0.1", port=servers.pg_port, user=mlflow_server.DB_USER,
                         dbname=mlflow_server.DB_NAME, password=password) as conn:  # fmt: skip
        return conn.execute(sql).fetchone()[0]


def test_queued_experiments_are_logged_once_on_postgres(server, project):
    env = project_env(project, server.uri)
    names = {f"q-{a}": a for a in ALIGNS}
    for name, align in names.items():
        run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"align={align}"], project, env)
    t0 = time.monotonic()
    try:
        run(["dvc", "queue", "start", "-j", "1"], project, env)
        status: dict[str, str] = {}
        while time.monotonic() - t0 < 1500:
            status = _queue_status(project, env, list(names))
            if len(status) == len(names) and all(s in ("Success", "Failed") for s in status.values()):
                break
            time.sleep(5)
        failed = {n: run(["dvc", "queue", "logs", n], project, env, check=False).stdout[-3000:]
                  for n in names if status.get(n) != "Success"}  # fmt: skip
        assert not failed, (status, failed)
    finally:
        run(["dvc", "queue", "stop"], project, env, check=False)
    print(f"4 queued experiments, -j 1: {time.monotonic() - t0:.0f} s")
    metrics = _exp_metrics(project, env)

    client = MlflowClient(tracking_uri=server.uri)
    exps = [e for e in client.search_experiments(view_type=ViewType.ALL) if e.name != "Default"]
    assert [e.name for e in exps] == ["sdd"]
    runs = client.search_runs([exps[0].experiment_id], "", run_view_type=ViewType.ALL, max_results=1000)
    assert Counter(r.data.tags.get("sdd.pipeline") for r in runs) == Counter({n: 2 for n in names}), (
        "one parent and one child per experiment, nothing else"
    )
    assert _pg_count(server, "SELECT count(*) FROM runs") == len(runs) == 8, "the runs are PostgreSQL's rows"
    child_params = []
    for name, align in names.items():
        mine = [r for r in runs if r.data.tags.get("sdd.pipeline") == name]
        (parent,) = [r for r in mine if r.data.tags.get("sdd.kind") == "pipeline"]
        (child,) = [r for r in mine if r.data.tags.get("sdd.kind") == "arm"]
        assert (child.data.tags["sdd.arm"], child.data.tags["sdd.seed"]) == ("main", "0")
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert (child.data.tags.get("sdd.train"), child.data.tags.get("sdd.evaluate")) == ("logged", "logged")
        assert child.data.params["align"] == align
        child_params.append(set(child.data.params))
        for r in (parent, child):
            assert r.info.status == "FINISHED", (name, r.info.run_name)
            assert r.info.artifact_uri.startswith("mlflow-artifacts:"), r.info.artifact_uri
            assert r.data.metrics, (name, r.info.run_name)
            for key in r.data.metrics:
                steps = Counter(m.step for m in client.get_metric_history(r.info.run_id, key))
                assert max(steps.values()) == 1, f"{name} {r.info.run_name}: {key} logged twice at a step"
        eer = metrics[name]["main"]["seeds"]["0"]["demo:eval"]["eer"]
        assert child.data.metrics["demo/eval.eer"] == pytest.approx(eer, abs=1e-12), "the EER DVC recorded"
        assert {f.path for f in client.list_artifacts(child.info.run_id)} >= {
            "model",
            "eval.json",
            "train.json",
        }
        weights = list((server.folder / "artifacts").rglob(f"{child.info.run_id}/artifacts/model/*"))
        assert weights, "the weights were uploaded through the server into its artifact folder"
    assert all(p == child_params[0] for p in child_params) and len(child_params[0]) > 20
    assert not (project / "mlartifacts").exists() and not (project / "mlflow.db").exists()


def test_server_stopped_mid_run_outputs_still_written(server, project, tmp_path):
    """The stop lands once ``train@main-0`` has created its run (the server then holds it RUNNING);
    MLflow's HTTP retries are cut to one (``MLFLOW_HTTP_REQUEST_MAX_RETRIES=1``) so that each stage
    gives up within a second instead of MLflow's default of about 4 minutes."""
    env = {**project_env(project, server.uri), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}
    client = MlflowClient(tracking_uri=server.uri)
    log_path = tmp_path / "repro.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["dvc", "repro"], cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        found = None
        while found is None:
            assert proc.poll() is None, (
                f"dvc repro ended before training started:\n{log_path.read_text()[-3000:]}"
            )
            assert time.monotonic() < deadline, "train@main-0 created no run in 600 s"
            exp = client.get_experiment_by_name("sdd")
            if exp is not None:
                ws = "tags.`sdd.pipeline` = 'workspace' and tags.`sdd.kind` = 'arm'"
                found = next(iter(client.search_runs([exp.experiment_id], ws, max_results=1)), None)
            time.sleep(0.2)
        stopped = mlflow_server.stop(server.folder)
        assert len(stopped) == 2, stopped
        assert proc.wait(timeout=600) == 0, log_path.read_text()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log_path.read_text()
    outputs = ["models/main/s0/config.json", "data/scores/main/s0/demo__eval.txt",
               "reports/eval/main/s0.json",
               "reports/metrics.json", "reports/index.html"]  # fmt: skip
    for rel in outputs:
        assert (project / rel).is_file(), rel
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert 0.0 <= metrics["main"]["demo:eval"]["eer"] <= 1.0
    assert json.loads(run(["dvc", "status", "--json"], project, env).stdout) == {}, (
        "every output is in dvc.lock"
    )
    lines = [ln for ln in out.splitlines() if NOT_LOGGED in ln]
    said = {
        "evaluate": any("workspace/main-s0/evaluate" in ln for ln in lines),
        "report": any("the pipeline run, its metrics and artifacts of workspace" in ln for ln in lines),
        "train": any("workspace/main-s0/train" in ln for ln in lines),
    }
    assert said["evaluate"] and said["report"], "\n".join(lines) or out[-3000:]
    assert all(server.uri in ln for ln in lines)

    # What the restarted store holds agrees with what the stages said they did not log.
    mlflow_server.start(server.folder, port=server.port, pg_port=server.pg_port)
    child = client.get_run(found.info.run_id)
    assert "sdd.evaluate" not in child.data.tags and "demo/eval.eer" not in child.data.metrics
    assert (child.data.tags.get("sdd.train") == "logged") == (not said["train"]), (child.data.tags, lines)
    parent = client.get_run(child.data.tags["mlflow.parentRunId"])
    assert not [k for k in parent.data.metrics if k.startswith("report.")], "the report was not logged"
