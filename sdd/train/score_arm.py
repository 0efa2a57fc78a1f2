"""The score stage's work for one (arm, seed), in one call: :func:`score_arm_seed`.

One score file per eval set (``<eval set id>.txt``) and one for the training corpus's dev split
(``dev.txt``, where the evaluate stage fits its calibration), ``utt_id score``, higher = more bona
fide (:func:`sdd.scoring.score.write_scores`), all under the one input rule of ``score.input`` (the
first ``score.num_samples`` samples, or whole utterances), and ``model.json``, which names the model,
the input rule it was scored with (``input``, :func:`sdd.core.sections.input_rule`) and the dev EER
threshold of ``dev.txt`` (``dev_threshold``: the decision threshold that belongs to these scores, set
on dev scores of the same rule; the one the train stage stores with a model is set on its first
``train.dev_samples`` samples). Its three cases:

- **skipped** (the train stage left a skip record): the record is passed on (``skipped.json``);
- **scoring-only** (regime ``published``: the model folder holds the published weights' record):
  the published model at its own input length (whole utterances under ``whole_utterance``) and batch
  size (:func:`sdd.scoring.published.load_for_scoring`); ``model.json`` also names its weight files and
  their SHA-256;
- **trained**: the arm's detector (:func:`sdd.train.arm_model.load_arm`), at the arm's sample rate;
  for an AttM arm, the per-utterance layer weights seen while scoring are summarised in
  ``layer_weights.json`` (:class:`sdd.scoring.attm_weights.LayerWeightRecorder`).

It sits in the training package, not in :mod:`sdd.scoring`, because a trained arm is loaded with its
typed config (:class:`~sdd.train.params.ArmConfig`), which the training package owns and the scoring
package, below it, never imports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sdd.core import faults
from sdd.core.configbase import to_dict
from sdd.core.plandocs import ScorePlan
from sdd.core.sections import input_rule
from sdd.core.stage import is_skipped, manifest_path, read_manifest, write_json, write_skip
from sdd.metrics import SortedScores
from sdd.scoring import published
from sdd.scoring.attm_weights import LayerWeightRecorder
from sdd.scoring.score import SAMPLE_RATE, SCORE_DECIMALS, score_manifest, write_scores
from sdd.train.arm_model import load_arm

__all__ = ["ScoreIO", "dev_threshold_record", "score_arm_seed"]

log = logging.getLogger(__name__)


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
        meta = {"arm": record["arm"], "published": {k: record[k] for k in ("spec", "files", "input_samples")}}
    else:
        model, arm = load_arm(io.model)
        sample_rate = arm.sample_rate
        meta = {"arm": to_dict(arm)}
    rule = input_rule(params.num_samples, sample_rate)
    targets = {f"{e.id}.txt": manifest_path(io.manifests, e.corpus, e.split) for e in plan.eval_sets}
    names = {f"{e.id}.txt": e.name for e in plan.eval_sets} | {"dev.txt": "dev"}
    recorder, weights = LayerWeightRecorder(model), {}
    for name, path in {**targets, "dev.txt": io.dev}.items():
        manifest = read_manifest(path)
        scores = score_manifest(model, manifest, params, sample_rate)
        write_scores(io.out / name, manifest["utt_id"], scores)
        faults.point("score:file_written")
        if name == "dev.txt":  # the dev threshold: set on the dev scores just written, under the same rule
            dev_threshold = dev_threshold_record(manifest["label"], scores, rule)
        if recorder.active:
            weights[names[name]] = recorder.take()
    write_json(io.out / "model.json", {**meta, "input": rule, "dev_threshold": dev_threshold})
    if recorder.active:
        write_json(io.out / "layer_weights.json", {"merge": arm.model.merge, "sets": weights})


def dev_threshold_record(labels: Any, scores: np.ndarray, rule: dict[str, Any]) -> dict[str, Any]:
    """``model.json``'s ``dev_threshold``: the EER threshold (official ``compute_eer``) and the EER of
    the dev scores as ``dev.txt`` holds them (:data:`~sdd.scoring.score.SCORE_DECIMALS` decimals, what
    the evaluate stage reads), and the input rule they were scored under (its name); the threshold is
    None, with the reason, when the dev split lacks a class (no EER is defined then)."""
    scores = np.array([float(f"{s:.{SCORE_DECIMALS}f}") for s in scores])  # the values dev.txt holds
    is_bona = np.asarray(labels) == "bonafide"
    n_bona, n_spoof = int(is_bona.sum()), int((~is_bona).sum())
    entry: dict[str, Any] = {"input": rule["name"], "decision": "bonafide if score > threshold, else spoof",
                             "n_bonafide": n_bona, "n_spoof": n_spoof}  # fmt: skip
    if n_bona == 0 or n_spoof == 0:
        why = f"the dev split has {n_bona} bona fide and {n_spoof} spoof trials; an EER needs both"
        log.warning("score: no dev threshold: %s", why)
        return {**entry, "threshold": None, "dev_eer": None, "why": why}
    sorted_scores = SortedScores.from_scores(scores[is_bona], scores[~is_bona])
    return {**entry, "threshold": sorted_scores.eer_threshold(), "dev_eer": sorted_scores.eer()}
