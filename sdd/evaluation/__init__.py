"""Evaluation: official score and protocol files in, metrics JSON out.

From the bottom up: :mod:`.common` (labels, :class:`EvaluationError`), :mod:`.tables` (whitespace
tables with exact shape checks), :mod:`.tdcf2021` (the 2021 LA t-DCF coefficients per attack and
codec, and that decomposition), :mod:`.score_files`, :mod:`.protocols` and :mod:`.sasv` (the official
formats and joining scores to a protocol or to SASV keys), :mod:`.trials` (:func:`evaluate_trials`,
the metric assembly on top of :mod:`sdd.metrics`), then its users: :mod:`.cli` (``sdd
evaluate``), :mod:`.eval_sets` (the evaluate stage, on the pipeline's manifests) and :mod:`.fuse`
(``sdd fuse`` and the report's fused systems: score folders fused on their dev scores).
:mod:`.asvspoof5_protocol` is the ASVspoof 5 protocol reader alone, for the corpus recipe. The public names
are re-exported here lazily (PEP 562): ``from sdd.evaluation import evaluate_trials`` works, but
importing one module (the corpus recipe's protocol reader) does not load the others and the metric stack.
"""

import importlib

#: public name -> the submodule that defines it
_EXPORTS = {
    "ASV_KEYS": "common",
    "BONAFIDE": "common",
    "NO_ATTACK": "common",
    "SPOOF": "common",
    "EvaluationError": "common",
    "FORMATS": "protocols",
    "Protocol": "protocols",
    "join_scores": "protocols",
    "read_protocol": "protocols",
    "read_sasv_scores": "sasv",
    "read_asv_scores": "score_files",
    "read_scores": "score_files",
    "cli_main": "cli",
    "evaluate_trials": "trials",
    "fit_calibration": "trials",
    "fuse_folders": "fuse",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import the submodule that defines ``name`` on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
