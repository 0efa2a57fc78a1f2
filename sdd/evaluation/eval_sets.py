"""The evaluate stage's use of :mod:`sdd.evaluation`: an arm's score files against the prepared
manifests of every eval set, with a calibration fitted on the training corpus's dev scores."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.core.plandocs import EvalSet
from sdd.core.stage import MANIFEST_COLUMNS, MANIFEST_EXTRA_COLUMNS, manifest_path, read_manifest
from sdd.evaluation.asv_keys import read_asv_keys
from sdd.evaluation.convention import convention, trial_subset
from sdd.evaluation.trials import evaluate_trials, fit_calibration

__all__ = [
    "TRIAL_COLUMNS", "evaluate_eval_sets", "fit_dev_calibration", "read_input_rule", "read_score_file",
    "scored_trials",
]  # fmt: skip

#: The columns of a scored-trials table (:func:`scored_trials`): what a paired comparison, a DET curve
#: and a per-attack breakdown need, in manifest order.
TRIAL_COLUMNS = ("utt_id", "score", "label", "speaker", "attack")

#: The prepared manifest's own columns; any other column is a corpus-specific condition column.
_NOT_CONDITIONS = {*MANIFEST_COLUMNS, *MANIFEST_EXTRA_COLUMNS}


def read_score_file(path: Path) -> pd.DataFrame:
    """``utt_id score`` lines -> DataFrame(utt_id, score)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: score file missing; run the score stage")
    return pd.read_csv(
        path, sep=" ", header=None, names=["utt_id", "score"], dtype={"utt_id": str, "score": float}
    )


def _join(manifest: pd.DataFrame, scores: pd.DataFrame, score_path: Path, name: str) -> pd.DataFrame:
    ids_m, ids_s = set(manifest["utt_id"]), set(scores["utt_id"])
    if ids_m != ids_s:
        missing, extra = sorted(ids_m - ids_s), sorted(ids_s - ids_m)
        raise ValueError(
            f"{score_path}: {len(missing)} trials missing (first {missing[:5]}), "
            f"{len(extra)} extra (first {extra[:5]}) against the {name} manifest; re-run the score stage"
        )
    return manifest.merge(scores, on="utt_id", how="inner")


def read_input_rule(scores_dir: Path) -> dict[str, Any]:
    """The input rule the score stage recorded in ``<scores_dir>/model.json`` (``input``).

    Raises:
        ValueError: no ``input`` there (a score folder written before it was recorded), naming the file.
    """
    path = scores_dir / "model.json"
    rule = json.loads(path.read_text(encoding="utf-8")).get("input")
    if not isinstance(rule, dict) or not {"rule", "num_samples", "sample_rate", "name"} <= set(rule):
        raise ValueError(
            f"{path}: input is {rule!r}; expected the input rule the score stage records "
            "({rule, num_samples, sample_rate, name}); re-run the score stage"
        )
    return rule


def fit_dev_calibration(dev_scores: Path, dev_manifest: Path) -> tuple[float, float]:
    """Logistic calibration ``(a, b)`` fitted on the training corpus's DEV scores (never on eval)."""
    manifest = read_manifest(dev_manifest)
    trials = _join(manifest, read_score_file(dev_scores), dev_scores, "dev")
    is_bona = (trials["label"] == "bonafide").to_numpy()
    scores = trials["score"].to_numpy()
    return fit_calibration(scores[is_bona], scores[~is_bona])


def evaluate_eval_sets(
    eval_sets: Sequence[EvalSet],
    scores_dir: Path,
    manifests_dir: Path,
    *,
    ci: bool,
    n_resamples: int,
    seed: int,
    calibration: tuple[float, float] | None = None,
    input: dict[str, Any] | None = None,
    trial_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``{eval set name: metrics}``, metrics from :func:`sdd.evaluation.trials.evaluate_trials`, each with
    its ``convention`` (:func:`sdd.evaluation.convention.convention`): the score stage's ``input`` rule
    (None: not recorded), the eval set's trials as the plan names them (``trial_names``: eval set name ->
    :func:`sdd.evaluation.convention.trial_subset`; absent: the corpus and split) and the score polarity.

    ``calibration`` (fitted on dev, :func:`fit_dev_calibration`) adds actDCF and Cllr of the
    calibrated scores. Condition breakdowns cover the manifest's ``condition`` column (when not all
    ``-``) and any extra condition columns the corpus provides (2021 codecs, compressions, ...). The
    organisers' ASV scores the prepare stage wrote beside a manifest (:mod:`.asv_keys`: 2019 LA dev and
    eval, 2021 LA's keys) add the min t-DCF and the t-EER, and 2021 LA's decomposed t-DCF table.
    """
    out = {}
    for e in eval_sets:
        mpath = manifest_path(manifests_dir, e.corpus, e.split)
        manifest = read_manifest(mpath)
        asv = read_asv_keys(mpath)
        path = scores_dir / f"{e.id}.txt"
        trials = _join(manifest, read_score_file(path), path, e.name)
        conditions = [c for c in manifest.columns if c not in _NOT_CONDITIONS]
        if "condition" in manifest and (manifest["condition"] != "-").any():
            conditions.insert(0, "condition")
        out[e.name] = evaluate_trials(
            trials, condition_columns=conditions, ci=ci, n_resamples=n_resamples, seed=seed,
            calibration=calibration, asv_scores=asv.scores if asv else None, c012=asv.c012 if asv else None,
        )  # fmt: skip
        named = (trial_names or {}).get(e.name) or trial_subset(e.corpus, None, e.split)
        out[e.name]["convention"] = convention(input, named)
    return out


def scored_trials(scores_dir: Path, manifests_dir: Path, eval_set: EvalSet) -> pd.DataFrame:
    """One eval set's trials with the arm's scores: :data:`TRIAL_COLUMNS`, in manifest order.

    Args:
        scores_dir: the arm's score folder (``<eval set id>.txt`` files).
        manifests_dir: the manifests folder (``<corpus>/<split>.csv``).
        eval_set: an eval set of the plan.
    """
    manifest = read_manifest(manifest_path(manifests_dir, eval_set.corpus, eval_set.split))
    path = scores_dir / f"{eval_set.id}.txt"
    trials = _join(manifest, read_score_file(path), path, eval_set.name)
    if "speaker" not in trials:
        trials["speaker"] = "-"
    return trials[list(TRIAL_COLUMNS)].astype({"speaker": str, "attack": str})
