"""MLflow, and only here: stages and ``sdd compare`` call this module.

The store lives under the repo root (``mlflow.db`` + ``mlartifacts/``) through an absolute URI, so
queued ``dvc exp run`` jobs, which execute in temporary copies of the repo, log to the same place
(:func:`sdd.core.paths.repo_root` reads ``$DVC_ROOT``). ``$MLFLOW_TRACKING_URI`` names another store;
against a tracking server (``http://``) the artifacts go where the server keeps them, so several
clones on several hosts share one server (:func:`artifact_location`, docs/team.md).

Metrics logged here are the same dicts the stages write for DVC, flattened to dotted keys with names
a person reads (:func:`metric_names`: an interval is ``eer_ci95_low``/``_high``); params are written
as params.yaml writes them (:func:`param_names`, :func:`arm_params`: ``align = false``).

**Layout.** One MLflow experiment (``tracking.experiment``, tagged ``mlflow.experimentKind =
custom_model_development`` so the UI opens on its runs table) holds:

- one **parent run per pipeline run**, keyed by the DVC experiment name (``$DVC_EXP_NAME``;
  ``workspace`` for a plain ``dvc repro``): tags ``sdd.kind = pipeline`` and ``sdd.pipeline = <name>``.
  The report stage logs the report, its figures, the aggregated metrics and the run metadata there;
- one **child run per arm and seed** (``mlflow.parentRunId`` = the parent), keyed by the tags
  ``sdd.arm``, ``sdd.seed`` and ``sdd.config``, the digest of the arm's resolved config
  (:func:`config_digest`). Its params are that config; ``train@<arm>-<seed>`` logs the per-epoch
  curves, the training summary, the telemetry CSV and the model (``model/``: an MLflow pyfunc model
  holding the weights, :meth:`sdd.report.tracking_model.ModelRun.log_model`), and
  ``evaluate@<arm>-<seed>`` the eval metrics and the scored trials (``trials/<eval set id>.csv.gz``)
  into the same run. Stages run as separate processes, so each finds its run by these tags and
  creates it when absent (:func:`arm_run`).

A child's start and end times bracket its training (the evaluate stage keeps the end time training
left), so the UI's Duration is the training time. The report stage also logs on each child the params
that shaped its scores besides its config (data, augment, score, eval sets), on the parent the sections
every arm shares, and saves the runs table's view (:func:`save_runs_view`, opened by :func:`ui_url`):
the arm/seed runs with their eval EERs, dev EER, arm and seed (docs/report.md).

A pipeline run whose arm was cached by DVC (trained in an earlier experiment) gets a child too: the
report stage creates it from the DVC outputs (the same dicts) and tags it ``sdd.copied_from`` with
the run that trained the model, where the store still has one (:func:`ensure_arm_run`); the
weights stay on that run.

Tracking never costs a result: when the store is unavailable (a missing or read-only folder, a
corrupt database, a server that is down), :func:`pipeline_run` and :func:`arm_run` log one warning
saying what was NOT logged and yield a run that logs nothing, so the stage still writes its DVC
outputs; a logging call that fails mid-run warns the same way (:func:`_not_logged`), and the run then
stops calling the store (:attr:`Run.failed`; status updates included): a server that went down costs
a stage one round of MLflow's HTTP retries, not one per call.

**A tracking server** (``MLFLOW_TRACKING_URI=http://...``, ``make mlflow-server``:
:mod:`sdd.report.mlflow_server`, PostgreSQL behind ``mlflow server``): new experiments get the
server's artifact location (:func:`artifact_location` is None), so artifacts are uploaded through
it; the lock file below is not used (the server's database serialises the writes).

Concurrency: queued experiments (``dvc queue start -j 2``) log at once. MLflow's SQLite store waits
up to 20 s on a locked database (``PRAGMA busy_timeout = 20000`` on every session it opens), and
:func:`_retry` retries an operation that still meets a locked database. MLflow 3.17's tracking store
does NOT serialise its schema creation (its file lock guards other stores only): processes opening a
new store at once failed with ``table ... already exists``. So this module holds a lock file beside
the store (``mlflow.db.lock``, :func:`_store_lock`) while it opens the store and while it
finds-or-creates the experiment, a parent run or a child run (with its params): each is created
once. ``tests/tracking/test_concurrency.py`` races 4 experiments on a new store;
``benchmarks/concurrent_queue.py`` runs 4 real queued experiments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sdd.core.paths import repo_root

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

__all__ = [
    "EXPERIMENT_KIND",
    "Run",
    "align_method",
    "arm_params",
    "arm_run",
    "child_runs",
    "config_digest",
    "download",
    "dvc_experiment",
    "ensure_arm_run",
    "experiment_id",
    "flatten",
    "get_runs",
    "metric_history",
    "metric_names",
    "off",
    "param_names",
    "pipeline_run",
    "runs_view",
    "save_runs_view",
    "search_runs",
    "tracking_uri",
    "ui_url",
]

T = TypeVar("T")
#: MLflow 3's experiment-type tag: its UI opens a ``custom_model_development`` experiment on the runs
#: table (a GenAI one on the traces overview, which is empty here).
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
PARENT_ID = "mlflow.parentRunId"
TRAIN_STAGE = "train"
#: MLflow 3.17's shared views: experiment tags ``mlflow.sharedViewState.<key>`` (JSON), applied by the
#: UI for ``?viewStateShareKey=<key>``. :func:`save_runs_view` writes the one with key :data:`VIEW_KEY`.
VIEW_TAG = "mlflow.sharedViewState."
VIEW_KEY = "sdd"
VIEW_NAME = "sdd: EER by arm and seed"
#: How long a process waits for the store's lock file (:func:`_store_lock`) before giving up (the
#: store then counts as unavailable: the stage warns and carries on).
LOCK_TIMEOUT_S = 300.0


def tracking_uri(root: Path | None = None) -> str:
    """``sqlite:////abs/repo/mlflow.db`` (``$MLFLOW_TRACKING_URI`` wins when set)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root or repo_root()) / 'mlflow.db'}"


def artifact_location(root: Path | None = None) -> str | None:
    """Where a new experiment keeps its artifacts: ``<repo root>/mlartifacts`` for an embedded store
    (SQLite, a ``file:`` store); None for a tracking server (``http(s)://``, ``databricks``), which
    chooses (``mlflow server --serve-artifacts``: ``mlflow-artifacts:/``, uploaded through the server,
    so a client on another machine needs no access to its artifact folder)."""
    if not _embedded(tracking_uri(root)):
        return None
    return ((root or repo_root()) / "mlartifacts").as_uri()


def _embedded(uri: str) -> bool:
    """Whether ``uri`` is a store this process opens itself (a database URL or a folder), not a server."""
    return not uri.startswith(("http://", "https://", "databricks"))


def dvc_experiment() -> str:
    """The DVC experiment this process runs in (``$DVC_EXP_NAME``), or ``workspace``."""
    return os.environ.get("DVC_EXP_NAME") or "workspace"


def config_digest(config: dict[str, Any]) -> str:
    """SHA-256 (hex, first 16 digits) of a config's canonical JSON: the key of an arm/seed run."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


#: The last name of a list that is a confidence interval ``[low, high]`` (``eer_ci95``, ``ci95``,
#: ``holm_ci``): logged as ``<name>_low`` and ``<name>_high`` instead of ``<name>.0`` and ``<name>.1``.
_INTERVAL = re.compile(r"(^|_)ci(95)?$")


def metric_names(data: Any) -> dict[str, Any]:
    """:func:`flatten` with the names the MLflow runs table shows: an interval ``[low, high]``
    (:data:`_INTERVAL`) becomes ``<name>_low`` / ``<name>_high``. Other lists are no measurements
    (an aggregate's ``seeds``, ``tdcf_c012``'s cost constants) and are left out: they stay in the JSON
    artifacts, and the averaged epochs are a tag (:meth:`Run.log_train`)."""

    def pairs(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for k, v in node.items():
                if isinstance(v, (list, tuple)) and len(v) == 2 and _INTERVAL.search(str(k)):
                    out[f"{k}_low"], out[f"{k}_high"] = v
                elif not isinstance(v, (list, tuple)):
                    out[k] = pairs(v)
            return out
        return node

    return {_key(k): v for k, v in flatten(pairs(data)).items()}


def param_names(data: Any) -> dict[str, str]:
    """A (nested) config as MLflow params: dotted keys; a list of scalars is one param, its values
    joined by ``, `` (``model.lora.target_modules = q_proj, v_proj``); None is ``null`` and booleans
    ``true``/``false``, as params.yaml writes them."""

    def text(v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, bool):
            return str(v).lower()
        return str(v)

    def walk(node: Any, prefix: str) -> dict[str, str]:
        if isinstance(node, dict):
            out: dict[str, str] = {}
            for k, v in node.items():
                out.update(walk(v, f"{prefix}{k}."))
            return out
        if isinstance(node, (list, tuple)) and all(not isinstance(v, (dict, list, tuple)) for v in node):
            return {prefix[:-1]: ", ".join(text(v) for v in node)}
        if isinstance(node, (list, tuple)):
            return {k: v for i, v in enumerate(node) for k, v in walk(v, f"{prefix}{i}.").items()}
        return {prefix[:-1]: text(node)}

    return {_key(k): v[:6000] for k, v in walk(data, "").items()}


def arm_params(config: dict[str, Any]) -> dict[str, str]:
    """An arm's resolved config as its child run's params (:func:`param_names`). ``align`` is written
    as params.yaml spells it: ``false`` for no alignment (the config's ``none``), else the method."""
    params = param_names(config)
    if params.get("align") == "none":
        params["align"] = "false"
    return params


def align_method(param: str | None) -> str:
    """The aligner an ``align`` param names (:func:`arm_params` writes ``false`` for ``none``; runs
    logged before it wrote ``none``)."""
    return {"false": "none", None: "none"}.get(param, param)  # type: ignore[arg-type]


_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def _key(k: str) -> str:
    """An MLflow-safe metric/param name: eval-set names' ``:`` and DVC stage names' ``@`` become ``/``
    (``demo:eval`` -> ``demo/eval``, ``train@main-0`` -> ``train/main-0``); any other character MLflow
    refuses becomes ``_``."""
    return _UNSAFE.sub("_", k.replace(":", "/").replace("@", "/"))


def _retry(op: Callable[[], T], what: str, attempts: int = 4) -> T:
    """Run ``op``, retrying when SQLite stays locked beyond MLflow's own busy timeout."""
    for i in range(attempts):
        try:
            return op()
        except Exception as exc:  # MlflowException wraps sqlite3.OperationalError
            if "locked" not in str(exc).lower() or i == attempts - 1:
                raise
            log.warning("MLflow store busy during %s; retrying (%s)", what, exc)
            time.sleep(2.0 * (i + 1))
    raise AssertionError("unreachable")


def _not_logged(what: str, name: str, exc: BaseException) -> None:
    log.warning(
        "MLflow store %s unavailable (%s: %s): %s of %s were NOT logged to MLflow; the stage's DVC "
        "outputs are written as usual", tracking_uri(), type(exc).__name__, str(exc).splitlines()[0][:300],
        what, name,
    )  # fmt: skip


#: MLflow error codes of a request the store answered and refused (a value it does not accept): the
#: store works, so the run's later calls still go to it.
_REFUSALS = frozenset({"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS"})


def _cause(exc: BaseException) -> str:
    """``Type: first line of the message`` (200 characters at most)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


def _skipped(what: str, name: str, cause: str) -> None:
    log.warning(
        "MLflow store %s failed earlier in this process (%s): %s of %s were NOT logged to MLflow (not tried "
        "again); the stage's DVC outputs are written as usual", tracking_uri(), cause, what, name,
    )  # fmt: skip


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """A :class:`Run` logging method that warns instead of failing the stage when the store fails.
    After a first failure the run stops calling the store (:attr:`Run.failed`; a value the store
    refused, :data:`_REFUSALS`, is no failure of the store): each later call only warns, so a
    tracking server that went down costs a stage one round of MLflow's HTTP retries
    (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``), not one per logging call."""

    def call(self: Run, *args: Any, **kwargs: Any) -> None:
        what = method.__name__.removeprefix("log_").replace("_", " ")
        if self.failed is not None:
            _skipped(what, self.name, self.failed)
            return
        try:
            method(self, *args, **kwargs)
        except Exception as exc:  # MlflowException, sqlite/SQLAlchemy/HTTP errors
            if getattr(exc, "error_code", None) not in _REFUSALS:
                self.failed = _cause(exc)
            _not_logged(what, self.name, exc)

    call.__name__, call.__doc__ = method.__name__, method.__doc__
    return call


class Run:
    """A handle on one MLflow run, logging through the client (no global active run). A logging call
    that fails warns (:func:`_not_logged`) and never fails the stage."""

    def __init__(self, client: Any, run_id: str, name: str = "") -> None:
        self._client, self.run_id, self.name = client, run_id, name or run_id
        self._epoch_elapsed: dict[int, float] = {}
        #: Why the store failed during a logging call of this run (None: it has not): later calls skip it.
        self.failed: str | None = None

    @_guarded
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Log the finite numbers of a (nested) dict under dotted keys; other values are skipped."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        flat = [
            Metric(k, float(v), now, step or 0)
            for k, v in metric_names(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ]
        for i in range(0, len(flat), 1000):  # MLflow's batch limit
            _retry(lambda b=flat[i : i + 1000]: self._client.log_batch(self.run_id, metrics=b), "log_metrics")

    @_guarded
    def log_params(self, params: dict[str, Any]) -> None:
        """Log a (nested) dict as params (:func:`param_names`). MLflow's params cannot change: a key the
        run already has with the same value is skipped; with another value (a workspace run re-used
        by a later ``dvc repro`` with other params) it is left as it was and one warning names each
        such key, its logged value and the new one."""
        from mlflow.entities import Param

        have = _retry(lambda: self._client.get_run(self.run_id), "get_run").data.params
        new = param_names(params)
        changed = {k: (have[k], v) for k, v in new.items() if k in have and have[k] != v}
        if changed:
            log.warning(
                "MLflow run %s already has other values for %d params, kept (MLflow params cannot change; "
                "`dvc exp run` gives each experiment its own runs): %s", self.name, len(changed),
                "; ".join(f"{k}: logged {a!r}, now {b!r}" for k, (a, b) in sorted(changed.items())[:10]),
            )  # fmt: skip
        flat = [Param(k, v) for k, v in new.items() if k not in have]
        for i in range(0, len(flat), 100):  # MLflow's batch limit
            _retry(lambda b=flat[i : i + 100]: self._client.log_batch(self.run_id, params=b), "log_params")

    @_guarded
    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        batch = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
        _retry(lambda: self._client.log_batch(self.run_id, tags=batch), "set_tags")

    @_guarded
    def log_table(self, table: Any, artifact_path: str) -> None:
        """Log a DataFrame as the CSV artifact ``artifact_path`` (gzip when it ends in ``.gz``); floats
        are written as their shortest round-trip repr, so reading it back gives the same values."""
        import tempfile

        folder, _, name = artifact_path.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            table.to_csv(Path(tmp) / name, index=False)
            self._client.log_artifact(self.run_id, str(Path(tmp) / name), artifact_path=folder or None)

    @_guarded
    def log_artifact(self, path: Path, artifact_path: str | None = None, name: str | None = None) -> None:
        """Log one file (under ``artifact_path``; renamed to ``name`` when given)."""
        if name is None or name == Path(path).name:
            self._client.log_artifact(self.run_id, str(path), artifact_path=artifact_path)
            return
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            shutil.copyfile(path, Path(tmp) / name)
            self._client.log_artifact(self.run_id, str(Path(tmp) / name), artifact_path=artifact_path)

    # The layout of an arm/seed child run, shared by the stages (live) and the report (a cached arm).
    def log_epoch(self, row: dict[str, Any]) -> None:
        """One epoch's row as ``epoch.<key>`` metrics at step ``row["epoch"]`` (the per-epoch curves).
        The row's ``seconds`` (training time since the run's start, resumed runs included) is logged
        as ``epoch.elapsed_seconds`` and its difference from the previous epoch's as
        ``epoch.seconds`` (that epoch's own training time)."""
        epoch = int(row["epoch"])
        values = {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
        if isinstance(row.get("seconds"), (int, float)):
            elapsed = float(row["seconds"])
            previous = self._elapsed(epoch - 1)
            values["elapsed_seconds"] = elapsed
            if previous is not None:
                values["seconds"] = elapsed - previous
            self._epoch_elapsed[epoch] = elapsed
        self.log_metrics({"epoch": values}, step=epoch)

    def _elapsed(self, epoch: int) -> float | None:
        """``elapsed_seconds`` of ``epoch``: logged by this process, or (a resumed run's first epoch
        here) read back from the run; 0 before the first epoch."""
        if epoch < 0:
            return 0.0
        if epoch not in self._epoch_elapsed:
            if self.failed is not None:  # the store failed earlier: not asked again
                return None
            try:
                history = self._client.get_metric_history(self.run_id, "epoch.elapsed_seconds")
            except Exception as exc:  # the store failed: the epoch's own time is left out, the rest is logged
                log.warning(
                    "MLflow run %s: epoch %d's own seconds not logged (could not read the "
                    "previous epochs' times back: %s)",
                    self.run_id,
                    epoch + 1,
                    exc,
                )
                return None
            self._epoch_elapsed.update({m.step: m.value for m in history})
        return self._epoch_elapsed.get(epoch)

    def log_train(self, summary: dict[str, Any], train_json: Path, telemetry: Path) -> None:
        """The training summary as ``train.<key>`` metrics (``train.seconds``: the training time) and
        its ``best_epochs`` (the averaged epochs) as the tag ``sdd.best_epochs`` (``2, 4, 5``); the train
        stage's JSON (summary + epochs) and telemetry CSV as artifacts ``train.json`` and
        ``telemetry.csv``."""
        self.log_metrics({"train": {k: v for k, v in summary.items() if k != "best_epochs"}})
        if summary.get("best_epochs") is not None:
            self.set_tags({"sdd.best_epochs": ", ".join(str(e) for e in summary["best_epochs"])})
        self.log_artifact(train_json, name="train.json")
        self.log_artifact(telemetry, name="telemetry.csv")

    def log_eval(self, metrics: dict[str, Any], eval_json: Path, trials: dict[str, Any]) -> None:
        """Eval metrics as ``<eval set>.<key>`` metrics; the evaluate stage's JSON as ``eval.json`` and
        each eval set's scored trials as ``trials/<eval set id>.csv.gz``."""
        self.log_metrics(metrics)
        self.log_artifact(eval_json, name="eval.json")
        for set_id, table in trials.items():
            self.log_table(table, f"trials/{set_id}.csv.gz")

    @_guarded
    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        self._client.log_artifacts(self.run_id, str(path), artifact_path=artifact_path)


def _lock_path(uri: str) -> Path | None:
    """The lock file beside a SQLite store (``mlflow.db`` -> ``mlflow.db.lock``); None for another
    kind of store (a tracking server serialises its own writes) or an in-memory database."""
    if not uri.startswith("sqlite:///"):
        return None
    db = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if db in ("", ":memory:") else Path(db + ".lock")


@contextmanager
def _store_lock(timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the store's lock file (``flock``, exclusive) while this process creates the schema or
    finds-or-creates an experiment or run, so that concurrent processes never both create it.
    Not re-entrant: callers never nest it. Raises :class:`TimeoutError` naming the lock file when
    another process holds it longer than ``timeout_s``."""
    path = _lock_path(tracking_uri())
    if path is None or fcntl is None:  # no flock on Windows: MLflow's own retries only
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"MLflow store lock {path} still held by another process after {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _client() -> Any:
    """A client of :func:`tracking_uri`. Its store is opened under :func:`_store_lock`: MLflow
    3.17's SQLite tracking store creates a missing schema (Alembic migrations) without a lock, and
    processes opening a new store at once fail with ``table ... already exists``."""
    from mlflow.tracking import MlflowClient

    logging.getLogger("alembic").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in `sdd compare`
    with _store_lock():  # the client builds the store (schema included), once per process and URI
        return _retry(lambda: MlflowClient(tracking_uri=tracking_uri()), "opening the store")


def experiment_id(client: Any, name: str) -> str:
    """The id of experiment ``name``, created (with its artifact root under the repo) when absent, and
    tagged as model training (:data:`EXPERIMENT_KIND`). Found-or-created under :func:`_store_lock`."""
    with _store_lock():
        exp = _retry(lambda: client.get_experiment_by_name(name), "get_experiment_by_name")
        if exp is None:
            try:
                exp_id = _retry(
                    lambda: client.create_experiment(name, artifact_location=artifact_location()),
                    "create_experiment",
                )
            except Exception:  # created meanwhile by a process outside the lock (another kind of store)
                exp = client.get_experiment_by_name(name)
                if exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            exp_id = exp.experiment_id
        if exp is None or exp.tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
            _retry(lambda: client.set_experiment_tag(exp_id, *EXPERIMENT_KIND), "set_experiment_tag")
    return exp_id


def _tag_filter(tags: dict[str, str]) -> str:
    return " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())


def _find(client: Any, exp_id: str, tags: dict[str, str]) -> Any | None:
    runs = _retry(
        lambda: client.search_runs(
            [exp_id], _tag_filter(tags), max_results=1, order_by=["attributes.start_time DESC"]
        ),
        "search_runs",
    )
    return runs[0] if runs else None


def _pipeline_run_id(client: Any, exp_id: str, pipeline: str) -> str:
    tags = {"sdd.kind": "pipeline", "sdd.pipeline": pipeline}
    with _store_lock():  # find-or-create as one step: two processes never both create it
        found = _find(client, exp_id, tags)
        if found is not None:
            return found.info.run_id
        run = _retry(lambda: client.create_run(exp_id, tags=tags, run_name=pipeline), "create_run")
    log.info("MLflow parent run %s (%s) at %s", run.info.run_id, pipeline, tracking_uri())
    return run.info.run_id


@contextmanager
def pipeline_run(experiment: str = "sdd", pipeline: str | None = None) -> Iterator[Run]:
    """The parent run of this pipeline run (DVC experiment), created when absent; FINISHED on exit."""
    name = pipeline or dvc_experiment()
    try:
        client = _client()
        exp_id = experiment_id(client, experiment)
        run_id = _pipeline_run_id(client, exp_id, name)
        _retry(lambda: client.update_run(run_id, status="RUNNING"), "update_run")
    except Exception as exc:  # MlflowException, sqlite3/SQLAlchemy/HTTP errors
        _not_logged("the pipeline run, its metrics and artifacts", name, exc)
        yield _NoRun()  # type: ignore[misc]
        return
    handle = Run(client, run_id, name)
    with _status(client, run_id, handle=handle):
        yield handle


@contextmanager
def _status(
    client: Any, run_id: str, end_time: int | None = None, handle: Run | None = None
) -> Iterator[None]:
    """RUNNING while the block runs, then FINISHED (FAILED on an exception). The run's end time is
    ``end_time`` (ms since the epoch) when given, else now. A store that fails on these updates warns
    (the run's status was NOT logged) and never fails the block; when ``handle`` already met a failed
    store, the end status is not tried."""
    _set_status(client, run_id, "RUNNING", None, handle)
    try:
        yield
    except BaseException:
        _set_status(client, run_id, "FAILED", end_time, handle)
        raise
    _set_status(client, run_id, "FINISHED", end_time, handle)


def _set_status(client: Any, run_id: str, status: str, end_time: int | None, handle: Run | None) -> None:
    name = handle.name if handle is not None else run_id
    if handle is not None and handle.failed is not None:
        _skipped(f"the run's status {status}", name, handle.failed)
        return
    try:
        if status == "RUNNING":
            _retry(lambda: client.update_run(run_id, status="RUNNING"), "update_run")
        else:
            _retry(lambda: client.set_terminated(run_id, status, end_time=end_time), "set_terminated")
    except Exception as exc:  # MlflowException, sqlite3/SQLAlchemy/HTTP errors
        if handle is not None:
            handle.failed = _cause(exc)
        _not_logged(f"the run's status {status}", name, exc)


def _arm_tags(parent_id: str, arm: str, seed: int, digest: str) -> dict[str, str]:
    return {
        PARENT_ID: parent_id,
        "sdd.kind": "arm",
        "sdd.arm": arm,
        "sdd.seed": str(seed),
        "sdd.config": digest,
    }


def _arm_run_id(
    client: Any, exp_id: str, parent_id: str, config: dict[str, Any], pipeline: str
) -> tuple[str, bool]:
    arm, seed = config["name"], int(config["seed"])
    tags = _arm_tags(parent_id, arm, seed, config_digest(config))
    with _store_lock():  # find-or-create (with its params) as one step
        found = _find(client, exp_id, tags)
        if found is not None:
            return found.info.run_id, False
        run_tags, run_name = {**tags, "sdd.pipeline": pipeline}, f"{arm}-s{seed}"
        run = _retry(lambda: client.create_run(exp_id, tags=run_tags, run_name=run_name), "create_run")
        Run(client, run.info.run_id).log_params(arm_params(config))
    return run.info.run_id, True


@contextmanager
def arm_run(
    stage: str, config: dict[str, Any], *, experiment: str = "sdd", run_type: type[Run] = Run
) -> Iterator[Run]:
    """The child run of one arm and seed in this pipeline run, found by its tags or created.

    Args:
        stage: the calling stage (``train`` or ``evaluate``); tag ``sdd.<stage> = logged`` marks that it
            finished logging. The run's start and end times are those of ``train`` (a run that
            ``evaluate`` creates, its model trained under another parent, keeps evaluate's).
        config: the arm's resolved config (``to_dict(ArmConfig)``, with ``name`` and ``seed``); logged
            as the run's params when the run is created, and digested into its key.
        experiment: the MLflow experiment name.
        run_type: the handle's class (the train stage's, :class:`sdd.report.tracking_model.ModelRun`,
            also logs the model).
    """
    pipeline = dvc_experiment()
    name = f"{pipeline}/{config['name']}-s{config['seed']}/{stage}"
    try:
        client = _client()
        exp_id = experiment_id(client, experiment)
        parent_id = _pipeline_run_id(client, exp_id, pipeline)
        run_id, _ = _arm_run_id(client, exp_id, parent_id, config, pipeline)
        # The run's start and end times bracket its training: a later stage (evaluate) keeps the end
        # time training left, so the runs table's Duration is not the wait for the other arms.
        end_time = None
        if stage != TRAIN_STAGE:
            end_time = _retry(lambda: client.get_run(run_id), "get_run").info.end_time
        _retry(lambda: client.update_run(run_id, status="RUNNING"), "update_run")
    except Exception as exc:  # MlflowException, sqlite3/SQLAlchemy/HTTP errors
        _not_logged("the run, its params, metrics and artifacts", name, exc)
        yield _NoRun()  # type: ignore[misc]
        return
    log.info(
        "MLflow run %s (%s, %s-s%s) at %s", run_id, pipeline, config["name"], config["seed"], tracking_uri()
    )
    handle = run_type(client, run_id, name)
    try:
        with _status(client, run_id, end_time, handle):
            yield handle
            if handle.failed is None:  # only once everything of the stage is logged
                handle.set_tags({f"sdd.{stage}": "logged"})
    except BaseException:
        _set_status(client, parent_id, "FAILED", None, handle)
        raise


def ensure_arm_run(
    parent: Run,
    config: dict[str, Any],
    fill: Callable[[Run], None],
    *,
    experiment: str = "sdd",
    pipeline: str | None = None,
    train_seconds: float | None = None,
) -> tuple[Run, bool]:
    """The child of ``parent`` for this arm and seed; when absent, create it and let ``fill`` log
    its content from the DVC outputs (a cached arm), tagged with the run that trained the model.
    Its Duration in the runs table is ``train_seconds`` when given (the training time of the cached
    model; its start time is when it was copied), as a live child's is its training time.

    Returns:
        ``(run, created)``; a run that logs nothing when the store failed (a warning says what was not
        logged; ``parent`` then skips the store too).
    """
    name = f"{pipeline or dvc_experiment()}/{config['name']}-s{config['seed']}"
    if parent.failed is not None:
        _skipped("the run, its params, metrics and artifacts", name, parent.failed)
        return _NoRun(), False  # type: ignore[return-value]
    try:
        return _ensure_arm_run(parent, config, fill, experiment, pipeline, train_seconds, name)
    except Exception as exc:  # MlflowException, sqlite3/SQLAlchemy/HTTP errors
        parent.failed = _cause(exc)
        _not_logged("the run, its params, metrics and artifacts", name, exc)
        return _NoRun(), False  # type: ignore[return-value]


def _ensure_arm_run(
    parent: Run,
    config: dict[str, Any],
    fill: Callable[[Run], None],
    experiment: str,
    pipeline: str | None,
    train_seconds: float | None,
    name: str,
) -> tuple[Run, bool]:
    client = parent._client
    exp_id = experiment_id(client, experiment)
    run_id, created = _arm_run_id(client, exp_id, parent.run_id, config, pipeline or dvc_experiment())
    run = Run(client, run_id, name)
    if created:
        digest = config_digest(config)
        source = _find(client, exp_id, {"sdd.kind": "arm", "sdd.config": digest, "sdd.train": "logged"})
        run.set_tags(
            {
                "sdd.copied_from": source.info.run_id if source else "none (not in this MLflow store)",
                "sdd.cached": "true",
            }
        )
        end_time = None
        if train_seconds is not None and math.isfinite(train_seconds):
            start = _retry(lambda: client.get_run(run_id), "get_run").info.start_time
            end_time = start + round(1000 * train_seconds)
        with _status(client, run_id, end_time, run):
            fill(run)
            run.set_tags({"sdd.train": "copied", "sdd.evaluate": "copied"})
        parent.failed = parent.failed or run.failed  # the parent's later calls skip a failed store too
    return run, created


def runs_view(eval_sets: list[str]) -> dict[str, Any]:
    """The runs table's saved view (:func:`save_runs_view`): the arm/seed runs only (the parents, which
    hold the report, are one filter away), sorted by the first eval set's EER, showing per eval set
    its EER and 95% CI, then the dev EER of the saved model, arm, seed, regime, align and training
    seconds. Keys as MLflow's UI writes them (``metrics.`<name>```, ``params.``, ``tags.``)."""
    metric = [f"{_key(e)}.{m}" for e in eval_sets for m in ("eer", "eer_ci95_low", "eer_ci95_high")]
    columns = [
        *(f"metrics.`{m}`" for m in metric),
        "metrics.`train.final_dev_eer`",
        "tags.`sdd.arm`",
        "tags.`sdd.seed`",
        "params.`regime`",
        "params.`align`",
        "metrics.`train.seconds`",
    ]
    return {
        "searchFilter": "tags.`sdd.kind` = 'arm'",
        "orderByKey": f"metrics.`{metric[0]}`" if metric else "attributes.start_time",
        "orderByAsc": bool(metric),
        "selectedColumns": columns,
        "columnOrder": columns,
    }


def save_runs_view(run: Run, experiment: str, eval_sets: list[str]) -> None:
    """Store :func:`runs_view` on ``experiment`` as MLflow 3.17's shared view :data:`VIEW_KEY`: the
    experiment tag ``mlflow.sharedViewState.<key>`` holding ``{name, createdAt, updatedAt, state}``
    (what the runs page's *Views* menu saves; it lists the view by name), applied when the address
    carries ``?viewStateShareKey=<key>`` (:func:`ui_url` adds it). MLflow 3.17 has no
    default column set per experiment: without the key the table opens on its own defaults (no
    metric column). A store that fails warns, as every logging call here."""
    if run.failed is not None:
        _skipped("the runs table's saved view", experiment, run.failed)
        return
    try:
        exp_id = experiment_id(run._client, experiment)
        now = int(time.time() * 1000)
        state = json.dumps(runs_view(eval_sets), sort_keys=True)
        view = json.dumps({"name": VIEW_NAME, "createdAt": now, "updatedAt": now, "state": state})
        _retry(
            lambda: run._client.set_experiment_tag(exp_id, VIEW_TAG + VIEW_KEY, view), "set_experiment_tag"
        )
    except Exception as exc:  # MlflowException, sqlite3/SQLAlchemy/HTTP errors
        _not_logged("the runs table's saved view", experiment, exc)


def ui_url(port: int, experiment: str = "sdd", host: str = "127.0.0.1") -> str:
    """The MLflow UI address that opens ``experiment`` on its runs table, in the saved view
    (:func:`save_runs_view`) when the experiment has it.

    MLflow 3.17's UI decides between its GenAI pages and its model-training pages by a
    ``workflowType`` it keeps in the browser (default ``genai``, whatever the experiment's
    ``mlflow.experimentKind`` tag says); ``?workflowType=machine_learning`` in the address switches it.
    """
    exp = _client().get_experiment_by_name(experiment)
    route = f"experiments/{exp.experiment_id}/runs" if exp is not None else "experiments"
    view = f"viewStateShareKey={VIEW_KEY}&" if exp is not None and VIEW_TAG + VIEW_KEY in exp.tags else ""
    return f"http://{host}:{port}/#/{route}?{view}workflowType=machine_learning"


def search_runs(experiment: str, filter_string: str = "") -> list[Any]:
    """Every run of ``experiment`` matching ``filter_string``, newest first (``sdd compare``)."""
    client = _client()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        raise ValueError(
            f"--experiment: no MLflow experiment {experiment!r} at {tracking_uri()}; found {names}"
        )
    out, token = [], None
    while True:
        page = client.search_runs(
            [exp.experiment_id],
            filter_string,
            max_results=1000,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        out += list(page)
        token = page.token
        if not token:
            return out


def get_runs(run_ids: list[str]) -> list[Any]:
    """The runs with these ids (``sdd compare --runs``); an unknown id is a ValueError naming it."""
    from mlflow.exceptions import MlflowException

    client = _client()
    runs = []
    for run_id in run_ids:
        try:
            runs.append(client.get_run(run_id))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise ValueError(f"--runs {run_id}: no such MLflow run at {tracking_uri()}") from None
    return runs


def child_runs(parent_id: str, experiment_id_: str) -> list[Any]:
    """The children of a parent run, newest first."""
    client = _client()
    return list(
        client.search_runs(
            [experiment_id_],
            _tag_filter({PARENT_ID: parent_id}),
            max_results=5000,
            order_by=["attributes.start_time DESC"],
        )
    )


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    """``[(step, value)]`` of one metric of a run."""
    return [(m.step, m.value) for m in _client().get_metric_history(run_id, _key(key))]


def download(run_id: str, artifact_path: str, dest: Path) -> Path | None:
    """Download one artifact of a run into ``dest``; None when the run has no such artifact."""
    client = _client()
    parent, _, name = artifact_path.rpartition("/")
    if name not in {Path(f.path).name for f in client.list_artifacts(run_id, parent or None)}:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    return Path(client.download_artifacts(run_id, artifact_path, str(dest)))


class _NoRun:
    """What :func:`off` (and an unavailable store) yields: :class:`Run`'s logging methods, doing
    nothing; ``run_id`` is None."""

    run_id = None
    name = "(not logged)"

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("log_") or name == "set_tags":
            return lambda *args, **kwargs: None
        raise AttributeError(name)


@contextmanager
def off() -> Iterator[Any]:
    """A run that logs nothing: the non-zero ranks of a ``torchrun`` job (rank 0 logs for the job)."""
    yield _NoRun()
