"""Concurrent DVC experiments logging to one MLflow store: every run, param and metric recorded once.

``dvc queue start -j 2`` runs queued experiments side by side, each in its own temp copy of the
repo, all logging to ``<repo root>/mlflow.db`` (:mod:`sdd.report.tracking`). Here N processes
(:mod:`tests.helpers.tracking_worker`), each a different ``$DVC_EXP_NAME``, are released at the same
instant on a store that does not exist yet: they race on the schema creation, the MLflow experiment,
their parent runs and their child runs. The store must then hold exactly one experiment, one parent per
DVC experiment, one child per arm and seed with its params, and every metric step exactly once. (The
same check on real ``dvc exp run --queue`` experiments: ``benchmarks/concurrent_queue.py``.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import REPO, TRACKING_WORKER
from tests.helpers.tracking_worker import ARMS, CACHED, expected

pytestmark = pytest.mark.slow  # N processes, each importing MLflow
N = 4


def run_workers(root: Path, names: list[str]) -> list[dict]:
    sync = root / "sync"
    sync.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SDD_ROOT")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env["DVC_ROOT"] = str(root)  # the store is <root>/mlflow.db, as for a queued experiment
    procs = [
        subprocess.Popen([sys.executable, str(TRACKING_WORKER), "--sync", str(sync)],
                         env={**env, "DVC_EXP_NAME": name}, cwd=root, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name in names
    ]  # fmt: skip
    try:
        deadline = time.time() + 120
        while len(list(sync.glob("ready-*"))) < len(names):
            dead = [p for p in procs if p.poll() is not None]
            assert not dead, dead[0].communicate()[1][-3000:]
            assert time.time() < deadline, "workers not ready after 120 s"
            time.sleep(0.01)
        assert not (root / "mlflow.db").exists(), "the race starts on a store that does not exist yet"
        (sync / "go").write_text("")
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
        return outs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_concurrent_experiments_log_every_run_param_and_metric_once(tmp_path):
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    from sdd.report.tracking import EXPERIMENT_KIND, PARENT_ID

    names = [f"exp-{i}" for i in range(N)]
    outs = run_workers(tmp_path, names)
    for out in outs:
        assert not [w for w in out["warnings"] if "NOT logged" in w], out
        want = {f"{a}-{s}": (a, s) == CACHED for a, s in [*ARMS, CACHED]}
        assert out["created"] == want, "the report finds the live runs and creates the cached arm's"

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exps = [e for e in client.search_experiments(view_type=ViewType.ALL) if e.name != "Default"]
    assert [e.name for e in exps] == ["sdd"], "the experiment is created once"
    assert exps[0].tags.get(EXPERIMENT_KIND[0]) == EXPERIMENT_KIND[1]
    runs = client.search_runs([exps[0].experiment_id], "", run_view_type=ViewType.ALL, max_results=5000)
    assert len(runs) == N * (1 + len(ARMS) + 1), Counter(r.data.tags.get("sdd.kind") for r in runs)

    parents = [r for r in runs if r.data.tags.get("sdd.kind") == "pipeline"]
    assert Counter(r.data.tags["sdd.pipeline"] for r in parents) == Counter(names), "one parent per DVC exp"
    parent_id = {r.data.tags["sdd.pipeline"]: r.info.run_id for r in parents}
    children = [r for r in runs if r.data.tags.get("sdd.kind") == "arm"]
    tags = [r.data.tags for r in children]
    keys = Counter((t["sdd.pipeline"], t["sdd.arm"], int(t["sdd.seed"])) for t in tags)
    assert keys == Counter((n, a, s) for n in names for a, s in [*ARMS, CACHED]), "one child per arm and seed"

    for run in runs:
        assert run.info.status == "FINISHED", (run.info.run_name, run.info.status)
        exp = run.data.tags["sdd.pipeline"]
        if run.data.tags["sdd.kind"] == "pipeline":
            want_metrics = expected(exp)["parent_metrics"]
        else:
            arm, seed = run.data.tags["sdd.arm"], int(run.data.tags["sdd.seed"])
            want = expected(exp)["children"][(arm, seed)]
            assert run.data.tags[PARENT_ID] == parent_id[exp]
            assert run.data.params == want["params"], (exp, arm, seed)
            stages = "copied" if (arm, seed) == CACHED else "logged"
            assert run.data.tags["sdd.train"] == run.data.tags["sdd.evaluate"] == stages
            artifacts = {f.path for f in client.list_artifacts(run.info.run_id)}
            assert artifacts == (set() if (arm, seed) == CACHED else {"train.json"}), artifacts
            want_metrics = want["metrics"]
        assert set(run.data.metrics) == set(want_metrics), (exp, run.info.run_name)
        for key, steps in want_metrics.items():
            got = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))
            assert got == steps, (exp, run.info.run_name, key)  # each step once: none lost or doubled

