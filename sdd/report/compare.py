"""``sdd compare``: the comparative report across MLflow runs (any number of ``dvc exp run``s).

Systems are ``<dvc experiment>/<arm>``; for each, the newest ``evaluate`` run supplies the metrics
and the newest ``train`` run the training summary, per-epoch dev loss and per-step telemetry (its
logged CSV). The figures and tables are the pipeline report's own (:mod:`sdd.report.build`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from sdd import tracking
from sdd.report.build import write_report

log = logging.getLogger(__name__)

__all__ = ["cli_main", "compare", "unflatten_eval_metrics"]


def unflatten_eval_metrics(flat: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Invert :func:`sdd.tracking.flatten` for evaluate runs: ``{"demo/eval.eer": x}`` -> nested."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        eval_set, _, rest = key.partition(".")
        m = out.setdefault(eval_set.replace("/", ":"), {})
        parts = rest.split(".")
        if parts[0] == "eer_ci95" and len(parts) == 2:
            ci = m.setdefault("eer_ci95", [float("nan"), float("nan")])
            ci[int(parts[1])] = value
        elif len(parts) == 1:
            m[parts[0]] = value
        else:
            node = m
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
    return out


def compare(experiment: str, out_dir: Path) -> dict[str, Any]:
    """Write ``README.md``, ``index.html``, ``figures/`` and ``metrics.json`` under ``out_dir``."""
    from mlflow.tracking import MlflowClient

    from sdd.stage import write_json

    client = MlflowClient(tracking_uri=tracking.tracking_uri())
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        raise ValueError(
            f"--experiment: no MLflow experiment {experiment!r} at {tracking.tracking_uri()}; found {names}"
        )
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=5000)
    newest: dict[tuple[str, str], Any] = {}
    for r in runs:
        stage, arm = r.data.tags.get("sdd.stage"), r.data.tags.get("sdd.arm")
        if stage in ("train", "evaluate") and arm and r.info.status == "FINISHED":
            newest.setdefault((stage, f"{r.data.tags.get('dvc.experiment', '?')}/{arm}"), r)
    metrics, telemetry, epochs = {}, {}, {}
    for (stage, system), r in sorted(newest.items()):
        if stage != "evaluate":
            continue
        metrics[system] = unflatten_eval_metrics(r.data.metrics)
        train = newest.get(("train", system))
        if train is None:
            continue
        metrics[system]["train"] = {
            k: v
            for k, v in train.data.metrics.items()
            if k in ("conflict_ratio", "mean_cos", "projection_ratio", "rescale_ratio", "epochs",
                     "epochs_to_best", "seconds", "trainable_parameters", "total_parameters", "peak_rss_mb")
        }
        hist = {k: client.get_metric_history(train.info.run_id, k) for k in ("dev_loss",)}
        epochs[system] = pd.DataFrame(
            {"epoch": [m.step for m in hist["dev_loss"]], "dev_loss": [m.value for m in hist["dev_loss"]]}
        )
        try:
            arm = train.data.tags["sdd.arm"]
            local = client.download_artifacts(
                train.info.run_id, f"telemetry/{arm}.csv", str(out_dir / ".cache" / train.info.run_id)
            )
            telemetry[system] = pd.read_csv(local)
        except Exception as exc:  # a run logged before telemetry artifacts existed
            log.warning("%s: no telemetry artifact (%s)", system, exc)
    if not metrics:
        raise ValueError(
            f"experiment {experiment!r}: no finished evaluate runs to compare; run `dvc repro` first"
        )
    eval_sets = sorted({s for m in metrics.values() for s in m if s != "train"})
    write_report(
        metrics,
        eval_sets,
        telemetry,
        epochs,
        out_dir / "README.md",
        out_dir / "index.html",
        out_dir / "figures",
        title=f"sdd compare: MLflow experiment {experiment}",
        intro=f"{len(metrics)} systems (<dvc experiment>/<arm>) from {tracking.tracking_uri()}.",
    )
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def cli_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="sdd compare",
        description=__doc__.splitlines()[0],
        epilog="examples:\n"
        "  sdd compare --out reports/compare                  # every run of the 'sdd' experiment\n"
        "  sdd compare --experiment la19-study --out reports/la19\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--experiment", default="sdd", help="MLflow experiment name (params: tracking.experiment)"
    )
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    args = ap.parse_args(argv)
    try:
        metrics = compare(args.experiment, args.out)
    except ValueError as exc:
        print(f"sdd compare: {exc}", file=sys.stderr)
        return 2
    print(f"compared {len(metrics)} systems -> {args.out / 'index.html'}")
    return 0
