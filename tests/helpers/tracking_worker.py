"""One "DVC experiment" logging to MLflow through :mod:`sdd.report.tracking`, as the pipeline's stages do.

``tests/tracking/test_concurrency.py`` starts several of these at once against one store. Each
imports MLflow first, writes ``<sync>/ready-<name>`` and waits for ``<sync>/go``, so that every
process reaches the store (its schema creation included) at the same moment. Then, as DVC experiment
``$DVC_EXP_NAME``: ``train`` and ``evaluate`` of each arm/seed (:func:`sdd.report.tracking.arm_run`: the
parent and child runs found or created, params, per-epoch curves, metrics, one artifact), then the
``report`` (:func:`sdd.report.tracking.pipeline_run`, :func:`sdd.report.tracking.ensure_arm_run` over the same
arms plus a cached one). Prints one JSON line: the ``created`` flag of each ``ensure_arm_run`` and
every warning that ``sdd.report.tracking`` logged. The expected content is :func:`expected`, shared with
the test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

ARMS = [("main", 0), ("main", 1), ("clean", 0)]  # trained and evaluated in every experiment
CACHED = ("cached", 0)  # only the report creates its child (an arm DVC took from its cache)
EPOCHS = 3


def config(exp: str, arm: str, seed: int) -> dict[str, Any]:
    """An arm's resolved config; ``lr`` differs per experiment, as with ``dvc exp run -S train.lr=...``."""
    lr = 0.001 * (1 + int(exp.rsplit("-", 1)[-1]))
    return {"name": arm, "seed": seed, "regime": "clean" if arm == "clean" else "dual_path",
            "train": {"lr": lr, "epochs": EPOCHS}, "eval_sets": ["demo:eval"]}


def value(*key: Any) -> float:
    """A distinct, reproducible number for each (experiment, arm, seed, what) key."""
    import hashlib

    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:8], 16) / 2**32


def expected(exp: str) -> dict[str, Any]:
    """What experiment ``exp`` logs: per (arm, seed) child, its params (flattened) and metrics
    (``{key: [(step, value), ...]}``); and the parent's metrics."""
    from sdd.report.tracking import _key, arm_params

    children = {}
    for arm, seed in [*ARMS, CACHED]:
        cfg = config(exp, arm, seed)
        metrics: dict[str, list[tuple[int, float]]] = {
            "epoch.loss": [(e, value(exp, arm, seed, "loss", e)) for e in range(1, EPOCHS + 1)],
            "train.best_dev_eer": [(0, value(exp, arm, seed, "best"))],
            _key("demo:eval.eer"): [(0, value(exp, arm, seed, "eer"))],
        }
        children[(arm, seed)] = {"params": arm_params(cfg), "metrics": metrics}
    return {"children": children, "parent_metrics": {"report.n_runs": [(0, float(len(ARMS) + 1))]}}


def train(tracking: Any, exp: str, arm: str, seed: int, tmp: Path) -> None:
    with tracking.arm_run("train", config(exp, arm, seed)) as run:
        for epoch in range(1, EPOCHS + 1):
            run.log_epoch({"epoch": epoch, "loss": value(exp, arm, seed, "loss", epoch)})
        summary = tmp / f"train-{arm}-{seed}.json"
        summary.write_text(json.dumps({"arm": arm, "seed": seed}))
        run.log_metrics({"train": {"best_dev_eer": value(exp, arm, seed, "best")}})
        run.log_artifact(summary, name="train.json")


def evaluate(tracking: Any, exp: str, arm: str, seed: int) -> None:
    with tracking.arm_run("evaluate", config(exp, arm, seed)) as run:
        run.log_metrics({"demo:eval": {"eer": value(exp, arm, seed, "eer")}})


def report(tracking: Any, exp: str) -> dict[str, bool]:
    created = {}
    with tracking.pipeline_run() as parent:
        if parent.run_id is None:  # the store is unavailable (a warning says so), as in publish.py
            return created
        for arm, seed in [*ARMS, CACHED]:

            def fill(child: Any, arm: str = arm, seed: int = seed) -> None:
                for epoch in range(1, EPOCHS + 1):
                    child.log_epoch({"epoch": epoch, "loss": value(exp, arm, seed, "loss", epoch)})
                child.log_metrics({"train": {"best_dev_eer": value(exp, arm, seed, "best")}})
                child.log_metrics({"demo:eval": {"eer": value(exp, arm, seed, "eer")}})

            _, created[f"{arm}-{seed}"] = tracking.ensure_arm_run(parent, config(exp, arm, seed), fill)
        parent.log_metrics({"report": {"n_runs": len(created)}})
    return created


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sync", type=Path, required=True, help="folder of the ready/go files")
    args = ap.parse_args()
    exp = os.environ["DVC_EXP_NAME"]

    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (the slow imports, before the barrier)
    from mlflow.tracking import MlflowClient  # noqa: F401

    from sdd.report import tracking

    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logging.getLogger("sdd.report.tracking").addHandler(Keep(logging.WARNING))
    (args.sync / f"ready-{exp}").write_text("")
    deadline = time.time() + 120
    while not (args.sync / "go").exists():
        if time.time() > deadline:
            raise SystemExit("no go file after 120 s")
        time.sleep(0.005)
    t0 = time.time()
    for arm, seed in ARMS:
        train(tracking, exp, arm, seed, args.sync)
    for arm, seed in ARMS:
        evaluate(tracking, exp, arm, seed)
    created = report(tracking, exp)
    print(json.dumps({"exp": exp, "created": created, "warnings": warnings, "seconds": time.time() - t0}))


if __name__ == "__main__":
    main()
