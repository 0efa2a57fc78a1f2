"""Experiments that move between machines: two hosts rehearsed as two clones on 127.0.0.1.

A micro project (arms ``main`` and ``clean``, a 2-layer tiny backbone, 8 demo clips per split, one
epoch) in a bare git remote and a local-directory DVC remote (``dvc remote add -d``) that every
clone shares, and one ``mlflow server`` (sqlite backend store, its own artifact root) that every
clone logs to through ``MLFLOW_TRACKING_URI``:

- host A runs the pipeline once, commits ``dvc.lock``, ``git push`` and ``dvc push``;
- host B clones, ``dvc pull``s and fetches the raw demo corpus (``sdd fetch demo``: raw corpora
  live outside DVC's cache, by design);
- each host queues two experiments (``dvc exp run --queue -S ...``, ``dvc queue start -j 1``; the
  two hosts' queues run at once), then ``dvc exp push origin`` and ``dvc push``;
- host C clones, ``dvc exp pull origin`` (all four), ``dvc pull``, ``sdd fetch demo``: ``dvc repro``
  runs nothing, ``sdd compare`` over the server shows each experiment's ``main`` once (and ``clean``,
  the same model in every experiment, once), and ``dvc exp run -S align=gr`` runs the plan,
  ``main``'s train, score and evaluate stages and the report, nothing else.

The team lane (``make test-team``, docs/tests.md); the commands for a real lab are in docs/team.md.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sdd.data.download import MARKER
from tests.helpers import REPO
from tests.helpers.servers import exp_metrics, stop_process_group, wait_http

pytestmark = [pytest.mark.team, pytest.mark.slow]  # three clones, five pipeline runs: minutes

BIN = Path(sys.executable).parent
#: The four experiments, two per host: each changes `main` only (`clean` pins align and lora).
EXPERIMENTS = {"A": ["align=pcgrad", "align=gradvac"], "B": ["align=cagrad", "lora=true"]}
QUEUE_TIMEOUT_S = 900
#: The stages a change of `align` re-runs on top of a finished pipeline.
MAIN_ONLY = {"plan", "train@main-0", "score@main-0", "evaluate@main-0", "report"}


def _env(clone: Path, uri: str) -> dict[str, str]:
    """A host's environment: the clone's own sdd, the shared server, no variable of this process's DVC."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_", "SDD_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env['PATH']}",
        PYTHONPATH=str(clone),
        MLFLOW_TRACKING_URI=uri,
        DVC_NO_ANALYTICS="1",
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    return env


#: ``(host, command, seconds)`` of every command run, printed at the end (``pytest -s``).
TIMES: list[tuple[str, str, float]] = []


def run(cmd: str, clone: Path, uri: str, check: bool = True) -> subprocess.CompletedProcess:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=clone, env=_env(clone, uri), capture_output=True, text=True, shell=True)
    TIMES.append((clone.name, cmd, time.perf_counter() - t0))
    _check(proc, clone, cmd, check)
    return proc


def start_queue(clone: Path, uri: str) -> None:
    """``dvc queue start -j 1``, its output in a file: the worker it spawns inherits the command's
    output, so reading a pipe to its end would wait for the whole queue."""
    with open(clone.parent / f"{clone.name}-queue-start.log", "w+") as log:
        proc = subprocess.run("dvc queue start -j 1", cwd=clone, env=_env(clone, uri), stdout=log,
                              stderr=subprocess.STDOUT, text=True, shell=True)  # fmt: skip
        log.seek(0)
        proc.stdout, proc.stderr = log.read(), ""
    _check(proc, clone, "dvc queue start -j 1", True)


def _check(proc: subprocess.CompletedProcess, clone: Path, cmd: str, check: bool) -> None:
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{clone.name}: `{cmd}` failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )


def ran(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``mlflow server`` on 127.0.0.1 at a free port: a sqlite backend store and a local artifact
    root (served by the server: clients upload through it). Yields ``(uri, artifact root)``."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        # no job runner: its five queue consumers (for GenAI jobs sdd never submits) outlive the session
        env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", proc, 120, root / "server.log", "mlflow server")
        yield uri, root / "artifacts"
    finally:
        stop_process_group(proc)  # the server and the workers it started (a session of their own)
        log.close()


def _micro_params(text: str) -> str:
    params = yaml.safe_load(text)
    params.update(seeds=[0], backbone="tiny-wav2vec2", eval_sets=["demo:eval"])  # tiny-*: no pretraining
    params["arms"] = {"main": {}, "clean": params["arms"]["clean"]}
    params["corpora"] = {"demo": {**params["corpora"]["demo"], "n_per_split": 8}}
    params["augment"]["copies"] = 1
    params["model"]["tiny"] = {"conv_channels": 8, "hidden_size": 16, "num_layers": 2, "num_heads": 2,
                               "intermediate_size": 16}  # fmt: skip
    params["train"].update(epochs=1, average_best=1, batch_size=8, crop_samples=4000, dev_samples=8000,
                           threads=1)  # fmt: skip
    params["score"].update(num_samples=8000, threads=1)
    params["evaluate"]["n_resamples"] = 50
    params["report"]["n_resamples"] = 50
    params["probe"].update(models=["clean"], num_samples=8000, threads=1, n_resamples=50, l2_grid=[1.0])
    params["baseline"]["enabled"] = False
    params["audit"]["enabled"] = False
    return yaml.safe_dump(params, sort_keys=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The shared remotes (a bare git repository, a DVC remote folder) and host A's first commit of
    the micro project, pushed. Returns the folder that holds them and the hosts' clones."""
    root = tmp_path_factory.mktemp("lab")
    origin, store, host_a = root / "origin.git", root / "dvc-remote", root / "hostA"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for rel in files:
        if (REPO / rel).is_file():
            (host_a / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, host_a / rel)
    (host_a / "params.yaml").write_text(_micro_params((host_a / "params.yaml").read_text()))
    cmds = [
        "git init -q -b main",
        f"git remote add origin {origin}",
        f"dvc remote add -d shared {store}",  # lands in .dvc/config, which git shares
        "git add -A && git commit -qm 'micro project'",
        "git push -q origin main",
    ]
    for cmd in cmds:
        run(cmd, host_a, "")
    return root


def _clone(lab: Path, name: str, uri: str) -> Path:
    run(f"git clone -q {lab / 'origin.git'} {name}", lab, uri)
    return lab / name


def _queue(clone: Path, uri: str, overrides: list[str]) -> list[str]:
    names = []
    for override in overrides:
        out = run(f"dvc exp run --queue -S {override}", clone, uri).stdout
        names.append(out.split("Queued experiment '")[1].split("'")[0])
    return names


def _queue_status(clone: Path, uri: str) -> dict[str, str]:
    """``{experiment name: status}`` from ``dvc queue status`` (name first, status last)."""
    rows = run("dvc queue status", clone, uri).stdout.splitlines()
    return {cols[1]: cols[-1] for cols in (r.split() for r in rows) if len(cols) >= 3 and cols[0] != "Task"}


def test_experiments_move_between_two_hosts(lab, server):
    uri, artifacts = server
    start = time.perf_counter()
    host_a = lab / "hostA"

    # Host A: the pipeline once; the lock file in git, the outputs in the DVC remote.
    out = run("dvc repro", host_a, uri).stdout
    assert "train@main-0" in ran(out) and "train@clean-0" in ran(out)
    # reports/metrics.json is a `cache: false` metric: git carries it, not the DVC remote
    run("git add dvc.lock reports/metrics.json && git commit -qm 'pipeline run' && git push -q origin main",
        host_a, uri)  # fmt: skip
    run("dvc push", host_a, uri)

    # Host B: the code and the lock from git, the outputs from the DVC remote, the raw corpus by fetching.
    host_b = _clone(lab, "hostB", uri)
    run("dvc pull", host_b, uri)
    run("sdd fetch demo", host_b, uri)
    assert "up to date" in run("dvc status", host_b, uri).stdout

    # Each host queues its two experiments; the two queues run at once, one experiment at a time each.
    names = {host: _queue(lab / f"host{host}", uri, overrides) for host, overrides in EXPERIMENTS.items()}
    for host in names:
        start_queue(lab / f"host{host}", uri)
    queue_start = time.perf_counter()
    try:
        deadline = time.monotonic() + QUEUE_TIMEOUT_S
        while True:
            status = {h: _queue_status(lab / f"host{h}", uri) for h in names}
            done = all(status[h].get(n) in ("Success", "Failed") for h in names for n in names[h])
            if done or time.monotonic() > deadline:
                queue_s = time.perf_counter() - queue_start
                break
            time.sleep(15)  # each `dvc queue status` costs seconds of CPU on a busy machine
        for h in names:
            for n in names[h]:
                logs = run(f"dvc queue logs {n}", lab / f"host{h}", uri, check=False).stdout[-3000:]
                assert status[h].get(n) == "Success", (h, n, status, logs)
    finally:
        for h in names:
            run("dvc queue stop --kill", lab / f"host{h}", uri, check=False)  # a no-op once all ran
    for h in names:
        run("dvc exp push origin && dvc push", lab / f"host{h}", uri)
    queued = [n for h in names for n in names[h]]
    assert len(set(queued)) == 4, queued

    # Host C: every experiment from the remotes; the pipeline is up to date.
    host_c = _clone(lab, "hostC", uri)
    run("dvc exp pull origin", host_c, uri)
    assert set(run("dvc exp list --name-only", host_c, uri).stdout.split()) == set(queued)
    run("dvc pull", host_c, uri)
    run("sdd fetch demo", host_c, uri)
    fetched = json.loads((host_c / "data/fetch.json").read_text())["demo"]
    marker = json.loads((host_c / "data/raw/demo" / MARKER).read_text())  # what `sdd fetch` generated
    assert marker["summary"]["protocols_sha256"] == fetched["protocols_sha256"]
    out = run("dvc repro", host_c, uri).stdout
    assert not ran(out), out
    assert "up to date" in run("dvc status", host_c, uri).stdout
    shown = json.loads(run("dvc exp show --json", host_c, uri).stdout)
    metrics = exp_metrics(shown)
    for n in queued:  # each experiment's metrics came with its git refs
        assert 0.0 <= metrics[n]["main"]["demo:eval"]["eer"] <= 1.0, n

    # One MLflow server holds every run once: a parent per pipeline run, `main` and `clean` under each.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("sdd")
    assert exp.artifact_location.startswith("mlflow-artifacts:"), exp.artifact_location
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("sdd.kind") == "pipeline"]
    assert sorted(r.data.tags["sdd.pipeline"] for r in parents) == sorted(["workspace", *queued])
    for parent in parents:
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.info.run_name for r in children) == ["clean-s0", "main-s0"], parent.data.tags
        assert all(r.info.status == "FINISHED" for r in [parent, *children])
        main = next(r for r in children if r.info.run_name == "main-s0")
        name = parent.data.tags["sdd.pipeline"]
        if name != "workspace":
            assert main.data.metrics["demo/eval.eer"] == metrics[name]["main"]["demo:eval"]["eer"], name
    assert list(artifacts.rglob("eval.json")), "the artifacts are on the server's side"
    for clone in (host_a, host_b, host_c):
        assert not (clone / "mlartifacts").exists() and not (clone / "mlflow.db").exists(), clone

    # `sdd compare` over the server, from host C: each experiment's `main` once, `clean` once.
    run("sdd compare --out reports/compare", host_c, uri)
    compared = json.loads((host_c / "reports/compare/metrics.json").read_text())
    systems = {k: v for k, v in compared.items() if k not in ("hand_features", "probing")}
    want = {f"main [{n}]" for n in ["workspace", *queued]} | {"clean"}
    assert set(systems) == want, sorted(systems)
    for key, system in systems.items():
        assert system["demo:eval"]["n_seeds"] == 1, key
        if key.startswith("main [") and key != "main [workspace]":
            assert system["demo:eval"]["eer"] == metrics[key[6:-1]]["main"]["demo:eval"]["eer"], key

    # A new experiment on host C retrains `main` only: the rest comes from the pulled cache.
    out = run("dvc exp run -S align=gr", host_c, uri).stdout
    assert ran(out) == MAIN_ONLY, sorted(ran(out))

    # Host B's outputs reached host C through the DVC remote: applying its experiment needs no run.
    run(f"dvc exp apply {names['B'][1]}", host_c, uri)
    assert "up to date" in run("dvc status", host_c, uri).stdout
    arm = json.loads((host_c / "models/main/s0/config.json").read_text())["arm"]
    assert arm["model"]["finetune"] == "lora", "the weights of host B's lora=true experiment"
    for host, cmd, seconds in TIMES:
        if cmd != "dvc queue status":
            print(f"{seconds:6.1f} s  {host}: {cmd}")
    print(f"the two queues: {queue_s:.0f} s")
    print(f"two hosts, four experiments, a third clone: {time.perf_counter() - start:.0f} s")
