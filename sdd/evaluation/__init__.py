"""Evaluation: official score and protocol files in, metrics JSON out.

From the bottom up: :mod:`.common` (labels, :class:`EvaluationError`), :mod:`.tables` (whitespace
tables with exact shape checks), :mod:`.tdcf2021` (the 2021 LA t-DCF coefficients per attack and
codec, and that decomposition), :mod:`.score_files`, :mod:`.protocols` and :mod:`.sasv` (the official
formats and joining scores to a protocol or to SASV keys), :mod:`.trials` (:func:`evaluate_trials`,
the metric assembly on top of :mod:`sdd.metrics`), then its users: :mod:`.cli` (``sdd
evaluate``), :mod:`.eval_sets` (the evaluate stage, on the pipeline's manifests) and :mod:`.fuse`
(``sdd fuse``, and the report's fused systems: score folders fused on their dev scores). The public
names are re-exported here.
"""

from sdd.evaluation.cli import cli_main
from sdd.evaluation.common import ASV_KEYS, BONAFIDE, NO_ATTACK, SPOOF, EvaluationError
from sdd.evaluation.fuse import fuse_folders
from sdd.evaluation.protocols import FORMATS, Protocol, join_scores, read_protocol
from sdd.evaluation.sasv import read_sasv_scores
from sdd.evaluation.score_files import read_asv_scores, read_scores
from sdd.evaluation.trials import evaluate_trials, fit_calibration

__all__ = [
    "ASV_KEYS",
    "BONAFIDE",
    "FORMATS",
    "NO_ATTACK",
    "SPOOF",
    "EvaluationError",
    "Protocol",
    "cli_main",
    "evaluate_trials",
    "fit_calibration",
    "fuse_folders",
    "join_scores",
    "read_asv_scores",
    "read_protocol",
    "read_sasv_scores",
    "read_scores",
]
