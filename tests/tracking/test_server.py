"""Tracking against a server (``MLFLOW_TRACKING_URI=http://...``): a new experiment leaves its artifact
root to the server, so clones on several hosts share it. The rehearsal of two hosts against a real
``mlflow server`` is ``tests/pipeline/test_two_hosts.py`` (team lane)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sdd.report import tracking


class _Client:
    """Records ``create_experiment``'s arguments; knows no experiment until one is created."""

    def __init__(self) -> None:
        self.created: list[tuple[str, str | None]] = []
        self.tags: dict[str, str] = {}

    def get_experiment_by_name(self, name):
        return None

    def create_experiment(self, name, artifact_location=None):
        self.created.append((name, artifact_location))
        return "1"

    def set_experiment_tag(self, exp_id, key, value):
        self.tags[key] = value


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("http://127.0.0.1:5000", False),
        ("https://mlflow.lab.example.org", False),
        ("sqlite:///{root}/mlflow.db", True),
        ("", True),  # unset: the embedded store under the repo root
    ],
)
def test_artifact_root_is_the_servers_for_a_server(uri, local, tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))
    if uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri.format(root=tmp_path))
    else:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    client = _Client()
    assert tracking.experiment_id(client, "sdd") == "1"
    want = (tmp_path / "mlartifacts").as_uri() if local else None
    assert client.created == [("sdd", want)]
    assert client.tags == {tracking.EXPERIMENT_KIND[0]: tracking.EXPERIMENT_KIND[1]}


def test_an_existing_experiment_keeps_its_location(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    client = _Client()
    exp = SimpleNamespace(experiment_id="7", tags=dict([tracking.EXPERIMENT_KIND]))
    client.get_experiment_by_name = lambda name: exp
    assert tracking.experiment_id(client, "sdd") == "7"
    assert client.created == [] and client.tags == {}


def test_no_lock_file_for_a_server(tmp_path, monkeypatch):
    """A server serialises its own writes: no ``mlflow.db.lock`` is looked for (nor created) anywhere."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.chdir(tmp_path)
    with tracking._store_lock(timeout_s=0.1):
        pass
    assert not list(Path(tmp_path).iterdir())
