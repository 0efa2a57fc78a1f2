"""Training telemetry: one row per optimizer step, one per epoch, one run summary.

Per step (rank 0 writes them; all ranks compute the same values): the loss per path, cos(g_clean,
g_aug), the conflict flag (``<g_clean, g_aug> < 0``), ||g_clean|| / ||g_aug||, the share of blocks
where the aligner projected / rotated (``projected``) or Gradient Remedy rescaled (``rescaled``), the
update's norm, the learning rate and whether the step was skipped (non-finite). The released DPDA
code logs none of these. Every arm's table has every column (NaN where a regime has no value), so one
``dvc plots`` definition renders all arms.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EPOCH_COLUMNS", "TELEMETRY_COLUMNS", "epoch_stats", "run_stats"]

TELEMETRY_COLUMNS = (
    "step",
    "epoch",
    "loss",
    "loss_clean",
    "loss_aug",
    "cos",
    "conflict",
    "norm_ratio",
    "projected",
    "rescaled",
    "grad_norm",
    "lr",
    "skipped",
)
EPOCH_COLUMNS = ("epoch", "stage", "train_loss", "dev_loss", "dev_eer", "dev_eer_threshold", "conflict_ratio",
                 "projection_ratio",
                 "rescale_ratio", "skipped_steps", "lr", "seconds")


def _mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if key in r and not (isinstance(r[key], float) and math.isnan(r[key]))]
    return float(np.mean(values)) if values else None


def epoch_stats(rows: list[dict]) -> dict[str, float]:
    """The training side of one epoch's row from its step rows (keys absent where no step has them)."""
    done = [r for r in rows if not r.get("skipped")]
    out = {"train_loss": _mean(done, "loss"), "conflict_ratio": _mean(done, "conflict"),
           "projection_ratio": _mean(done, "projected"), "rescale_ratio": _mean(done, "rescaled"),
           "skipped_steps": float(sum(1 for r in rows if r.get("skipped")))}
    return {k: v for k, v in out.items() if v is not None}


def run_stats(rows: list[dict]) -> dict[str, float]:
    """Whole-run conflict statistics (the summary's ``conflict_ratio``, ``mean_cos``, ...)."""
    done = [r for r in rows if not r.get("skipped")]
    out = {"conflict_ratio": _mean(done, "conflict"), "mean_cos": _mean(done, "cos"),
           "projection_ratio": _mean(done, "projected"), "rescale_ratio": _mean(done, "rescaled"),
           "skipped_steps": float(sum(1 for r in rows if r.get("skipped")))}
    return {k: v for k, v in out.items() if v is not None}
