"""``sdd.report.mlflow_server`` without starting anything: where it finds PostgreSQL, how it runs it as
root, where it binds, and the one-line refusals before any work. (Starting both servers for real:
``tests/tracking/test_pg_server.py``, team lane.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdd.report import mlflow_server
from tests.helpers import REPO


def _bin(root: Path, version: str) -> Path:
    folder = root / version / "bin"
    folder.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (folder / name).write_text("")
    return folder


def test_pg_bindir_takes_the_newest_debian_version(tmp_path, monkeypatch):
    monkeypatch.setattr(mlflow_server.shutil, "which", lambda name: None)  # no pg_config
    _bin(tmp_path, "9")
    newest = _bin(tmp_path, "15")
    (tmp_path / "16" / "bin").mkdir(parents=True)  # a client-only install: no initdb
    assert mlflow_server.pg_bindir(tmp_path) == newest


def test_pg_bindir_missing_is_one_line_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(mlflow_server.shutil, "which", lambda name: None)
    with pytest.raises(mlflow_server.ServerError) as err:
        mlflow_server.pg_bindir(tmp_path / "absent")
    msg = str(err.value)
    assert "\n" not in msg and "initdb" in msg and "apt-get install -y postgresql" in msg


def test_as_root_postgres_runs_as_the_unprivileged_user(monkeypatch):
    cmd = ["/usr/lib/postgresql/15/bin/pg_ctl", "status"]
    monkeypatch.setattr(mlflow_server.os, "geteuid", lambda: 1000)
    assert mlflow_server._as_pg_user(cmd) == cmd
    monkeypatch.setattr(mlflow_server.os, "geteuid", lambda: 0)
    monkeypatch.setattr(mlflow_server.shutil, "which", lambda name: f"/usr/sbin/{name}")
    assert mlflow_server._as_pg_user(cmd) == ["runuser", "-u", mlflow_server.PG_USER, "--", *cmd]


def test_both_servers_listen_on_localhost_only():
    assert mlflow_server.HOST == "127.0.0.1"
    assert mlflow_server.tracking_uri(5001) == "http://127.0.0.1:5001"
    assert "listen_addresses = '127.0.0.1'" in mlflow_server.PG_CONF
    assert "unix_socket_directories = ''" in mlflow_server.PG_CONF
    makefile = (REPO / "Makefile").read_text()
    assert "python -m sdd.report.mlflow_server start" in makefile and "0.0.0.0" not in makefile


def test_a_missing_driver_is_refused_before_any_work(tmp_path, monkeypatch):
    real = mlflow_server.importlib.util.find_spec
    monkeypatch.setattr(mlflow_server.importlib.util, "find_spec",
                        lambda name: None if name == mlflow_server.DRIVER else real(name))  # fmt: skip
    with pytest.raises(mlflow_server.ServerError, match=r"driver psycopg is not installed"):
        mlflow_server.start(tmp_path / "srv")
    assert not (tmp_path / "srv").exists(), "nothing created"


def test_the_command_prints_one_line_and_exits_1(tmp_path, monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise mlflow_server.ServerError("PostgreSQL's server binaries (initdb, pg_ctl) not found: ...")

    monkeypatch.setattr(mlflow_server, "pg_bindir", missing)
    monkeypatch.setattr(mlflow_server.importlib.util, "find_spec", lambda name: object())
    assert mlflow_server.main(["start", "--folder", str(tmp_path / "srv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: PostgreSQL's server binaries")


def test_status_and_stop_of_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for cmd, want in (("status", "MLflow not running; PostgreSQL not running"), ("stop", "nothing running")):
        proc = subprocess.run([sys.executable, "-m", "sdd.report.mlflow_server", cmd, "--folder",
                               str(tmp_path / "srv")], env=env, capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0 and want in proc.stdout, proc.stderr
