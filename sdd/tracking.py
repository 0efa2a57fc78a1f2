"""MLflow, and only here: stages and ``sdd compare`` call this module.

The store lives under the repo root (``mlflow.db`` + ``mlartifacts/``) through an absolute URI, so
queued ``dvc exp run`` jobs, which execute in temporary copies of the repo, log to the same place
(:func:`sdd.paths.repo_root` reads ``$DVC_ROOT``). Runs are tagged with the DVC experiment name
(``$DVC_EXP_NAME``, or ``workspace`` outside ``dvc exp``), the stage and the arm. Metrics logged here
are the same dicts the stages write for DVC, flattened to dotted keys.

Tracking never costs a result: when the store is unavailable (a missing or read-only folder, a
corrupt database, a server that is down), :func:`run` logs one warning saying what was NOT logged and
the stage carries on, so its DVC outputs are still written; a logging call that fails mid-run warns
the same way.
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


def _not_logged(what: str, name: str, exc: BaseException) -> None:
    log.warning(
        "MLflow store %s unavailable (%s: %s): %s of %s were NOT logged to MLflow; the stage's DVC "
        "outputs are written as usual", tracking_uri(), type(exc).__name__, str(exc).splitlines()[0][:300],
        what, name,
    )  # fmt: skip


class Run:
    """A thin handle over the active MLflow run; a failing call warns (:func:`_not_logged`)."""

    def __init__(self, mlflow_module: Any, run_id: str, name: str = "") -> None:
        self._mlflow, self.run_id, self.name = mlflow_module, run_id, name

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        flat = {_key(k): float(v) for k, v in flatten(metrics).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
        if flat:
            try:
                self._mlflow.log_metrics(flat, step=step)
            except Exception as exc:  # MlflowException, sqlite/HTTP errors: never fail the stage
                _not_logged(f"{len(flat)} metrics", self.name, exc)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        try:
            self._mlflow.log_artifact(str(path), artifact_path=artifact_path)
        except Exception as exc:
            _not_logged(f"artifact {path}", self.name, exc)

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        try:
            self._mlflow.log_artifacts(str(path), artifact_path=artifact_path)
        except Exception as exc:
            _not_logged(f"artifacts {path}", self.name, exc)


@contextmanager
def run(
    stage: str, params: dict[str, Any], *, arm: str | None = None, experiment: str = "sdd"
) -> Iterator[Run]:
    """Start a tagged MLflow run logging ``params`` (flattened) for the duration of the block.

    When the store cannot be reached, warn once (naming the run that was not logged) and yield a run
    that logs nothing: the stage still writes its outputs."""
    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)
    name = f"{dvc_experiment()}/{arm + '/' if arm else ''}{stage}"
    try:
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
        active = mlflow.start_run(experiment_id=exp_id, run_name=name, tags=tags)
    except Exception as exc:  # MlflowException, sqlite3/SQLAlchemy/HTTP errors
        _not_logged("the run, its params, metrics and artifacts", name, exc)
        yield _NoRun()  # type: ignore[misc]
        return
    status = "FAILED"
    try:
        flat = {_key(k): str(v)[:500] for k, v in flatten(params).items()}
        items = list(flat.items())
        try:
            for i in range(0, len(items), 100):  # MLflow's batch limit
                mlflow.log_params(dict(items[i : i + 100]))
        except Exception as exc:
            _not_logged(f"{len(items)} params", name, exc)
        log.info("MLflow run %s (%s) at %s", active.info.run_id, name, tracking_uri())
        yield Run(mlflow, active.info.run_id, name)
        status = "FINISHED"
    finally:
        try:
            mlflow.end_run(status)
        except Exception as exc:
            _not_logged(f"the end of the run (status {status})", name, exc)


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
