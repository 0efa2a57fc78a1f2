"""Figures: plain data in, one PNG out (matplotlib, Agg backend). No file reading here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

from sdd import atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plot_conflict", "plot_eer_bars", "plot_loss_curves", "plot_per_attack"]


def _save(fig, path: Path) -> None:
    try:
        with atomic.atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def _eer_with_ci(m: Mapping[str, object]) -> tuple[float, float, float]:
    """(EER, CI low, CI high) in percent; NaN where absent."""
    eer = float(m.get("eer", np.nan))
    lo, hi = m.get("eer_ci95") or (np.nan, np.nan)
    return 100 * eer, 100 * float(lo), 100 * float(hi)


def plot_eer_bars(
    eers: Mapping[str, Mapping[str, dict]], path: Path, reference: Mapping[str, float] | None = None
) -> None:
    """Grouped bars: EER (%) per eval set (groups) and system (bars), with 95% CI whiskers.

    Args:
        eers: ``{system: {eval_set: {"eer": float, "eer_ci95": [lo, hi] (optional)}}}``, fractions.
        reference: ``{eval_set: eer}`` drawn as dashed lines (the hand-feature baseline).
    """
    systems = list(eers)
    sets = sorted({s for m in eers.values() for s in m})
    width = 0.8 / max(len(systems), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(sets) * max(1, len(systems) / 2)), 3.6))
    x = np.arange(len(sets))
    for i, system in enumerate(systems):
        rows = [_eer_with_ci(eers[system].get(s, {})) for s in sets]  # (S, 3): eer, lo, hi in %
        vals = np.array([r[0] for r in rows])
        err = np.array([[r[0] - r[1], r[2] - r[0]] for r in rows]).T  # (2, S) distances to the CI ends
        ax.bar(x + (i - (len(systems) - 1) / 2) * width, vals, width, label=system,
               yerr=None if np.isnan(err).all() else np.nan_to_num(err), capsize=3)
    for j, s in enumerate(sets):
        if reference and s in reference:
            ax.hlines(100 * reference[s], j - 0.45, j + 0.45, colors="k", linestyles="dashed",
                      label="hand features" if j == 0 else None)
    ax.set_xticks(x, sets)
    ax.set_ylabel("EER (%)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))  # outside: never hides a bar
    ax.set_title("EER per eval set (95% bootstrap CI)")
    _save(fig, path)


def plot_loss_curves(
    telemetry: Mapping[str, pd.DataFrame], epochs: Mapping[str, pd.DataFrame], path: Path
) -> None:
    """Left: training loss per step (smoothed); right: clean dev loss per epoch, one line per arm."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for arm, df in telemetry.items():
        if len(df):
            a1.plot(df["step"], df["loss"].rolling(10, min_periods=1).mean(), label=arm)
    for arm, df in epochs.items():
        if len(df):
            a2.plot(df["epoch"], df["dev_loss"], marker="o", label=arm)
    a1.set(xlabel="step", ylabel="train loss (rolling mean of 10)", title="Training loss")
    a2.set(xlabel="epoch", ylabel="clean dev loss", title="Dev loss (model selection)")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    _save(fig, path)


def plot_conflict(telemetry: Mapping[str, pd.DataFrame], path: Path) -> None:
    """cos(g_clean, g_aug) per step and the running conflict ratio, per arm with telemetry."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for arm, df in telemetry.items():
        if "cos" not in df or df["cos"].isna().all():
            continue
        d = df.dropna(subset=["cos"])
        line = a1.plot(d["step"], d["cos"], lw=0.4, alpha=0.35)[0]
        a1.plot(
            d["step"], d["cos"].rolling(10, min_periods=1).mean(), color=line.get_color(), lw=1.6, label=arm
        )
        a2.plot(d["step"], d["conflict"].expanding().mean(), label=arm)
    a1.axhline(0, color="k", lw=0.8)
    a1.set(
        xlabel="step",
        ylabel="cos(g_clean, g_aug)",
        title="Path-gradient cosine (thin: per step; bold: mean of 10)",
    )
    a2.set(xlabel="step", ylabel="fraction of steps with <g_c, g_a> < 0", title="Conflict ratio (cumulative)")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    _save(fig, path)


def plot_per_attack(table: pd.DataFrame, path: Path, title: str) -> None:
    """Heat map of EER (%) with systems as rows and attacks as columns."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * table.shape[1], 0.9 + 0.45 * table.shape[0]))
    vals = 100 * table.to_numpy(dtype=float)
    im = ax.imshow(vals, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns)
    ax.set_yticks(range(table.shape[0]), table.index)
    for (i, j), v in np.ndenumerate(vals):
        ax.text(
            j, i, f"{v:.1f}", ha="center", va="center", fontsize=7, color="w" if v > np.nanmean(vals) else "k"
        )
    fig.colorbar(im, ax=ax, label="EER (%)")
    ax.set_title(title)
    _save(fig, path)
