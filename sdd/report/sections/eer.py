"""The sections on each system's overall error per eval set: the EER table and bar chart (seed mean,
standard deviation, bootstrap CI, the hand-feature baseline), the DET curves, and the other metrics
(minDCF, actDCF, Cllr, min t-DCF, t-EER).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sdd.metrics import det_curve
from sdd.report import figures
from sdd.report.inputs import ReportInput
from sdd.report.render import Block
from sdd.report.sections.common import eer_cell, fig, pct, scoring_only, systems
from sdd.report.stats import HAND

__all__ = [
    "INPUT_COLUMN", "OTHER_METRICS", "convention_text", "det_blocks", "eer_blocks", "input_names",
    "other_metrics_blocks",
]  # fmt: skip

#: The EER table's column naming each system's input rule (what the score stage scored).
INPUT_COLUMN = "input (score stage)"

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


def _convention(m: Any) -> dict | None:
    return m.get("convention") if isinstance(m, dict) else None


def input_names(entry: dict, eval_sets: list[str]) -> str:
    """The input rule(s) of a system's ``convention`` over the eval sets, or ``not recorded``."""
    names = set()
    for s in eval_sets:
        conv = _convention(entry.get(s))
        if s in entry:
            names.add(conv["input"]["name"] if conv and conv.get("input") else "not recorded")
    return "; ".join(sorted(names))


def convention_text(entries: dict, eval_sets: list[str]) -> str:
    """One sentence per eval set naming its trials and the score polarity (from any system's
    ``convention``; the same for every system, since it comes from the eval set)."""
    parts = []
    for s in eval_sets:
        conv = next((c for m in entries.values() if (c := _convention(m.get(s)))), None)
        if conv:
            parts.append(f"{s}: {conv['trials']}; {conv['polarity']}")
        else:
            parts.append(f"{s}: convention not recorded (evaluated before it was)")
    return "Evaluation convention (trials; score polarity): " + ". ".join(parts) + "."


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
    rules = {a: input_names(m, inp.eval_sets) for a, m in entries.items()}
    table[INPUT_COLUMN] = pd.Series(rules)
    if HAND in table.index:
        table.loc[HAND, INPUT_COLUMN] = "utterance-level hand features"
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
        ("p", convention_text(entries, inp.eval_sets)),
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
        if (n_min or 0) < figures.DET_MIN_TRIALS:  # a split view of a few trials: one point, no curve
            blocks.append(
                ("p", f"No DET curve on {s}: its smaller class has {n_min or 0} trial(s), fewer than the "
                      f"{figures.DET_MIN_TRIALS} a curve needs.")
            )  # fmt: skip
            continue
        name = f"det_{s.replace(':', '__')}.png"
        figures.plot_det(curves, n_min, fig_dir / name, f"DET, {s}")
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
