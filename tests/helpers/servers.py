"""Servers the team-lane tests start on 127.0.0.1: PostgreSQL + ``mlflow server``
(:mod:`sdd.report.mlflow_server`, as ``make mlflow-server`` starts them), and a micro copy of this
repository whose queued DVC experiments log to such a server.

:func:`pg_mlflow_server` skips the calling test, saying why, where PostgreSQL's binaries or the
driver are missing. Its folder is a fresh ``/tmp/sdd-pg-*`` (mode 755), not pytest's ``tmp_path``:
as root the cluster runs as the unprivileged ``postgres`` user, which cannot enter pytest's
``/tmp/pytest-of-root`` (mode 700).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from sdd.report import mlflow_server
from tests.helpers import REPO

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def skip_without_postgres() -> None:
    """Skip the calling test, with the reason, where PostgreSQL or its Python driver is missing."""
    try:
        mlflow_server.pg_bindir()
    except mlflow_server.ServerError as exc:
        pytest.skip(str(exc))
    if importlib.util.find_spec(mlflow_server.DRIVER) is None:
        pytest.skip(f"the PostgreSQL driver {mlflow_server.DRIVER} is not installed (requirements.lock)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without `runuser`: PostgreSQL cannot be started as another user")


@contextmanager
def pg_mlflow_server() -> Iterator[mlflow_server.Servers]:
    """PostgreSQL and ``mlflow server`` on free ports of 127.0.0.1, in a fresh folder; both stopped and
    the folder removed on exit."""
    skip_without_postgres()
    folder = Path(tempfile.mkdtemp(prefix="sdd-pg-"))
    folder.chmod(0o755)
    try:
        yield mlflow_server.start(folder / "srv", port=free_port(), pg_port=free_port())
    finally:
        mlflow_server.stop(folder / "srv")
        shutil.rmtree(folder, ignore_errors=True)


def run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def project_env(repo: Path, tracking_uri: str) -> dict[str, str]:
    """The environment of DVC and the stages in a micro project logging to ``tracking_uri``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_", "SDD_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env['PATH']}", DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1", PYTHONPATH=str(repo), MLFLOW_TRACKING_URI=tracking_uri,
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
    )  # fmt: skip
    return env


def micro_project(dest: Path) -> Path:
    """A git+DVC copy of this checkout (its tracked and untracked-but-not-ignored files) with the
    smallest params the whole DAG runs on: the arm ``main`` alone, seed 0, one eval set, 8 demo
    utterances per split, one augmented copy, a 2-layer tiny wav2vec2 from random init (no pretrain
    stage), one epoch; no baseline, audit or probes of the backbone."""
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], REPO, dict(os.environ))
    for rel in files.stdout.split():
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params.update(seeds=[0], eval_sets=["demo:eval"], backbone="tiny-wav2vec2", arms={"main": {}})
    params["corpora"]["demo"]["n_per_split"] = 8
    params["augment"]["copies"] = 1
    params["model"]["tiny"] = {"conv_channels": 8, "hidden_size": 16, "num_layers": 2, "num_heads": 2,
                               "intermediate_size": 16}  # fmt: skip
    params["train"].update(
        epochs=1, average_best=1, batch_size=8, crop_samples=4000, dev_samples=8000, threads=1
    )
    params["score"].update(num_samples=8000, threads=1)
    params["evaluate"]["n_resamples"] = 50
    params["report"]["n_resamples"] = 50
    params["baseline"]["enabled"] = False
    params["audit"]["enabled"] = False
    params["probe"].update(models=["main"], num_samples=8000, threads=1, n_resamples=50, l2_grid=[1.0],
                           kinds=["layer"])  # fmt: skip
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = project_env(dest, "")
    run(["git", "init", "-q"], dest, env)
    run(["git", "add", "-A"], dest, env)
    run(["git", "commit", "-qm", "init"], dest, env)
    return dest


def stop_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM to a server started with ``start_new_session=True`` and the workers it started (its
    process group); SIGKILL after 30 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def exp_metrics(shown: Any) -> dict[str, dict]:
    """``{experiment name: reports/metrics.json}`` from the parsed output of ``dvc exp show --json``."""
    out: dict[str, dict] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            name, data = node.get("name"), node.get("data")
            if name and isinstance(data, dict) and data.get("metrics"):
                out[name] = data["metrics"].get("reports/metrics.json", {}).get("data", {})
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(shown)
    return out


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float, log: Path, what: str) -> None:
    """Poll ``url`` until it answers 200; AssertionError with the tail of ``log`` when ``proc`` (the
    server ``what``) exits first or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:  # refused, reset, timed out (urllib's URLError is an OSError)
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)
