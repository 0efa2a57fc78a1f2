"""The comparative report: ``metrics.json`` (DVC metrics), ``README.md``, ``index.html``, figures.

The report is a list of blocks (headings, paragraphs, tables, images) rendered twice, to Markdown
and to HTML, so both always say the same thing.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sdd import atomic
from sdd.report import figures

log = logging.getLogger(__name__)

__all__ = ["Block", "collect_metrics", "eer_table", "render_html", "render_markdown", "write_report"]

Block = tuple[str, Any]  # ("h1" | "h2" | "p" | "table" | "img", payload)
HAND = "hand_features"


def collect_metrics(
    eval_metrics: Mapping[str, dict], train_metrics: Mapping[str, dict], baseline: dict
) -> dict:
    """``{arm: {eval_set: metrics, "train": {...}}, "hand_features": {eval_set: {...}}}`` (fractions)."""
    out: dict[str, Any] = {}
    for arm, per_set in eval_metrics.items():
        summary = train_metrics.get(arm, {}).get("summary", {})
        train = {
            k: summary[k]
            for k in (
                "conflict_ratio",
                "mean_cos",
                "projection_ratio",
                "rescale_ratio",
                "epochs",
                "epochs_to_best",
                "seconds",
                "best_dev_loss",
                "skipped_steps",
                "trainable_parameters",
                "total_parameters",
                "peak_rss_mb",
            )
            if k in summary
        }
        out[arm] = {**per_set, "train": train}
    if baseline:
        out[HAND] = baseline
    return out


def _pct(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else f"{100 * float(v):.2f}"


def eer_table(metrics: Mapping[str, dict], eval_sets: list[str]) -> pd.DataFrame:
    """EER (%) with 95% CI per system (rows) and eval set (columns)."""
    rows = {}
    for system, per_set in metrics.items():
        row = {}
        for s in eval_sets:
            m = per_set.get(s)
            if not m:
                continue
            ci = m.get("eer_ci95")
            row[s] = _pct(m["eer"]) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")
        rows[system] = row
    return pd.DataFrame.from_dict(rows, orient="index", columns=eval_sets).fillna("")


def per_attack_table(metrics: Mapping[str, dict], eval_set: str) -> pd.DataFrame:
    """Per-attack EER (fractions): systems x attacks for one eval set."""
    rows = {system: per_set[eval_set]["per_attack"] for system, per_set in metrics.items()
            if eval_set in per_set and per_set[eval_set].get("per_attack")}
    return pd.DataFrame.from_dict(rows, orient="index").sort_index(axis=1)


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for kind, payload in blocks:
        if kind == "h1":
            out.append(f"# {payload}\n")
        elif kind == "h2":
            out.append(f"## {payload}\n")
        elif kind == "p":
            out.append(f"{payload}\n")
        elif kind == "table":
            df = payload
            cols = [""] + [str(c) for c in df.columns]
            lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += [
                "| " + " | ".join([str(i)] + [str(v) for v in r]) + " |"
                for i, r in zip(df.index, df.itertuples(index=False), strict=True)
            ]
            out.append("\n".join(lines) + "\n")
        elif kind == "img":
            out.append(f"![{payload}]({payload})\n")
    return "\n".join(out)


def render_html(blocks: list[Block], title: str) -> str:
    body = []
    for kind, payload in blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html.escape(str(payload))}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(str(payload))}</p>")
        elif kind == "table":
            body.append(payload.to_html(escape=True, border=0, classes="t"))
        elif kind == "img":
            body.append(f'<p><img src="{html.escape(payload)}" alt="{html.escape(payload)}"></p>')
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table.t{border-collapse:collapse;margin:1em 0}table.t td,table.t th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:right}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(
    metrics: dict,
    eval_sets: list[str],
    telemetry: Mapping[str, pd.DataFrame],
    epochs: Mapping[str, pd.DataFrame],
    out_md: Path,
    out_html: Path,
    fig_dir: Path,
    extra_figures: list[tuple[str, Path]] = (),
    title: str = "sdd report",
    intro: str = "",
    extra_blocks: Callable[[Callable[[Path], str]], list[Block]] | None = None,
) -> None:
    """Render the figures, Markdown and HTML of a comparative report.

    Args:
        metrics: :func:`collect_metrics` output (or the same shape from MLflow runs for ``sdd compare``).
        telemetry: per-step tables per system (for loss and conflict curves).
        epochs: per-epoch tables per system (dev loss).
        extra_figures: already-written figures ``(caption, path)`` to include.
        extra_blocks: ``rel -> blocks`` appended at the end (the probing section,
            :mod:`sdd.report.probing`); ``rel`` makes a figure path relative to the report.
    """
    rel = lambda p: os.path.relpath(p, out_md.parent)  # noqa: E731
    systems = {k: v for k, v in metrics.items() if k != HAND}
    blocks: list[Block] = [("h1", title)]
    if intro:
        blocks.append(("p", intro))
    blocks += [("h2", "EER (%) per eval set, 95% bootstrap CI"), ("table", eer_table(metrics, eval_sets))]
    figures.plot_eer_bars(
        {k: {s: m[s] for s in eval_sets if s in m} for k, m in systems.items()},
        fig_dir / "eer.png",
        {s: metrics[HAND][s]["eer"] for s in eval_sets if s in metrics.get(HAND, {})},
    )
    blocks.append(("img", rel(fig_dir / "eer.png")))
    other = {
        (sys_, s): {
            k: m[s].get(k)
            for k in (
                "min_dcf",
                "act_dcf",
                "cllr",
                "act_dcf_calibrated",
                "cllr_calibrated",
                "min_tdcf",
                "min_tdcf_legacy",
            )
            if k in m[s]
        }
        for sys_, m in systems.items()
        for s in eval_sets
        if s in m
    }
    if other:
        df = pd.DataFrame.from_dict(other, orient="index").map(
            lambda v: f"{v:.4f}" if isinstance(v, float) else v
        )
        df.index = [f"{a} / {s}" for a, s in df.index]
        blocks += [
            (
                "h2",
                "Other metrics (ASVspoof5 minDCF; actDCF and Cllr on raw scores and after a logistic "
                "calibration fitted on the training corpus's dev scores)",
            ),
            ("table", df),
        ]
    for s in eval_sets:
        table = per_attack_table(metrics, s)
        if table.empty:
            continue
        name = f"per_attack_{s.replace(':', '__')}.png"
        figures.plot_per_attack(table, fig_dir / name, f"Per-attack EER (%), {s}")
        blocks += [
            ("h2", f"Per-attack EER (%), {s}"),
            ("table", table.map(_pct)),
            ("img", rel(fig_dir / name)),
        ]
    train = {a: m.get("train", {}) for a, m in systems.items() if m.get("train")}
    if train:
        df = pd.DataFrame.from_dict(train, orient="index").map(
            lambda v: f"{v:.4g}" if isinstance(v, float) else v
        )
        note = ("conflict_ratio: share of steps with <g_clean, g_aug> < 0; projection_ratio: share of steps "
                "(and tensors, per-tensor granularity) where the aligner projected (PCGrad), adjusted "
                "(GradVac) or rotated (GR); rescale_ratio: GR's rescale; epochs_to_best: epochs until the "
                "best dev value; seconds: training time; peak_rss_mb: peak resident memory of the train "
                "stage process (MiB).")
        blocks += [("h2", "Training"), ("p", note), ("table", df)]
    if telemetry:
        figures.plot_loss_curves(telemetry, epochs, fig_dir / "loss.png")
        blocks.append(("img", rel(fig_dir / "loss.png")))
        if any("cos" in df for df in telemetry.values()):
            figures.plot_conflict(telemetry, fig_dir / "conflict.png")
            blocks.append(("img", rel(fig_dir / "conflict.png")))
    for caption, path in extra_figures:
        blocks += [("h2", caption), ("img", rel(path))]
    if extra_blocks is not None:
        blocks += extra_blocks(rel)
    atomic.write_text(out_md, render_markdown(blocks))
    atomic.write_text(out_html, render_html(blocks, title))
