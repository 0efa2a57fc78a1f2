"""The report's numbers: per-seed metrics, their aggregate over seeds, paired comparisons with the
reference system, and the shortcuts that come close to each system's EER.

:func:`report_metrics` returns the content of ``reports/metrics.json`` (and of ``sdd compare``'s
``metrics.json``); its schema is in docs/report.md ("reports/metrics.json"). In short, per system and eval
set: the seed mean of every numeric metric, ``eer_std`` over seeds, ``eer_ci95`` (a bootstrap interval
of the seed-mean EER, :func:`sdd.metrics.mean_eer_interval`), ``vs_reference`` (the paired bootstrap
of the EER difference with the reference, Holm-corrected over every comparison of the report,
:func:`sdd.metrics.compare_to_reference`, with its minimum detectable difference at 80 % power) and
``shortcuts``; per system ``train`` (seed means of the training summary) and ``seeds`` (each seed's own
evaluate and train metrics, unchanged, and a fused system's ``fusion``: :mod:`sdd.report.fusion`).

Every EER is a fraction. The bootstrap draws come from ``report.seed``, and the trial multisets are
shared by all seeds and systems of one comparison, so results are reproducible and paired.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sdd.metrics import compare_to_reference, mean_eer_interval, paired_bootstrap_eer
from sdd.report.inputs import ReportInput, SeedRun

log = logging.getLogger(__name__)

__all__ = [
    "HAND",
    "MACHINE_KEYS",
    "TRAIN_KEYS",
    "epochs_to_best",
    "metrics_differences",
    "report_metrics",
    "score_matrix",
    "seed_mean",
]

HAND = "hand_features"
#: Training-summary keys carried into metrics.json (seed means in ``train``, each seed's in ``seeds``).
TRAIN_KEYS = (
    "conflict_ratio",
    "mean_cos",
    "projection_ratio",
    "rescale_ratio",
    "skipped_steps",
    "epochs",
    "epochs_to_best",
    "seconds",
    "best_dev_loss",
    "best_dev_eer",
    "final_dev_eer",
    "trainable_parameters",
    "total_parameters",
    "peak_rss_mb",
)
#: The minimum-detectable-difference keys of :func:`sdd.metrics.compare_to_reference` carried into
#: ``vs_reference`` (:mod:`sdd.metrics.power`).
_MDD_KEYS = (
    "mdd",
    "mdd_power",
    "mdd_alpha",
    "mdd_includes_seed_variance",
    "mdd_seed_term",
    "se_bootstrap",
    "se_seed",
    "se_total",
)
#: Keys of ``metrics.json`` whose values measure the machine, not the method: wall and CPU time and
#: peak memory. Two runs of the same code, params and seeds differ only there (on CPU at a fixed thread
#: count), which :func:`metrics_differences` checks (``benchmarks/same_metrics.py``).
MACHINE_KEYS = frozenset({"seconds", "cpu_seconds", "train_seconds", "peak_rss_mb", "duration_s"})
# Recomputed over seeds by the report (a per-seed interval does not average).
_NOT_AVERAGED = {"eer_ci95", "eer_ci95_blocked_by", "calibration", "asv_operating_point", "tdcf_c012"}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def seed_mean(values: Sequence[Any]) -> Any:
    """Mean over seeds of a metric value: numbers are averaged (an integer every seed shares stays that
    integer), dicts recursively on the keys every seed has; anything else (or a value some seed lacks)
    gives None."""
    if all(_is_number(v) for v in values):
        if all(isinstance(v, int) for v in values) and len(set(values)) == 1:
            return values[0]  # a count every seed shares (n_bonafide, parameters) stays an integer
        return float(np.mean([float(v) for v in values]))
    if all(isinstance(v, Mapping) for v in values):
        keys = [k for k in values[0] if all(k in v for v in values[1:])]
        out = {k: seed_mean([v[k] for v in values]) for k in keys if k not in _NOT_AVERAGED}
        return {k: v for k, v in out.items() if v is not None}
    return None


def epochs_to_best(epochs: pd.DataFrame) -> int | None:
    """The number of epochs up to the lowest clean dev loss (the selected model's best epoch)."""
    if epochs.empty or "dev_loss" not in epochs:
        return None
    return int(epochs["epoch"].iloc[int(np.argmin(epochs["dev_loss"].to_numpy()))]) + 1


def _train_record(run: SeedRun) -> dict[str, Any]:
    rec = {k: run.train[k] for k in TRAIN_KEYS if k in run.train}
    best = epochs_to_best(run.epochs)
    if best is not None and "epochs_to_best" not in rec:  # the train stage's own count comes first
        rec["epochs_to_best"] = best
    return rec


def score_matrix(runs: Sequence[SeedRun], eval_set: str, order: pd.Series) -> np.ndarray:
    """(seeds, trials) scores of one system on one eval set, trials in the order of ``order`` (utt ids).

    Raises:
        ValueError: a seed was scored on other trials than ``order``.
    """
    rows = []
    for r in runs:
        t = r.trials[eval_set]
        if len(t) != len(order) or set(t["utt_id"]) != set(order):
            raise ValueError(
                f"{eval_set}: seed {r.seed} ({r.source}) was scored on {len(t)} trials that differ from the "
                f"reference's {len(order)}; paired comparisons need the same trials"
            )
        rows.append(t.set_index("utt_id")["score"].reindex(order).to_numpy(dtype=np.float64))
    return np.stack(rows)


def _blocks(trials: pd.DataFrame, use: bool) -> np.ndarray | None:
    """Speaker ids for a block bootstrap, or None (stratified) when off or the manifest names none."""
    if not use:
        return None
    spk = trials["speaker"].astype(str).to_numpy()
    named = spk[(spk != "-") & (spk != "")]
    return spk if named.size == spk.size and np.unique(named).size >= 2 else None


def report_metrics(inp: ReportInput) -> dict[str, Any]:
    """The metrics.json content of a report (module docstring; schema in docs/report.md)."""
    st = inp.stats
    out: dict[str, Any] = {}
    comparisons = {}
    for name, seeds in inp.systems.items():
        runs = list(seeds.values())
        entry: dict[str, Any] = {}
        for s in inp.eval_sets:
            if not all(s in r.eval for r in runs):
                continue
            agg = seed_mean([r.eval[s] for r in runs])
            eers = [float(r.eval[s]["eer"]) for r in runs]
            trials = runs[0].trials[s]
            order = trials["utt_id"]
            labels = (trials["label"] == "bonafide").to_numpy()
            blocks = _blocks(trials, st.block_by_speaker)
            mean, ci = mean_eer_interval(
                score_matrix(runs, s, order),
                labels,
                blocks=blocks,
                n_resamples=st.n_resamples,
                seed=st.seed,
            )
            if not math.isclose(mean, agg["eer"], rel_tol=1e-9, abs_tol=1e-12):
                raise ValueError(
                    f"{name} / {s}: EER from the scores ({mean}) differs from the evaluate "
                    f"stage's ({agg['eer']}); were the scores re-written after evaluation?"
                )
            agg.update(
                eer_std=float(np.std(eers, ddof=1)) if len(eers) > 1 else None,
                eer_ci95=list(ci),
                eer_ci95_method="bootstrap of the seed-mean EER, "
                + ("speakers resampled" if blocks is not None else "trials resampled within each class"),
                n_seeds=len(runs),
                seeds=sorted(seeds),
            )
            entry[s] = agg
            ref = inp.reference
            if ref and name != ref and ref in inp.systems:
                ref_seeds = inp.systems[ref]
                # the same seeds in the same row order, so the MDD's seed term pairs seed s with seed s
                same = set(ref_seeds) == set(seeds)
                ref_runs = [ref_seeds[k] for k in seeds] if same else list(ref_seeds.values())
                if all(s in r.eval for r in ref_runs):
                    comparisons[(name, s)] = paired_bootstrap_eer(
                        score_matrix(runs, s, order),
                        score_matrix(ref_runs, s, order),
                        labels,
                        blocks=blocks,
                        n_resamples=st.n_resamples,
                        seed=st.seed,
                    )
        records = [_train_record(r) for r in runs]
        entry["train"] = seed_mean(records) if records else {}
        entry["seeds"] = {
            str(r.seed): {**r.eval, "train": rec, **({"fusion": r.fusion} if r.fusion is not None else {})}
            for r, rec in zip(runs, records, strict=True)
        }
        out[name] = entry
    if comparisons:
        keys = list(comparisons)
        rows = compare_to_reference(
            {f"{a} | {s}": comparisons[(a, s)] for a, s in keys}, reference=inp.reference, alpha=st.alpha
        )
        for (name, s), row in zip(keys, rows, strict=True):
            res = comparisons[(name, s)]
            out[name][s]["vs_reference"] = {
                "reference": inp.reference,
                "diff": row["diff"],
                "ci95": [row["ci_lo"], row["ci_hi"]],
                "p_better": row["p_better"],
                "p_value": row["p_value"],
                "p_holm": row["p_holm"],
                "holm_level": 1.0 - row["holm_alpha"],
                "holm_ci": [row["holm_ci_lo"], row["holm_ci_hi"]],
                "significant": bool(row["significant"]),
                "n_comparisons": len(keys),
                "method": res.to_dict()["method"],
                "n_blocks": res.n_blocks,
                "n_seeds": res.n_seeds_a,
                "n_seeds_reference": res.n_seeds_b,
                "n_resamples": res.n_resamples,
                **{k: row[k] for k in _MDD_KEYS},
            }
    _flag_shortcuts(out, inp)
    if inp.baseline:
        out[HAND] = inp.baseline
    return out


def _flag_shortcuts(out: dict[str, Any], inp: ReportInput) -> None:
    """Beside each system and eval set, the audit's shortcuts whose EER is below ``shortcut_factor``
    times the system's EER on the same trials (pooled, or that attack).

    Only what the audit itself flags counts as a shortcut (a single feature under 40 % pooled or 25 %
    on one attack, the MFCC model under 30 % pooled; :func:`sdd.audit.shortcuts.flag_shortcuts`): with the
    direction chosen on the data, an uninformative feature lands at 38-50 %, which would otherwise be
    "close" to every weak system.
    """
    factor = inp.stats.shortcut_factor
    for entry in out.values():
        for s, agg in entry.items():
            if s not in inp.audit:
                continue
            found = []
            for f in inp.audit[s].get("flagged", []):
                arm_eer = (
                    agg["eer"] if f["subset"] == "pooled" else agg.get("per_attack", {}).get(f["subset"])
                )
                if arm_eer is not None and f["eer"] < factor * arm_eer:
                    found.append(
                        {
                            "feature": f["feature"],
                            "subset": f["subset"],
                            "eer": f["eer"],
                            "system_eer": arm_eer,
                        }
                    )
            agg["shortcuts"] = found


def metrics_differences(
    a: Any, b: Any, ignore: frozenset[str] = MACHINE_KEYS, path: str = ""
) -> list[tuple[str, Any, Any]]:
    """Where two ``metrics.json`` documents differ: ``(path, value in a, value in b)`` for every leaf
    that differs or exists on one side only (``<missing>``), keys named in ``ignore`` skipped at any
    depth. Values compare exactly (floats too; NaN equals NaN): the pipeline is deterministic, so
    "about equal" would hide a change. Paths are ``/``-joined keys and list indices."""
    missing = "<missing>"
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(a) | set(b), key=str):
            if key in ignore:
                continue
            where = f"{path}/{key}"
            if key not in a or key not in b:
                out.append((where, a.get(key, missing), b.get(key, missing)))
            else:
                out.extend(metrics_differences(a[key], b[key], ignore, where))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in metrics_differences(x, y, ignore, f"{path}/{i}")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same and type(a) is type(b) else [(path or "/", a, b)]
