"""The probing part of the report: the ``probing`` table of ``metrics.json`` and its figures.

Inputs are the JSON outputs of the probe stages (``reports/probe/<model>.json``), the partial-model
curve (``reports/partial.json``), the pretrain summary (``reports/pretrain.json``) and the AttM layer
weights the score stage records (``data/scores/<arm>/layer_weights.json``). EERs are fractions here
and percent in the figures and tables. Figures are always written (an empty panel says what to run),
so ``dvc plots`` finds every file it lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sdd.report.figures import save_figure  # noqa: E402
from sdd.report.render import Figure  # noqa: E402

__all__ = ["FIGURES", "load_probing", "probing_blocks", "probing_metrics"]

#: Figures written into the report's figure folder (dvc.yaml lists them as plots).
FIGURES = ("probe_layers.png", "probe_cumulative.png", "partial_curve.png", "attm_weights.png")


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def load_probing(
    probe_dir: Path,
    models: Sequence[str],
    partial: Path,
    pretrain: Path,
    scores_dir: Path,
    arms: Mapping[str, Sequence[int]],
) -> dict:
    """Read every input (absent ones become None or empty). ``arms`` maps each arm to its training
    seeds; the AttM layer weights are those of its first seed (``<scores>/<arm>/s<seed>/``)."""
    probes = {m: _read(probe_dir / f"{m}.json") for m in models}
    weights = {a: _read(scores_dir / a / f"s{seeds[0]}" / "layer_weights.json") for a, seeds in arms.items()
               if seeds}
    return {
        "probes": {m: r for m, r in probes.items() if r is not None},
        "partial": (_read(partial) or {}).get("points", []),
        "pretrain": _read(pretrain) or {},
        "attm_weights": {a: w["sets"] for a, w in weights.items() if w},
    }


def _named(result: dict, per_split: Mapping[str, Any]) -> dict:
    """Split ids -> display names (``demo__eval`` -> ``demo:eval``)."""
    return {result["splits"].get(k, k): v for k, v in per_split.items()}


def probing_metrics(data: dict) -> dict:
    """The ``probing`` table of metrics.json: per probed model the layer chosen on dev and its EERs,
    every layer's EER per split, the pretraining gain (random-init minus backbone EER at each one's
    dev-chosen layer, per split), the pretrain summary, the partial-model points and AttM weights."""
    models = {}
    for name, r in data["probes"].items():
        best = r.get("best_layer")
        entry: dict[str, Any] = {
            "kind": r["info"]["kind"],
            "model_type": r["info"]["model_type"],
            "num_layers": r["info"]["num_layers"],
        }
        if best:
            entry.update(
                best_layer=best["layer"], eer=_named(r, best["eer"]), eer_ci95=_named(r, best["ci95"])
            )
        entry["layers"] = {str(row["layer"]): _named(r, row["eer"]) for row in r.get("layer", [])}
        for kind in ("concat", "linm"):
            if r.get(kind):
                entry[kind] = {str(row["layers"]): _named(r, row["eer"]) for row in r[kind]}
        models[name] = entry
    out: dict[str, Any] = {"models": models}
    rnd, bb = models.get("random", {}).get("eer"), models.get("backbone", {}).get("eer")
    if rnd and bb:
        out["pretraining_gain"] = {s: rnd[s] - bb[s] for s in rnd if s in bb}
    pre = data["pretrain"]
    if pre:
        out["pretrain"] = {
            k: pre[k]
            for k in (
                "pretrained",
                "objective",
                "init",
                "steps",
                "seconds",
                "cpu_seconds",
                "fixed_batch_loss_initial",
                "fixed_batch_loss_final",
            )
            if k in pre
        }
    if data["partial"]:
        out["partial"] = data["partial"]
    if data["attm_weights"]:
        out["attm_weights"] = data["attm_weights"]
    return out


def _empty(path: Path, message: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9, wrap=True)
    save_figure(fig, path)


def _series(
    rows: Sequence[dict], x_key: str, split: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([r[x_key] for r in rows], dtype=float)
    y = np.array([100 * r["eer"][split] for r in rows])
    ci = [r.get("ci95", {}).get(split) for r in rows]
    lo = np.array([100 * c[0] if c else np.nan for c in ci])
    hi = np.array([100 * c[1] if c else np.nan for c in ci])
    return x, y, lo, hi


def plot_probe_layers(probes: Mapping[str, dict], path: Path, kind: str = "layer") -> None:
    """One panel per probed model: EER (%) vs hidden state (``layer``) or vs first k layers
    (``cumulative``: concat solid, LinM dashed); a line per split, the 95% CI as a band."""
    names = [m for m, r in probes.items() if r.get("layer" if kind == "layer" else "concat") or r.get("linm")]
    if not names:
        _empty(path, "no probe results")
        return
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        r = probes[name]
        styles = [("layer", "-")] if kind == "layer" else [("concat", "-"), ("linm", "--")]
        for color_i, split in enumerate(r["splits"]):
            color = f"C{color_i}"
            for probe_kind, ls in styles:
                rows = r.get(probe_kind) or []
                if not rows:
                    continue
                x, y, lo, hi = _series(rows, "layer" if probe_kind == "layer" else "layers", split)
                label = r["splits"][split] + ("" if kind == "layer" else f" ({probe_kind})")
                ax.plot(x, y, ls, color=color, marker="o", ms=3, label=label)
                if np.isfinite(lo).any():
                    ax.fill_between(x, lo, hi, color=color, alpha=0.15 if ls == "-" else 0.07)
        best = r.get("best_layer")
        title = f"{name} ({r['info']['model_type']}, {r['info']['num_layers']} layers)"
        if best and kind == "layer":
            ax.axvline(best["layer"], color="grey", lw=0.8, ls=":")
            title += f"\nlayer chosen on dev: {best['layer']}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("hidden state (0 = transformer input)" if kind == "layer" else "first k layers")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("EER (%)")
    axes[0][-1].legend(fontsize=7)
    save_figure(fig, path)


def plot_partial(points: Sequence[dict], path: Path) -> None:
    """EER (%) vs kept layers k, a line per eval set with its CI band; forward seconds per second of
    audio on a second axis."""
    if not points:
        _empty(path, "partial-model curve not run: dvc exp run -S 'probe.partial_layers=[1,2,3,4]'")
        return
    pts = sorted(points, key=lambda p: p["layers"])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, split in enumerate(pts[0]["eer"]):
        x, y, lo, hi = _series(pts, "layers", split)
        ax.plot(x, y, "-o", color=f"C{i}", ms=3, label=split)
        if np.isfinite(lo).any():
            ax.fill_between(x, lo, hi, color=f"C{i}", alpha=0.15)
    ax.set_xlabel("transformer layers kept (k)")
    ax.set_xticks([p["layers"] for p in pts])
    ax.set_ylabel("EER (%)")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(
        [p["layers"] for p in pts],
        [p["forward_seconds_per_audio_second"] for p in pts],
        "s--",
        color="k",
        ms=3,
        label="forward s / audio s",
    )
    ax2.set_ylabel("forward seconds per second of audio")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7)
    save_figure(fig, path)


def plot_attm_weights(weights: Mapping[str, Mapping[str, dict]], path: Path) -> None:
    """Bars per layer of AttM's weights (mean over utterances, std as whiskers), one group of bars per
    eval set, one panel per AttM arm."""
    if not weights:
        _empty(path, "no AttM arm")
        return
    fig, axes = plt.subplots(1, len(weights), figsize=(5 * len(weights), 3.2), squeeze=False)
    for ax, (arm, sets) in zip(axes[0], weights.items(), strict=True):
        sets = {s: w for s, w in sets.items() if w}
        n_layers = len(next(iter(sets.values()))["mean"])
        width = 0.8 / max(1, len(sets))
        for i, (s, w) in enumerate(sets.items()):
            x = np.arange(1, n_layers + 1) + (i - (len(sets) - 1) / 2) * width
            ax.bar(x, w["mean"], width, yerr=w["std"], capsize=2, label=s)
        ax.set_xticks(range(1, n_layers + 1))
        ax.set_xlabel("transformer layer")
        ax.set_ylabel("AttM weight (mean ± std over utterances)")
        ax.set_title(arm, fontsize=9)
        ax.legend(fontsize=7)
    save_figure(fig, path)


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.2f}"


CAPTIONS = (
    "EER (%) of a logistic-regression probe on each hidden layer's pooled features (mean and standard "
    "deviation over time), one panel per probed model, a line per split, the band its 95% bootstrap "
    "CI. Layer 0 is the transformer's input. Lower is better; the layer with the lowest dev EER is the "
    "one a researcher may pick (eval sets are never used to choose it).",
    "EER (%) of the cumulative probes over the first k layers: 'concat' concatenates their means, "
    "'linm' learns a softmax-weighted sum of them (LinM). Read it as how much the first k layers carry "
    "together; a flat curve after k means the later layers add nothing the probe can use.",
    "The partial-model curve: EER (%) of the backbone cut to its first k transformer layers and "
    "fine-tuned (left axis), with its forward seconds per second of audio (right axis). Empty unless "
    "probe.partial_layers is set.",
    "AttM's learned layer weights (mean ± std over the utterances of each eval set) for every arm "
    "with the AttM merge: which layers the trained model reads. Empty without an AttM arm.",
)


def probing_blocks(data: dict, fig_dir: Path) -> list[tuple[str, Any]]:
    """Report blocks (paragraphs, tables, captioned figures, sub-headings) of the probing section
    (:class:`sdd.report.render.Section`); writes :data:`FIGURES`."""
    def fig(i: int) -> tuple[str, Any]:
        return "fig", Figure(fig_dir / FIGURES[i], CAPTIONS[i])

    probes = data["probes"]
    plot_probe_layers(probes, fig_dir / FIGURES[0], "layer")
    plot_probe_layers(probes, fig_dir / FIGURES[1], "cumulative")
    plot_partial(data["partial"], fig_dir / FIGURES[2])
    plot_attm_weights(data["attm_weights"], fig_dir / FIGURES[3])
    blocks: list[tuple[str, Any]] = []
    rows = {}
    for name, r in probes.items():
        best = r.get("best_layer")
        if not best:
            continue
        row = {"layer chosen on dev": best["layer"]}
        for split, label in r["splits"].items():
            ci = best["ci95"].get(split)
            row[label] = _pct(best["eer"][split]) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")
        rows[name] = row
    if rows:
        blocks += [
            (
                "p",
                "EER (%) of the per-layer probe at the layer with the lowest dev EER, 95% bootstrap "
                "CI. random: the backbone's architecture with random weights; backbone: what the "
                "arms start from (the self-supervised demo backbone by default); arms: their "
                "fine-tuned backbone.",
            ),
            ("table", pd.DataFrame.from_dict(rows, orient="index").fillna("")),
        ]
    gain = probing_metrics(data).get("pretraining_gain")
    if gain:
        blocks.append(
            (
                "p",
                "Pretraining gain (random-init EER minus backbone EER, points): "
                + ", ".join(f"{s}: {100 * g:+.2f}" for s, g in gain.items()),
            )
        )
    blocks += [fig(0), fig(1)]
    if data["partial"]:
        df = pd.DataFrame(
            [
                {
                    "k": p["layers"],
                    "parameters": p["parameters"],
                    "forward s / audio s": f"{p['forward_seconds_per_audio_second']:.4f}",
                    **{s: _pct(e) for s, e in p["eer"].items()},
                }
                for p in data["partial"]
            ]
        ).set_index("k")
        blocks += [("h3", "Partial models: EER (%) vs transformer layers kept"), ("table", df)]
    blocks.append(fig(2))
    if data["attm_weights"]:
        blocks.append(("h3", "AttM layer weights"))
    blocks.append(fig(3))
    return blocks
