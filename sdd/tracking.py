"""MLflow, and only here: stages and ``sdd compare`` call this module.

The store lives under the repo root (``mlflow.db`` + ``mlartifacts/``) through an absolute URI, so
queued ``dvc exp run`` jobs, which execute in temporary copies of the repo, log to the same place
(:func:`sdd.paths.repo_root` reads ``$DVC_ROOT``). Runs are tagged with the DVC experiment name
(``$DVC_EXP_NAME``, or ``workspace`` outside ``dvc exp``), the stage and the arm. Metrics logged here
are the same dicts the stages write for DVC, flattened to dotted keys.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sdd.paths import repo_root

log = logging.getLogger(__name__)

__all__ = ["Run", "flatten", "off", "run", "tracking_uri", "dvc_experiment"]


def tracking_uri(root: Path | None = None) -> str:
    """``sqlite:////abs/repo/mlflow.db`` (``$MLFLOW_TRACKING_URI`` wins when set)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root or repo_root()) / 'mlflow.db'}"


def artifact_location(root: Path | None = None) -> str:
    return ((root or repo_root()) / "mlartifacts").as_uri()


def dvc_experiment() -> str:
    return os.environ.get("DVC_EXP_NAME") or "workspace"


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists of scalars become ``a.0``, ``a.1``."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = data
    return out


def _key(k: str) -> str:
    # MLflow keys allow alphanumerics, _ - . space / ; eval-set names contain ':'.
    return k.replace(":", "/")


class Run:
    """A thin handle over the active MLflow run."""

    def __init__(self, mlflow_module: Any, run_id: str) -> None:
        self._mlflow, self.run_id = mlflow_module, run_id

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        flat = {_key(k): float(v) for k, v in flatten(metrics).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
        if flat:
            self._mlflow.log_metrics(flat, step=step)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifacts(str(path), artifact_path=artifact_path)


@contextmanager
def run(
    stage: str, params: dict[str, Any], *, arm: str | None = None, experiment: str = "sdd"
) -> Iterator[Run]:
    """Start a tagged MLflow run logging ``params`` (flattened) for the duration of the block."""
    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    exp = mlflow.get_experiment_by_name(experiment)
    exp_id = (
        exp.experiment_id
        if exp
        else mlflow.create_experiment(experiment, artifact_location=artifact_location())
    )
    tags = {"sdd.stage": stage, "dvc.experiment": dvc_experiment()}
    if arm:
        tags["sdd.arm"] = arm
    name = f"{dvc_experiment()}/{arm + '/' if arm else ''}{stage}"
    with mlflow.start_run(experiment_id=exp_id, run_name=name, tags=tags) as active:
        flat = {_key(k): str(v)[:500] for k, v in flatten(params).items()}
        items = list(flat.items())
        for i in range(0, len(items), 100):  # MLflow's batch limit
            mlflow.log_params(dict(items[i : i + 100]))
        log.info("MLflow run %s (%s) at %s", active.info.run_id, name, tracking_uri())
        yield Run(mlflow, active.info.run_id)


class _NoRun:
    """What :func:`off` yields: the :class:`Run` methods, doing nothing."""

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        pass


@contextmanager
def off() -> Iterator[_NoRun]:
    """A run that logs nothing: the non-zero ranks of a ``torchrun`` job (rank 0 logs for the job)."""
    yield _NoRun()
