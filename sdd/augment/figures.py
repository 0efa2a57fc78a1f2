"""Augmentation figures, plain data in and one PNG out: a spectrogram per registered op applied to one
utterance, and histograms of the parameters a policy drew.

Drawing only; what goes into the report (which utterance, which manifest, the captions) is
:mod:`sdd.report.augment`.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

from sdd.core import atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.signal import spectrogram  # noqa: E402

import sdd.augment.apply  # noqa: E402, F401 (attaches the implementations of the ops drawn below)
from sdd.augment.ops import OPS, AugmentContext  # noqa: E402
from sdd.core.configbase import ConfigError  # noqa: E402

log = logging.getLogger(__name__)

__all__ = ["drawn_values", "plot_op_spectrograms", "plot_param_distributions"]


def _save(fig: Any, out_png: Path) -> None:
    try:
        with atomic.atomic_path(out_png, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)


def _spec_db(wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f, t, s = spectrogram(wave, fs=sample_rate, nperseg=512, noverlap=384)
    return f, t, 10.0 * np.log10(s + 1e-12)


def plot_op_spectrograms(wave: np.ndarray, sample_rate: int, out_png: Path, seed: int = 0) -> None:
    """One spectrogram per registered op (default parameters) applied to the same utterance.

    Ops that need user data (``noise_folder``; ``reverb`` with a folder is not the default) are left
    out and logged; ``babble`` uses time-shifted copies of ``wave`` itself as its talker pool. Each
    op gets its own generator seeded with ``seed``.

    Args:
        wave: (T,) float waveform.
        sample_rate: Hz.
        out_png: the figure (written atomically).
        seed: seeds every op's generator.
    """
    wave = np.asarray(wave, dtype=np.float32)
    panels: list[tuple[str, np.ndarray]] = [("clean", wave)]
    n = wave.shape[0]
    ctx = AugmentContext(pool=(np.roll(wave, n // 3), np.roll(wave, n // 2), wave[::-1].copy()))
    for name, cls in OPS.items():
        try:
            op = cls()
        except ConfigError as exc:
            log.info("augment figures: op %s needs user data, not drawn (%s)", name, exc)
            continue
        y, _ = op(wave, sample_rate, np.random.default_rng(seed), ctx)
        panels.append((name, y))
    ncols = 4
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.6 * nrows), squeeze=False, sharey=True)
    for ax, (name, y) in zip(axes.flat, panels, strict=False):
        f, t, s = _spec_db(y, sample_rate)
        ax.pcolormesh(t, f / 1000.0, s, shading="auto", vmin=s.max() - 90, vmax=s.max(), cmap="magma")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_ylabel("kHz", fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle("Each augmentation op on the same utterance (default parameters)")
    fig.tight_layout()
    _save(fig, out_png)


def drawn_values(params_json: str | dict[str, Any]) -> dict[str, list[float]]:
    """Numeric drawn values of one copy keyed ``<op>.<param>`` (list entries pooled, composition
    bookkeeping such as ``one_of`` indices skipped)."""
    tree = json.loads(params_json) if isinstance(params_json, str) else params_json
    out: dict[str, list[float]] = defaultdict(list)

    def walk(node: Any, op: str | None, key: str | None) -> None:
        if isinstance(node, dict):
            here = node.get("op", op)
            for k, v in node.items():
                if k in ("op", "one_of", "applied"):
                    continue
                walk(v, here, k if k not in ("chain", "parallel", "chosen", "filters") else key)
        elif isinstance(node, list):
            for v in node:
                walk(v, op, key)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if op is not None and key is not None:
                out[f"{op}.{key}"].append(float(node))

    walk(tree, None, None)
    return dict(out)


def plot_param_distributions(aug_manifest: pd.DataFrame, out_png: Path) -> None:
    """Histograms of every numeric parameter actually drawn, pooled over the manifest's copies.

    Args:
        aug_manifest: the augment manifest (column ``params``: JSON per copy).
        out_png: the figure (written atomically).

    Raises:
        ValueError: the manifest has no ``params`` column.
    """
    if "params" not in aug_manifest.columns:
        raise ValueError(f"augment manifest lacks a 'params' column; has {list(aug_manifest.columns)}")
    pooled: dict[str, list[float]] = defaultdict(list)
    for p in aug_manifest["params"]:
        for k, v in drawn_values(p).items():
            pooled[k].extend(v)
    names = sorted(pooled)
    ncols = 4
    nrows = max(1, math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.4 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        vals = np.asarray(pooled[name])
        ax.hist(vals, bins=min(40, max(5, len(np.unique(vals)))), color="tab:blue")
        ax.set_title(f"{name} (n={vals.size})", fontsize=9)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    if not names:
        axes[0, 0].text(0.5, 0.5, "no numeric parameters drawn", ha="center", va="center")
    policies = ", ".join(sorted(set(map(str, aug_manifest.get("policy", pd.Series(dtype=str))))))
    fig.suptitle(f"Augmentation parameters drawn ({len(aug_manifest)} copies; policy {policies})")
    fig.tight_layout()
    _save(fig, out_png)
