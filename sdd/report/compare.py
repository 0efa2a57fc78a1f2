"""``sdd compare``: the comparative report from MLflow runs alone (any number of pipeline runs and
``dvc exp run`` experiments), without retraining.

Input: the child runs (one per arm and seed, see :mod:`sdd.report.tracking`) of an MLflow experiment, or of
the runs named with ``--runs`` (a parent run stands for its children). Each child holds what the
pipeline report reads from DVC outputs: ``eval.json``, ``train.json``, ``telemetry.csv`` and
``trials/<eval set id>.csv.gz``. Children are grouped into systems by their ``sdd.system`` tag (the
arm's resolved config without its seed, and the upstream data config), so the seeds of one system
pool across experiments: ``dvc exp run --queue -S 'seeds=[1,2]'`` adds seeds 1 and 2 to the seed 0 of
an earlier run. The same system and seed logged twice (a workspace re-run, a cached arm's copy) counts
once, the newest. A scoring-only system (regime ``published``: published weights, never trained)
keeps one run, the newest: its runs under other experiments' first seeds score the same model, so
they are no seeds to average over. A system is named after its arm, with the DVC experiments it came
from in brackets when two systems share an arm name.

Eval sets, the reference arm, the statistics params, the shortcut audit, the hand-feature baseline
and the seen attacks come from ``report_input.json`` of the newest parent run involved. Everything
after that is the pipeline report's own code (:mod:`sdd.report.stats`, :mod:`sdd.report.build`), so
over the runs of one pipeline run ``sdd compare`` gives the pipeline report's numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.core.cliargs import Parser
from sdd.core.configbase import build
from sdd.core.sections import ReportParams
from sdd.report import tracking
from sdd.report.build import write_report
from sdd.report.inputs import ReportInput, SeedRun, read_trials_csv
from sdd.report.metadata import run_metadata
from sdd.report.publish import REPORT_INPUT
from sdd.report.sections.common import SCORING_ONLY_REGIME
from sdd.report.stats import report_metrics

log = logging.getLogger(__name__)

__all__ = ["cli_main", "compare", "select_children"]


def select_children(experiment: str, run_ids: list[str] | None) -> list[Any]:
    """The evaluated arm/seed child runs: of the experiment, or of ``run_ids`` (parents expand to
    their children), newest first."""
    if run_ids:
        runs = []
        for run in tracking.get_runs(run_ids):
            if run.data.tags.get("sdd.kind") == "pipeline":
                runs += tracking.child_runs(run.info.run_id, run.info.experiment_id)
            else:
                runs.append(run)
        runs.sort(key=lambda r: -r.info.start_time)
    else:
        runs = tracking.search_runs(experiment, "tags.`sdd.kind` = 'arm'")
    return [
        r
        for r in runs
        if r.data.tags.get("sdd.kind") == "arm"
        and r.data.tags.get("sdd.evaluate")
        and r.info.status == "FINISHED"
    ]


def _system_key(run: Any) -> str:
    tags = run.data.tags
    return tags.get("sdd.system") or f"{tags.get('sdd.pipeline', '?')}/{tags['sdd.arm']}/{tags['sdd.config']}"


def _names(groups: dict[str, list[Any]]) -> dict[str, str]:
    """System key -> display name: the arm, plus its experiments when another system shares the arm."""
    arm_of = {k: runs[0].data.tags["sdd.arm"] for k, runs in groups.items()}
    names = {}
    for key, arm in arm_of.items():
        if list(arm_of.values()).count(arm) == 1:
            names[key] = arm
        else:
            pipes = sorted({r.data.tags.get("sdd.pipeline", "?") for r in groups[key]})
            names[key] = f"{arm} [{', '.join(pipes)}]"
    dup = [k for k in names if list(names.values()).count(names[k]) > 1]
    for key in dup:
        names[key] += f" {key[:7]}"
    return names


def _seed_run(run: Any, cache: Path, eval_sets: list[dict[str, str]]) -> SeedRun | None:
    rid = run.info.run_id
    dest = cache / rid

    def get(path: str) -> Path | None:
        return tracking.download(rid, path, dest)

    eval_json, train_json, tele = get("eval.json"), get("train.json"), get("telemetry.csv")
    if eval_json is None or train_json is None:
        log.warning("run %s (%s): no eval.json/train.json artifact; left out", rid, run.info.run_name)
        return None
    train = json.loads(train_json.read_text())
    trials = {}
    for e in eval_sets:
        path = get(f"trials/{e['id']}.csv.gz")
        if path is not None:
            trials[e["name"]] = read_trials_csv(path)
    evals = {k: v for k, v in json.loads(eval_json.read_text()).items() if k in trials}
    return SeedRun(
        seed=int(run.data.tags["sdd.seed"]),
        eval=evals,
        train=train["summary"],
        epochs=pd.DataFrame(train["epochs"]),
        telemetry=pd.read_csv(tele) if tele else pd.DataFrame(),
        trials=trials,
        source=f"MLflow run {rid}",
    )


def _report_input_doc(children: list[Any], cache: Path) -> dict[str, Any]:
    seen = []
    for r in children:  # newest first
        parent = r.data.tags.get(tracking.PARENT_ID)
        if parent and parent not in seen:
            seen.append(parent)
            path = tracking.download(parent, REPORT_INPUT, cache / parent)
            if path is not None:
                return json.loads(path.read_text())
    raise ValueError(f"none of the parent runs holds {REPORT_INPUT}; run the pipeline's report stage first")


def compare(
    experiment: str, out_dir: Path, run_ids: list[str] | None = None, reference: str | None = None
) -> dict[str, Any]:
    """Write ``README.md``, ``index.html``, ``figures/`` and ``metrics.json`` under ``out_dir``; return the
    metrics (the pipeline's ``reports/metrics.json`` schema, systems as keys)."""
    from sdd.core.stage import write_json

    children = select_children(experiment, run_ids)
    if not children:
        raise ValueError(
            f"experiment {experiment!r}: no finished, evaluated arm runs to compare; run `dvc repro` first"
        )
    cache = out_dir / ".cache"
    doc = _report_input_doc(children, cache)
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in children:
        groups[_system_key(r)].append(r)
    order = doc.get("order") or list(doc["configs"])
    keys = sorted(
        groups,
        key=lambda k: (
            order.index(groups[k][0].data.tags["sdd.arm"])
            if groups[k][0].data.tags["sdd.arm"] in order
            else len(order),
            k,
        ),
    )
    names = _names({k: groups[k] for k in keys})
    systems: dict[str, dict[int, SeedRun]] = {}
    configs: dict[str, dict[str, Any]] = {}
    for key in keys:
        runs: dict[int, SeedRun] = {}
        regime = groups[key][0].data.params.get("regime")
        for r in groups[key]:  # newest first: the first of a seed wins
            seed = int(r.data.tags["sdd.seed"])
            if seed not in runs and (sr := _seed_run(r, cache, doc["eval_sets"])) is not None:
                runs[seed] = sr
                if regime == SCORING_ONLY_REGIME:
                    break  # published weights: the runs of other experiments' seeds score the same model
        if runs:
            systems[names[key]] = dict(sorted(runs.items()))
            configs[names[key]] = {
                "align": tracking.align_method(groups[key][0].data.params.get("align")),
                "regime": regime,
            }
    ref = reference or doc["reference"]
    if ref not in systems:
        candidates = [n for n in systems if n.split(" [")[0] == ref]
        ref = candidates[0] if len(candidates) == 1 else None
        if ref is None:
            log.warning(
                "no single system named %r: no paired comparisons (use --reference; systems: %s)",
                reference or doc["reference"],
                ", ".join(systems),
            )
    inp = ReportInput(
        systems=systems,
        configs=configs,
        eval_sets=[e["name"] for e in doc["eval_sets"]],
        reference=ref,
        stats=build(ReportParams, doc["stats"], f"{REPORT_INPUT} stats"),
        baseline=doc["baseline"],
        audit=doc["audit"],
        seen_attacks=set(doc["seen_attacks"]),
        title=f"sdd compare: MLflow experiment {experiment}",
        intro=(
            f"{len(systems)} systems from {sum(len(s) for s in systems.values())} arm/seed runs in "
            f"{tracking.tracking_uri()}: "
            + "; ".join(f"{n} (seeds {', '.join(map(str, s))})" for n, s in systems.items())
            + ". EERs are percent."
        ),
    )
    metrics = report_metrics(inp)
    meta = run_metadata(
        Path.cwd(),
        experiment=", ".join(sorted({r.data.tags.get("sdd.pipeline", "?") for r in children})),
        seeds=sorted({s for v in systems.values() for s in v}),
    )
    write_report(inp, metrics, out_dir, metadata=meta)
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def cli_main(argv: list[str]) -> int:
    ap = Parser(
        prog="sdd compare",
        description="The comparative report from MLflow runs alone (any number of pipeline runs and "
        "`dvc exp run` experiments), without retraining: the child runs of an experiment, or of the "
        "runs named with --runs, grouped into systems whose seeds pool across experiments.",
        epilog="examples:\n"
        "  sdd compare --out reports/compare                  # every evaluated run of the 'sdd' experiment\n"
        "  sdd compare --experiment la19-study --out reports/la19\n"
        "  sdd compare --runs 3f2a... 9bc1... --out reports/two  # parent runs (their children) or arm runs\n"
        "  sdd compare --reference augmented --out reports/vs-augmented\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--experiment", default="sdd", help="MLflow experiment name (params: tracking.experiment)"
    )
    ap.add_argument(
        "--runs", nargs="+", metavar="RUN_ID", help="only these runs (parents stand for their children)"
    )
    ap.add_argument(
        "--reference", help="the system every other one is compared with (default: the report's, main)"
    )
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    args = ap.parse_args(argv)
    try:
        if args.out.exists() and not args.out.is_dir():
            raise ValueError(f"--out {args.out} is a file; expected the report's folder")
        uri = tracking.tracking_uri()
        db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
        if db is not None and not db.is_file():
            raise ValueError(
                f"no MLflow database at {db} (tracking URI {uri}): run the pipeline here first, or set "
                f"MLFLOW_TRACKING_URI to the one that holds the runs"
            )
        metrics = compare(args.experiment, args.out, args.runs, args.reference)
    except (ValueError, OSError) as exc:
        print(f"sdd compare: {exc}", file=sys.stderr)
        return 2
    print(
        f"compared {len([k for k in metrics if k != 'hand_features'])} systems -> {args.out / 'index.html'}"
    )
    return 0
