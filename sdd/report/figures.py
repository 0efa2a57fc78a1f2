"""Figures: plain data in, one PNG out (matplotlib, Agg backend). No file reading here.

Systems keep one colour across every figure of a report (:func:`colours`); seeds of one system share
its colour (the first seed solid, the others thinner).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

from sdd.core import atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import norm  # noqa: E402

__all__ = [
    "colours",
    "plot_conflict",
    "plot_det",
    "plot_durations",
    "plot_eer_bars",
    "plot_paired",
    "plot_per_attack",
    "plot_training",
]

DET_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8)
#: the fewest trials of each class a DET curve is drawn for: its rates are shown in [0.5 / n, 1 - 0.5 / n],
#: a single point at n = 1
DET_MIN_TRIALS = 2


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as a PNG atomically (temp file, then rename) and close it, even on error."""
    try:
        with atomic.atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def colours(systems: Sequence[str]) -> dict[str, tuple]:
    """One colour per system (tab10, then tab20), in report order."""
    cmap = plt.get_cmap("tab10" if len(systems) <= 10 else "tab20")
    return {s: cmap(i % cmap.N) for i, s in enumerate(systems)}


def plot_eer_bars(
    agg: Mapping[str, Mapping[str, dict]],
    per_seed: Mapping[str, Mapping[str, Sequence[float]]],
    path: Path,
    reference: Mapping[str, float] | None = None,
) -> None:
    """Grouped bars: seed-mean EER (%) per eval set (groups) and system (bars), 95% CI whiskers, and
    one dot per seed.

    Args:
        agg: ``{system: {eval_set: {"eer": float, "eer_ci95": [lo, hi]}}}``, fractions.
        per_seed: ``{system: {eval_set: [eer of each seed]}}``, fractions.
        reference: ``{eval_set: eer}`` drawn as dashed lines (the hand-feature baseline).
    """
    systems = list(agg)
    col = colours(systems)
    sets = list(dict.fromkeys(s for m in agg.values() for s in m))
    width = 0.8 / max(len(systems), 1)
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(sets) * max(2, len(systems))), 3.8))
    x = np.arange(len(sets))
    for i, system in enumerate(systems):
        pos = x + (i - (len(systems) - 1) / 2) * width
        vals = np.array([100 * agg[system].get(s, {}).get("eer", np.nan) for s in sets])
        cis = np.array(
            [
                100 * np.asarray(agg[system].get(s, {}).get("eer_ci95") or (np.nan, np.nan), float)
                for s in sets
            ]
        )  # (S, 2)
        err = np.abs(np.stack([vals - cis[:, 0], cis[:, 1] - vals]))  # (2, S)
        ax.bar(
            pos,
            vals,
            width,
            color=col[system],
            alpha=0.75,
            label=system,
            yerr=None if np.isnan(err).all() else np.nan_to_num(err),
            capsize=3,
        )
        for j, s in enumerate(sets):
            seeds = per_seed.get(system, {}).get(s, [])
            if len(seeds) > 1:
                ax.plot(np.full(len(seeds), pos[j]), 100 * np.asarray(seeds), "o", ms=3, color="k", alpha=0.7)
    for j, s in enumerate(sets):
        if reference and s in reference:
            ax.hlines(
                100 * reference[s],
                j - 0.45,
                j + 0.45,
                colors="k",
                linestyles="dashed",
                label="hand features" if j == 0 else None,
            )
    ax.set_xticks(x, sets)
    ax.set_ylabel("EER (%)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))  # outside: never hides a bar
    ax.set_title("EER per eval set: seed mean, 95% bootstrap CI, dots = single seeds")
    save_figure(fig, path)


def plot_paired(rows: Sequence[dict], path: Path, reference: str) -> None:
    """Forest plot of the paired EER differences (system - reference, percentage points).

    Args:
        rows: ``{"label", "diff", "ci95": [lo, hi], "holm_ci": [lo, hi], "significant", "p_better"}``
            per comparison, fractions.
    """
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.42 * len(rows)))
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows, strict=True):
        c = "tab:green" if r["significant"] and r["diff"] < 0 else "tab:red" if r["significant"] else "0.35"
        ax.plot(100 * np.asarray(r["holm_ci"]), [yi, yi], color=c, lw=1.2, alpha=0.6)
        ax.plot(100 * np.asarray(r["ci95"]), [yi, yi], color=c, lw=4, solid_capstyle="butt")
        ax.plot([100 * r["diff"]], [yi], "o", color="k", ms=5)
        ax.annotate(
            f"P(better) {r['p_better']:.2f}",
            (1.01, yi),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=8,
        )
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y, [r["label"] for r in rows])
    ax.set_xlabel(f"EER difference, system - {reference} (percentage points; < 0: system better)")
    ax.set_title("Paired bootstrap: 95% CI (thick) and Holm-corrected CI (thin)")
    save_figure(fig, path)


def _probit(p: np.ndarray, n: int) -> np.ndarray:
    eps = 0.5 / max(n, 1)
    return norm.ppf(np.clip(p, eps, 1 - eps))


def plot_det(
    curves: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray, float]]],
    n_trials: int,
    path: Path,
    title: str,
) -> None:
    """DET curves on normal-deviate axes, one line per system and seed, its EER point marked.

    Args:
        curves: ``{system: [(frr, far, eer) per seed]}``, rates and EER as fractions.
        n_trials: the smaller class size, which bounds the rates shown (0.5 / n); at least
            :data:`DET_MIN_TRIALS`, else ValueError.
    """
    if n_trials < DET_MIN_TRIALS:
        raise ValueError(
            f"DET figure {path.name}: got {n_trials} trial(s) in the smaller class; expected at least "
            f"{DET_MIN_TRIALS} (rates are shown in [0.5 / n, 1 - 0.5 / n])"
        )
    col = colours(list(curves))
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    for system, seeds in curves.items():
        for i, (frr, far, eer) in enumerate(seeds):
            ax.plot(
                _probit(far, n_trials),
                _probit(frr, n_trials),
                color=col[system],
                lw=1.6 if i == 0 else 0.8,
                alpha=1.0 if i == 0 else 0.6,
                label=system if i == 0 else None,
            )
            ax.plot(*[_probit(np.array([eer]), n_trials)] * 2, "o", color=col[system], ms=5, mec="k", mew=0.5)
    lim = _probit(np.array([DET_TICKS[0], DET_TICKS[-1]]), n_trials)
    ax.plot(lim, lim, color="0.6", lw=0.7, ls=":")
    ticks = [t for t in DET_TICKS if 0.5 / n_trials <= t <= 1 - 0.5 / n_trials]
    pos = norm.ppf(ticks)
    labels = [f"{100 * t:g}" for t in ticks]
    ax.set_xticks(pos, labels)
    ax.set_yticks(pos, labels)
    ax.set_xlim(pos[0], pos[-1])
    ax.set_ylim(pos[0], pos[-1])
    ax.set_xlabel("spoof acceptance rate, FAR (%)")
    ax.set_ylabel("bona fide rejection rate, FRR (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title)
    save_figure(fig, path)


def plot_per_attack(table: pd.DataFrame, path: Path, title: str, seen: set[str]) -> None:
    """Heat map of EER (%) with systems as rows and attacks as columns; unseen attacks (not in the
    training split) are labelled and set off by a dashed frame."""
    fig, ax = plt.subplots(figsize=(1.6 + 0.75 * table.shape[1], 1.1 + 0.45 * table.shape[0]))
    vals = 100 * table.to_numpy(dtype=float)
    im = ax.imshow(vals, cmap="viridis_r", aspect="auto", vmin=0, vmax=max(50.0, float(np.nanmax(vals))))
    labels = [f"{a}\nseen" if a in seen else f"{a}\nUNSEEN" for a in table.columns]
    ax.set_xticks(range(table.shape[1]), labels, fontsize=8)
    for tick, a in zip(ax.get_xticklabels(), table.columns, strict=True):
        if a not in seen:
            tick.set_color("tab:red")
            tick.set_fontweight("bold")
    ax.set_yticks(range(table.shape[0]), table.index)
    for j, a in enumerate(table.columns):
        if a not in seen:
            ax.add_patch(
                plt.Rectangle((j - 0.5, -0.5), 1, table.shape[0], fill=False, ec="tab:red", ls="--", lw=1.2)
            )
    for (i, j), v in np.ndenumerate(vals):
        if np.isfinite(v):
            ax.text(
                j,
                i,
                f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=7,
                color="w" if v > 0.5 * im.get_clim()[1] else "k",
            )
    fig.colorbar(im, ax=ax, label="EER (%)")
    ax.set_title(title)
    save_figure(fig, path)


def plot_training(
    telemetry: Mapping[str, Sequence[pd.DataFrame]], epochs: Mapping[str, Sequence[pd.DataFrame]], path: Path
) -> None:
    """Left: training loss per step (rolling mean of 10); right: clean dev loss per epoch; one line per
    system and seed."""
    col = colours(list(dict.fromkeys([*telemetry, *epochs])))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for system, frames in telemetry.items():
        for i, df in enumerate(frames):
            if len(df) and "loss" in df:
                a1.plot(
                    df["step"],
                    df["loss"].rolling(10, min_periods=1).mean(),
                    color=col[system],
                    lw=1.4 if i == 0 else 0.7,
                    label=system if i == 0 else None,
                )
    for system, frames in epochs.items():
        for i, df in enumerate(frames):
            if len(df) and "dev_loss" in df:
                a2.plot(
                    df["epoch"] + 1,
                    df["dev_loss"],
                    marker="o",
                    ms=3,
                    color=col[system],
                    lw=1.4 if i == 0 else 0.7,
                    label=system if i == 0 else None,
                )
    a1.set(xlabel="step", ylabel="train loss (rolling mean of 10)", title="Training loss")
    a2.set(xlabel="epoch", ylabel="clean dev loss", title="Dev loss (model selection)")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    save_figure(fig, path)


def plot_conflict(
    telemetry: Mapping[str, Sequence[pd.DataFrame]], path: Path, order: Sequence[str] | None = None
) -> None:
    """Left: share of steps with <g_clean, g_aug> < 0 per epoch; right: histogram of cos(g_clean, g_aug)
    over all logged steps; one colour per system (seeds pooled in the histogram).

    Args:
        order: every system of the report, so each keeps its colour of the other figures.
    """
    col = colours(list(order or telemetry))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    bins = np.linspace(-1, 1, 41)
    for system, frames in telemetry.items():
        cos_all = []
        for i, df in enumerate(frames):
            if "cos" not in df or "conflict" not in df or df["cos"].isna().all():
                continue
            d = df.dropna(subset=["cos"])
            per_epoch = d.groupby("epoch")["conflict"].mean()
            a1.plot(
                per_epoch.index + 1,
                per_epoch.to_numpy(),
                marker="o",
                ms=3,
                color=col[system],
                lw=1.4 if i == 0 else 0.7,
                label=system if i == 0 else None,
            )
            cos_all.append(d["cos"].to_numpy())
        if cos_all:
            a2.hist(
                np.concatenate(cos_all),
                bins=bins,
                histtype="step",
                lw=1.5,
                color=col[system],
                density=True,
                label=system,
            )
    a1.set(
        xlabel="epoch",
        ylabel="share of steps with <g_c, g_a> < 0",
        title="Conflict ratio per epoch",
        ylim=(0, 1),
    )
    a2.axvline(0, color="k", lw=0.8)
    a2.set(xlabel="cos(g_clean, g_aug)", ylabel="density", title="Path-gradient cosine, all logged steps")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    save_figure(fig, path)


def plot_durations(durations: Sequence[tuple[str, float]], path: Path) -> None:
    """Horizontal bars: wall-clock seconds of each stage that ran in this pipeline run."""
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.28 * len(durations)))
    names = [d[0] for d in durations][::-1]
    ax.barh(names, [d[1] for d in durations][::-1], color="tab:blue")
    ax.set_xlabel("wall-clock seconds")
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Stage durations of this pipeline run")
    save_figure(fig, path)
