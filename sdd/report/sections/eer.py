"""The sections on each system's overall error per eval set: the EER table and bar chart (seed mean,
standard deviation, bootstrap CI, the hand-feature baseline), the DET curves, and the other metrics
(minDCF, actDCF, Cllr, min t-DCF, t-EER).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdd.metrics import det_curve
from sdd.report import figures
from sdd.report.inputs import ReportInput
from sdd.report.render import Block
from sdd.report.sections.common import eer_cell, fig, pct, scoring_only, systems
from sdd.report.stats import HAND

__all__ = ["OTHER_METRICS", "det_blocks", "eer_blocks", "other_metrics_blocks"]

OTHER_METRICS = (
    "min_dcf",
    "act_dcf",
    "cllr",
    "act_dcf_calibrated",
    "cllr_calibrated",
    "min_tdcf",
    "min_tdcf_legacy",
    "t_eer",
    "t_eer_exhaustive",
)


def eer_blocks(inp: ReportInput, metrics: dict, fig_dir: Path) -> list[Block]:
    """The EER table with the hand-feature baseline; draws ``eer.png``."""
    entries = systems(metrics)
    table = pd.DataFrame(
        {s: {a: eer_cell(m[s]) for a, m in entries.items() if s in m} for s in inp.eval_sets}
    )
    hand = metrics.get(HAND, {})
    for s in inp.eval_sets:
        if s in hand:
            table.loc[HAND, s] = pct(hand[s]["eer"])
    table = table.fillna("")
    agg = {a: {s: m[s] for s in inp.eval_sets if s in m} for a, m in entries.items()}
    per_seed = {
        a: {s: [inp.systems[a][k].eval[s]["eer"] for k in inp.systems[a]] for s in agg[a]} for a in agg
    }
    figures.plot_eer_bars(
        agg, per_seed, fig_dir / "eer.png", {s: hand[s]["eer"] for s in inp.eval_sets if s in hand}
    )
    return [
        ("h2", "EER (%) per eval set: seed mean ± standard deviation [95% CI]"),
        (
            "p",
            "The interval is a bootstrap interval of the seed-mean EER (each replicate draws one set of "
            "trials, or of speakers, shared by all seeds); the standard deviation is over seeds and is "
            "only shown with two or more. hand_features is the logistic regression on utterance-level "
            "hand features (a difficulty check of the corpus)."
            + (
                f" {', '.join(scoring_only(inp))}: a published model scored as it is (one run, no "
                "training seed), so no standard deviation over seeds is shown for it."
                if scoring_only(inp)
                else ""
            ),
        ),
        ("table", table),
        fig(
            fig_dir / "eer.png",
            (
                "EER (%) per eval set (groups) and system (bars): bar = mean over seeds, whiskers = 95% "
                "bootstrap "
                "interval of that mean, black dots = the single seeds (when there are several), dashed line "
                "= "
                "hand-feature baseline. Lower is better; overlapping whiskers do not replace the paired test "
                "above, which compares systems on the same trials."
            ),
        ),
    ]


def det_blocks(inp: ReportInput, fig_dir: Path) -> list[Block]:
    """One DET figure per eval set, every seed of every system (``det_<eval set>.png``)."""
    blocks: list[Block] = [("h2", "DET curves")]
    for s in inp.eval_sets:
        curves, n_min = {}, None
        for system, seeds in inp.systems.items():
            curves[system] = []
            for run in seeds.values():
                t = run.trials[s]
                bona = t["label"].to_numpy() == "bonafide"
                frr, far, _ = det_curve(t["score"].to_numpy()[bona], t["score"].to_numpy()[~bona])
                curves[system].append((frr, far, run.eval[s]["eer"]))
                n_min = min(int(bona.sum()), int((~bona).sum()))
        name = f"det_{s.replace(':', '__')}.png"
        figures.plot_det(curves, n_min or 1, fig_dir / name, f"DET, {s}")
        blocks.append(
            fig(
                fig_dir / name,
                (
                    f"DET curves on {s}: bona fide rejection rate against spoof acceptance rate, both on "
                    f"normal-deviate "
                    "(probit) axes, so a system whose scores are Gaussian per class draws a straight line. "
                    "Closer to "
                    "the bottom left is better; a dot marks each curve's EER, where it crosses the dotted "
                    "diagonal. "
                    "Thick line: a system's first seed; thin lines: its other seeds."
                ),
            )
        )
    return blocks


def other_metrics_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
    """The :data:`OTHER_METRICS` table (nothing when no system has any); a metric an eval set does not
    define (no ASV scores: no t-DCF, no t-EER) is an empty cell, never a number."""
    other = {
        (a, s): {k: m[s][k] for k in OTHER_METRICS if k in m[s]}
        for a, m in systems(metrics).items()
        for s in inp.eval_sets
        if s in m
    }
    other = {k: v for k, v in other.items() if v}
    if not other:
        return []
    df = pd.DataFrame.from_dict(other, orient="index")
    df = df[[k for k in OTHER_METRICS if k in df.columns]]
    df = df.map(lambda v: "" if pd.isna(v) else f"{v:.4f}" if isinstance(v, float) else v)
    df.index = [f"{a} / {s}" for a, s in df.index]
    return [
        ("h2", "Other metrics (seed means)"),
        (
            "p",
            (
                "ASVspoof 5 minDCF; actDCF and Cllr on the raw scores and after a logistic calibration "
                "fitted on the "
                "training corpus's dev scores; min t-DCF (revised and legacy forms) and t-EER (tandem "
                "EER with the ASV system, Kinnunen et al. 2023) where ASV scores exist: t_eer by the "
                "ASVspoof 5 package's decimated search (what it reports), t_eer_exhaustive over every "
                "threshold pair. All are fractions (the package prints the t-EER in percent); an "
                "empty cell is a metric that eval set does not define."
            ),
        ),
        ("table", df),
    ]
