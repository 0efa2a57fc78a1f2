"""The score stage's work for one (arm, seed), in one call: :func:`score_arm_seed`.

One score file per eval set (``<eval set id>.txt``) and one for the training corpus's dev split
(``dev.txt``, where the evaluate stage fits its calibration), ``utt_id score``, higher = more bona
fide (:func:`sdd.scoring.score.write_scores`), and ``model.json``, which names the model and the input
rule it was scored with (``input``, :func:`sdd.core.sections.input_rule`). Its three cases:

- **skipped** (the train stage left a skip record): the record is passed on (``skipped.json``);
- **scoring-only** (regime ``published``: the model folder holds the published weights' record):
  the published model at its own input length and batch size
  (:func:`sdd.scoring.published.load_for_scoring`); ``model.json`` also names its weight files and
  their SHA-256;
- **trained**: the arm's detector (:func:`sdd.train.arm_model.load_arm`), at the arm's sample rate;
  for an AttM arm, the per-utterance layer weights seen while scoring are summarised in
  ``layer_weights.json`` (:class:`sdd.scoring.attm_weights.LayerWeightRecorder`).

It sits in the training package, not in :mod:`sdd.scoring`, because a trained arm is loaded with its
typed config (:class:`~sdd.train.params.ArmConfig`), which the training package owns and the scoring
package, below it, never imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdd.core import faults
from sdd.core.configbase import to_dict
from sdd.core.plandocs import ScorePlan
from sdd.core.sections import input_rule
from sdd.core.stage import is_skipped, manifest_path, read_manifest, write_json, write_skip
from sdd.scoring import published
from sdd.scoring.attm_weights import LayerWeightRecorder
from sdd.scoring.score import SAMPLE_RATE, score_manifest, write_scores
from sdd.train.arm_model import load_arm

__all__ = ["ScoreIO", "score_arm_seed"]


@dataclass(frozen=True)
class ScoreIO:
    """The score stage's inputs and outputs (``dvc.yaml`` owns every path)."""

    model: Path  # the model folder (a trained arm, a published weights' record or a skip record)
    manifests: Path  # the manifests folder (the eval sets' manifests)
    dev: Path  # the training corpus's dev manifest
    out: Path  # the score folder: <eval set id>.txt + dev.txt, model.json


def score_arm_seed(plan: ScorePlan, io: ScoreIO) -> None:
    """Score the model in ``io.model`` on every eval set of ``plan`` (the score plan document) and on
    the dev split (module docstring)."""
    if skip := is_skipped(io.model):
        write_skip(skip, io.out / "skipped.json")
        return
    params = plan.score
    if (record := published.read_record(io.model)) is not None:
        model, params = published.load_for_scoring(record, params)
        sample_rate = SAMPLE_RATE
        write_json(io.out / "model.json", {"arm": record["arm"], "published": {
            k: record[k] for k in ("spec", "files", "input_samples")},
            "input": input_rule(params.num_samples, sample_rate)})  # fmt: skip
    else:
        model, arm = load_arm(io.model)
        sample_rate = arm.sample_rate
        write_json(io.out / "model.json", {"arm": to_dict(arm),
                                           "input": input_rule(params.num_samples, sample_rate)})
    targets = {
        f"{e.id}.txt": manifest_path(io.manifests, e.corpus, e.split) for e in plan.eval_sets
    }
    names = {f"{e.id}.txt": e.name for e in plan.eval_sets} | {"dev.txt": "dev"}
    recorder, weights = LayerWeightRecorder(model), {}
    for name, path in {**targets, "dev.txt": io.dev}.items():
        manifest = read_manifest(path)
        write_scores(io.out / name, manifest["utt_id"], score_manifest(model, manifest, params, sample_rate))
        faults.point("score:file_written")
        if recorder.active:
            weights[names[name]] = recorder.take()
    if recorder.active:
        write_json(io.out / "layer_weights.json", {"merge": arm.model.merge, "sets": weights})
