"""The sections on how the systems were trained: "Models" (parameters, epochs, seconds, peak memory,
gradient conflict, with a note on scoring-only systems) and "Training" (loss curves and gradient
telemetry figures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sdd.report import figures
from sdd.report.inputs import ReportInput
from sdd.report.render import Block
from sdd.report.sections.common import FUSION_REGIME, NONE, SCORING_ONLY_REGIME, fig, scoring_only

__all__ = ["models_blocks", "training_blocks"]


def models_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
    """The "Models" table: one row per system, spreads over its seeds."""
    rows = {}
    for a, seeds in inp.systems.items():
        recs = [metrics[a]["seeds"][str(k)]["train"] for k in seeds]

        def spread(key: str, fmt: str, recs: list = recs) -> str:
            vals = [r[key] for r in recs if key in r]
            if not vals:
                return ""
            vals = [v for v in vals if v is not None]
            if not vals:
                return NONE  # the quantity does not exist for this system (e.g. a scoring-only arm)
            return fmt.format(np.mean(vals)) + (
                f" ± {fmt.format(np.std(vals, ddof=1))}" if len(vals) > 1 else ""
            )

        first = recs[0]
        rows[a] = {
            "trainable / total parameters": " / ".join(
                NONE if first.get(k, 0) is None else f"{first.get(k, 0):,}"
                for k in ("trainable_parameters", "total_parameters")
            ),
            "epochs run": spread("epochs", "{:.1f}"),
            "epochs to best (dev)": spread("epochs_to_best", "{:.1f}"),
            "train seconds": spread("seconds", "{:.0f}"),
            "peak RSS (MiB)": spread("peak_rss_mb", "{:.0f}"),
            "conflict ratio": spread("conflict_ratio", "{:.3f}"),
            "aligner acted": spread("projection_ratio", "{:.3f}"),
        }
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "system"
    return [
        ("h2", "Models"),
        (
            "p",
            (
                "Parameters of the trained model (trainable / total); epochs run (early stopping on the "
                "monitored dev value, train.monitor: the clean dev loss by default) and the number of epochs "
                "up to the best one; wall-clock training seconds and the train stage process's peak resident "
                "memory; the share of steps whose clean-path and augmented-path gradients "
                "conflict (<g_clean, g_aug> < 0), and for aligned arms the share of steps (and blocks) in "
                "which the aligner projected, adjusted or rotated the gradients. Mean ± standard deviation "
                "over seeds." + _scoring_only_note(inp) + _fusion_note(inp)
            ),
        ),
        ("table", df),
    ]


def _scoring_only_note(inp: ReportInput) -> str:
    """What the Models and EER sections say about scoring-only systems (published weights)."""
    names = scoring_only(inp)
    if not names:
        return ""
    return (
        f" {', '.join(names)}: scoring-only (regime {SCORING_ONLY_REGIME}: published weights, scored as "
        f"they are): nothing was trained, so {NONE} marks what does not exist (epochs to best, train "
        "seconds are the seconds spent loading and hashing the weights), and with no training seed it "
        "has a single run: no spread over seeds."
    )


def _fusion_note(inp: ReportInput) -> str:
    """What the Models section says about fused systems (``report.fusion``)."""
    names = [a for a in inp.systems if inp.configs.get(a, {}).get("regime") == FUSION_REGIME]
    if not names:
        return ""
    return (
        f" {', '.join(names)}: fused (report.fusion: a linear logistic-regression fusion of the named arms' "
        "scores, fitted on the training corpus's dev scores): its trainable parameters are the fusion's "
        f"weights and offset, its total adds the fused models'; it trains no epochs ({NONE})."
    )


def training_blocks(inp: ReportInput, fig_dir: Path) -> list[Block]:
    """The "Training" figures: ``training.png``, and ``conflict.png`` when a system logs gradient cosines."""
    tele = {a: [r.telemetry for r in seeds.values()] for a, seeds in inp.systems.items()}
    eps = {a: [r.epochs for r in seeds.values()] for a, seeds in inp.systems.items()}
    figures.plot_training(tele, eps, fig_dir / "training.png")
    blocks: list[Block] = [
        ("h2", "Training"),
        fig(
            fig_dir / "training.png",
            (
                "Left: training loss per optimisation step (rolling mean over 10 steps). Right: the clean "
                "dev loss after each epoch (model selection and early stopping use the monitored dev value, "
                "train.monitor: this loss by default); the saved model averages the weights of the best "
                "epochs. One colour per system, one line per seed."
            ),
        ),
    ]
    with_cos = {
        a: frames
        for a, frames in tele.items()
        if any("cos" in df and df["cos"].notna().any() for df in frames)
    }
    if with_cos:
        aligned = [a for a in with_cos if inp.configs.get(a, {}).get("align", "none") != "none"]
        figures.plot_conflict(with_cos, fig_dir / "conflict.png", order=list(inp.systems))
        blocks.append(
            fig(
                fig_dir / "conflict.png",
                (
                    "Gradient telemetry of the systems that log it (dual-path and augmented training"
                    + (f"; gradient alignment in {', '.join(aligned)}" if aligned else "")
                    + "). Left: per epoch, the "
                    "share of logged steps in which the clean-path and augmented-path gradients conflict "
                    "(negative inner product), the case that alignment methods such as PCGrad project away. "
                    "Right: "
                    "the distribution of their cosine over all logged steps; mass left of 0 is conflict."
                ),
            )
        )
    return blocks
