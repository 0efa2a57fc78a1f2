"""The pipeline report in MLflow: the parent run of this pipeline run gets the report, its figures,
the aggregated metrics and the run metadata; every arm and seed gets its child run.

Children of arms that trained in this pipeline run already exist (the train and evaluate stages
logged into them); a cached arm's child is created here from the DVC outputs, with the same layout
(:meth:`sdd.report.tracking.Run.log_train`, :meth:`~sdd.report.tracking.Run.log_eval`). Every child is tagged
``sdd.system`` (:func:`sdd.report.inputs.system_digest`), by which ``sdd compare`` pools the seeds of
one system across experiments. ``report_input.json`` on the parent holds what ``sdd compare`` needs
besides the children: eval sets, reference, statistics params, the audit, the hand-feature baseline,
the seen attacks.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sdd.core.configbase import to_dict
from sdd.report import tracking
from sdd.report.inputs import ReportInput, system_digest
from sdd.report.params import ReportPlan

__all__ = ["REPORT_INPUT", "publish_pipeline_report", "report_input_doc", "shared_params", "upstream_params"]

REPORT_INPUT = "report_input.json"


def report_input_doc(inp: ReportInput, plan: ReportPlan) -> dict[str, Any]:
    """What ``sdd compare`` needs from the parent run (see the module docstring), as JSON-able values."""
    return {
        "eval_sets": [to_dict(e) for e in plan.eval_sets],
        "reference": inp.reference,
        "stats": to_dict(inp.stats),
        "audit": inp.audit,
        "baseline": inp.baseline,
        "seen_attacks": sorted(inp.seen_attacks),
        "configs": plan.configs,
        "order": list(plan.order),
        "upstream": plan.upstream,
    }


def upstream_params(plan: ReportPlan) -> dict[str, Any]:
    """What shaped an arm/seed child's scores besides its config, as its params: ``data.*`` (the
    training corpus's entry), ``augment.*``, ``score.*`` (:attr:`ReportPlan.upstream`) and the
    ``eval_sets``."""
    names = {"corpus": "data"}
    return {names.get(k, k): v for k, v in plan.upstream.items()} | {
        "eval_sets": [e.name for e in plan.eval_sets]
    }


def shared_params(plan: ReportPlan) -> dict[str, Any]:
    """The pipeline run's params (its parent run): what every arm shares (:func:`upstream_params`),
    the arms with their seeds, the reference arm and the report's statistics."""
    return {
        **upstream_params(plan),
        "seeds": list(plan.seeds),
        "arms": [f"{a} (seeds {' '.join(map(str, plan.arms[a]))})" for a in plan.order],
        "report": to_dict(plan.report),
    }


def publish_pipeline_report(
    inp: ReportInput,
    metrics: dict[str, Any],
    plan: ReportPlan,
    *,
    train_dir: Path,
    eval_dir: Path,
    telemetry_dir: Path,
    report_files: list[Path],
    out_dir: Path,
    metadata: dict[str, Any],
) -> str:
    """Log the report to this pipeline run's parent (module docstring); returns the parent's run id.
    ``plan`` is the report plan document (:class:`~sdd.core.plandocs.ReportPlan`): the MLflow experiment,
    each arm's config, the eval sets and the upstream config."""
    experiment = plan.tracking.experiment
    upstream = upstream_params(plan)
    with tracking.pipeline_run(experiment) as parent:
        if parent.run_id is None:  # the store is unavailable: tracking already said what is not logged
            return ""
        for arm in plan.order:  # the arms; a fused system (report.fusion) has no run of its own
            for seed, run in inp.systems[arm].items():
                rel = f"{arm}/s{seed}"
                config = {**plan.configs[arm], "seed": seed}

                def fill(child: tracking.Run, run=run, rel=rel) -> None:
                    for row in run.epochs.to_dict("records"):
                        child.log_epoch(row)
                    child.log_train(run.train, train_dir / f"{rel}.json", telemetry_dir / f"{rel}.csv")
                    ids = {e.name: e.id for e in plan.eval_sets}
                    child.log_eval(
                        run.eval, eval_dir / f"{rel}.json", {ids[s]: t for s, t in run.trials.items()}
                    )

                child, _ = tracking.ensure_arm_run(
                    parent, config, fill, experiment=experiment, train_seconds=run.train.get("seconds")
                )
                child.set_tags({"sdd.system": system_digest(config, plan.upstream)})
                child.log_params(upstream)
        parent.log_params(shared_params(plan))
        tracking.save_runs_view(parent, experiment, list(inp.eval_sets))
        # under `report.`: the seed aggregates and comparisons, apart from a child's own `<eval set>.eer`
        summary = {a: {k: v for k, v in m.items() if k != "seeds"} for a, m in metrics.items()}
        parent.log_metrics({"report": summary})
        parent.log_metrics(
            {"stage_seconds": {d["stage"]: d["seconds"] for d in metadata.get("durations", [])}}
        )
        # tags, not params: a workspace parent is updated by every `dvc repro`, and params are immutable
        parent.set_tags(
            {
                f"sdd.{k}": v
                for k, v in metadata.items()
                if k in ("git_commit", "git_dirty", "dvc_experiment", "seeds", "cpu", "gpu")
            }
        )
        parent.set_tags(
            {
                "sdd.reference": inp.reference,
                "sdd.eval_sets": ",".join(inp.eval_sets),
                "sdd.params_diff": json.dumps(metadata.get("params_diff", {}), default=str),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            for name, doc in ((REPORT_INPUT, report_input_doc(inp, plan)), ("run_metadata.json", metadata)):
                (Path(tmp) / name).write_text(json.dumps(doc, indent=1, sort_keys=True, default=str))
                parent.log_artifact(Path(tmp) / name)
        for path in report_files:
            rel_parent = path.parent.relative_to(out_dir).as_posix()
            parent.log_artifact(path, None if rel_parent == "." else rel_parent)
        return parent.run_id
