"""Scoring-only arms (regime ``published``): a published model, scored as it is, beside the trained arms.

An arm ``{backbone: "aasist:<path>", regime: published}`` puts the published AASIST (Jung et al.,
"AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal Graph Attention Networks", ICASSP 2022)
next to ours on every eval set. Its ``train@<arm>-<seed>`` stage trains nothing: :func:`write_model`
checks the weights against the SHA-256 the plan recorded and writes :data:`RECORD` into the model
folder (the spec, the file names and their SHA-256, the parameter count, the arm's resolved config).
Its ``score@`` stage finds that record (:func:`read_record`) and scores with
:func:`sdd.scoring.score.load_scorer` at the model's own input length and the kind's batch size
(:func:`load_for_scoring`); ``evaluate@`` and the report then treat it as any other arm.

The weights stay where the spec names them (resolved against the repo root, like every path in
``params.yaml``): the record holds their digests, not a copy.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdd.core import atomic
from sdd.core.configbase import ConfigError
from sdd.core.paths import resolve
from sdd.core.sections import PUBLISHED_REGIME, ScoreParams
from sdd.models.detector import parameter_counts
from sdd.models.published_spec import published_record
from sdd.scoring.score import SCORERS, load_scorer

if TYPE_CHECKING:
    from torch import nn

__all__ = ["RECORD", "load_for_scoring", "read_record", "train_summary", "write_model"]

#: The file a scoring-only arm's train stage writes in its model folder (instead of weights).
RECORD = "published.json"


def _local_spec(spec: str) -> str:
    """``<kind>:<path>`` with the path resolved against the repo root (the stage's cwd may be a DVC
    temporary copy without the untracked weights)."""
    kind, _, path = spec.partition(":")
    return f"{kind}:{resolve(path)}"


def _check_unchanged(planned: dict[str, Any]) -> None:
    """The files the spec names now must be those the plan stage hashed (ValueError otherwise, also
    when they are gone: a stage error, not a params one)."""
    try:
        now = published_record(planned["spec"])
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc
    if now["files"] != planned["files"]:
        raise ValueError(
            f"{planned['spec']}: the weight files changed since the plan stage hashed them (plan: "
            f"{planned['files']}; now: {now['files']}); re-run the plan: `dvc repro -f -s plan`, then "
            "`dvc repro` (or `dvc exp run`)"
        )


def write_model(plan: dict[str, Any], out: Path) -> dict[str, Any]:
    """The train stage of a scoring-only arm: verify the weights and write ``out/published.json``.

    Args:
        plan: the arm/seed plan document (``{"arm": ..., "published": {"spec", "files"}, ...}``).
        out: the model folder (created).

    Returns:
        the training summary (:func:`train_summary`), with the seconds this took.
    """
    start = time.time()
    planned = plan["published"]
    _check_unchanged(planned)
    model, input_samples = load_scorer(_local_spec(planned["spec"]))
    total = parameter_counts(model)["total_parameters"]
    record = {
        "arm": plan["arm"],  # exactly the plan's dict: the MLflow child run is keyed by its digest
        "spec": planned["spec"],
        "files": planned["files"],
        "input_samples": input_samples,
        "total_parameters": total,
    }
    atomic.write_json(out / RECORD, record)
    return train_summary(total, time.time() - start)


def train_summary(total_parameters: int, seconds: float) -> dict[str, Any]:
    """The train metrics of a scoring-only arm: what exists (nothing trained, the model's size, the
    seconds spent loading and hashing) and ``None`` for what does not (the report shows a dash)."""
    return {
        "regime": PUBLISHED_REGIME,
        "epochs": 0,
        "steps": 0,
        "seconds": round(seconds, 3),
        "epochs_to_best": None,
        "best_dev_loss": None,
        "best_dev_eer": None,
        "final_dev_eer": None,
        "trainable_parameters": 0,
        "total_parameters": total_parameters,
        "processes": 1,
    }


def read_record(model_dir: Path) -> dict[str, Any] | None:
    """The scoring-only record in a model folder, or None (a trained arm's checkpoint)."""
    path = Path(model_dir) / RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def load_for_scoring(record: dict[str, Any], params: ScoreParams) -> tuple[nn.Module, ScoreParams]:
    """The published model of ``record`` and the score settings it runs with: its own input length
    (AASIST: 64,600 samples, the ``.conf``'s ``nb_samp``; under ``score.input: whole_utterance`` whole
    utterances, as every arm) and its kind's batch size (:data:`sdd.scoring.score.SCORERS`);
    ``params.input`` and ``params.threads`` are kept.

    Raises:
        ValueError: the files changed since the plan stage hashed them.
    """
    _check_unchanged({"spec": record["spec"], "files": record["files"]})
    model, input_samples = load_scorer(_local_spec(record["spec"]))
    kind = SCORERS[record["spec"].partition(":")[0]]
    num_samples = None if params.whole else input_samples
    return model, dataclasses.replace(params, num_samples=num_samples, batch_size=kind.batch_size)
