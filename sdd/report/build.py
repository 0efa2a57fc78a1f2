"""The comparative report: ``README.md``, ``index.html`` and ``figures/*.png`` from a
:class:`~sdd.report.inputs.ReportInput` and its :func:`~sdd.report.stats.report_metrics`.

The report is a list of blocks (headings, paragraphs, tables, figures with captions) rendered twice,
to Markdown and to HTML, so both always say the same thing. Every figure has a caption that says what
it shows and how to read it. The HTML is one file that opens from disk without a server (figures by
relative path); opened as ``index.html#selftest`` it appends a ``<pre id="sdd-selftest">`` with the
number of images, those that did not load and any script or resource error, which the browser test
reads.

**Extra sections** (the hook for other modules, e.g. probing figures): pass
``sections=[Section(title, blocks)]`` to :func:`write_report`, where ``blocks`` uses the same block
kinds (``("p", text)``, ``("table", DataFrame)``, ``("fig", Figure(path, caption))``, ...) and figure
paths (absolute, or relative to the current directory) lie under the report folder. They are
rendered after the training section, in order.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdd.core import atomic
from sdd.core.sections import PUBLISHED_REGIME
from sdd.metrics import det_curve
from sdd.report import figures
from sdd.report.inputs import ReportInput
from sdd.report.stats import HAND

log = logging.getLogger(__name__)

__all__ = ["Block", "Figure", "Section", "eer_cell", "render_html", "render_markdown", "write_report"]

Block = tuple[str, Any]  # ("h1" | "h2" | "h3" | "p" | "table" | "fig", payload)
#: A table cell for a quantity that does not exist for a system (null in metrics.json).
NONE = "—"
#: The regime of scoring-only systems.
SCORING_ONLY_REGIME = PUBLISHED_REGIME
OTHER_METRICS = (
    "min_dcf",
    "act_dcf",
    "cllr",
    "act_dcf_calibrated",
    "cllr_calibrated",
    "min_tdcf",
    "min_tdcf_legacy",
)


@dataclass(frozen=True)
class Figure:
    """A PNG under the report folder (absolute or current-directory-relative path) and its caption (what
    it shows and how to read it)."""

    path: Path
    caption: str


@dataclass(frozen=True)
class Section:
    """An extra report section (see the module docstring)."""

    title: str
    blocks: list[Block]


def _pct(v: Any, digits: int = 2) -> str:
    return (
        "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{100 * float(v):.{digits}f}"
    )


def eer_cell(m: Mapping[str, Any]) -> str:
    """``mean ± std [lo, hi]`` in percent (``± std`` only with several seeds)."""
    text = _pct(m.get("eer"))
    if m.get("eer_std") is not None:
        text += f" ± {_pct(m['eer_std'])}"
    ci = m.get("eer_ci95")
    return text + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")


def _verdict(v: Mapping[str, Any]) -> str:
    if not v["significant"]:
        return "no detectable difference"
    return "better" if v["diff"] < 0 else "worse"


def _signed_pp(v: float) -> str:
    return f"{100 * v:+.2f}"


def _mdd_cell(v: Mapping[str, Any]) -> str:
    """The minimum detectable difference in percentage points, and what it leaves out of the variance."""
    text = f"{100 * v['mdd']:.2f}"
    if v["mdd_includes_seed_variance"]:
        return text
    return text + (" (trials only)" if v["se_seed"] == 0 else " (one system's seed variance)")


def _mdd_power(metrics: Mapping[str, Any]) -> float | None:
    """The power the comparisons' MDDs are stated at (the same for all), or None without comparisons."""
    v = _first_comparison(metrics)
    return None if v is None else float(v["mdd_power"])


def _systems(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != HAND}


def _shortcut_cell(found: Sequence[Mapping[str, Any]], show: int = 3) -> str:
    """The ``show`` lowest-EER shortcuts (EER %), then how many more (all are in the audit section)."""
    ranked = sorted(found, key=lambda f: (f["eer"], f["feature"], f["subset"]))
    text = "; ".join(f"{f['feature']} on {f['subset']}: {_pct(f['eer'], 1)}" for f in ranked[:show])
    return text + (f"; +{len(ranked) - show} more (Shortcut audit)" if len(ranked) > show else "")


def summary_table(
    metrics: Mapping[str, Any], eval_sets: Sequence[str], reference: str | None
) -> pd.DataFrame:
    """One row per system and eval set: EER, the paired comparison with the reference and shortcuts."""
    rows = []
    power = _mdd_power(metrics)
    for system, entry in _systems(metrics).items():
        for s in eval_sets:
            if s not in entry:
                continue
            m = entry[s]
            v = m.get("vs_reference")
            short = _shortcut_cell(m.get("shortcuts", []))
            rows.append(
                {
                    "system": system,
                    "eval set": s,
                    "seeds": m.get("n_seeds", 1),
                    "EER % mean ± std [95% CI]": eer_cell(m),
                    f"Δ vs {reference} (pp) [95% CI]": (
                        f"{_signed_pp(v['diff'])} [{_signed_pp(v['ci95'][0])}, {_signed_pp(v['ci95'][1])}]"
                        if v
                        else "reference"
                        if system == reference
                        else ""
                    ),
                    "P(better)": f"{v['p_better']:.2f}" if v else "",
                    "Holm": (f"{_verdict(v)} (p_holm {v['p_holm']:.3f})" if v else ""),
                    **({f"MDD ({100 * power:.0f} % power, pp)": _mdd_cell(v) if v else ""} if power else {}),
                    "shortcut within 2x": short or "none",
                }
            )
    return pd.DataFrame(rows).set_index("system") if rows else pd.DataFrame()


def per_attack_table(metrics: Mapping[str, Any], eval_set: str) -> pd.DataFrame:
    """Per-attack EER (fractions, seed means): systems x attacks for one eval set."""
    rows = {
        system: entry[eval_set]["per_attack"]
        for system, entry in metrics.items()
        if eval_set in entry and entry[eval_set].get("per_attack")
    }
    return pd.DataFrame.from_dict(rows, orient="index").sort_index(axis=1)


def per_condition_tables(metrics: Mapping[str, Any], eval_set: str) -> dict[str, pd.DataFrame]:
    """Per-condition EER (fractions, seed means) for one eval set: ``{condition column: systems x
    (pooled, each value)}``, for each column the evaluate stage split by (bona fide and spoofs of
    one condition against each other, e.g. the demo's transmission channels or ASVspoof 2021's
    codecs). Empty when the set has no condition column."""
    columns: dict[str, dict[str, dict[str, float]]] = {}
    for system, entry in metrics.items():
        for column, eers in ((entry.get(eval_set) or {}).get("per_condition") or {}).items():
            columns.setdefault(column, {})[system] = {"pooled": entry[eval_set]["eer"], **eers}
    tables = {}
    for column, rows in columns.items():
        table = pd.DataFrame.from_dict(rows, orient="index")
        tables[column] = table[["pooled", *sorted(c for c in table.columns if c != "pooled")]]
    return tables


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(kind[1])} {payload}\n")
        elif kind == "p":
            out.append(f"{payload}\n")
        elif kind == "table":
            df = payload
            cols = [str(df.index.name or "")] + [str(c) for c in df.columns]
            lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += [
                "| " + " | ".join([str(i)] + [str(v) for v in r]) + " |"
                for i, r in zip(df.index, df.itertuples(index=False), strict=True)
            ]
            out.append("\n".join(lines) + "\n")
        elif kind == "fig":
            out.append(f"![{payload.path}]({payload.path})\n\n*{payload.caption}*\n")
    return "\n".join(out)


# Reports images that fail to load and script errors into the page when opened as index.html#selftest
# (the headless-browser test reads it with --dump-dom); registered in <head>, before any image loads.
SELFTEST_JS = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target || {};
    errors.push((e.message || e.type) + (t.src ? ' ' + t.src : ''));
  }, true);
  window.addEventListener('load', function () {
    if (location.hash !== '#selftest') return;
    var imgs = Array.prototype.slice.call(document.images);
    var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
    var out = document.createElement('pre');
    out.id = 'sdd-selftest';
    out.textContent = JSON.stringify({images: imgs.length,
      widths: imgs.map(function (i) { return i.naturalWidth; }),
      broken: broken.map(function (i) { return i.getAttribute('src'); }), errors: errors});
    document.body.appendChild(out);
  });
})();
"""

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}"
    "table.t{border-collapse:collapse;margin:1em 0;font-size:14px}table.t td,table.t th{border:1px solid "
    "#ccc;"
    "padding:3px 8px;text-align:right}table.t th{background:#f3f3f3}figure{margin:1.2em 0}"
    "figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:14px;color:#444;max-width:60em}"
    "h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}"
)


def render_html(blocks: list[Block], title: str) -> str:
    body = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{html.escape(str(payload))}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(str(payload))}</p>")
        elif kind == "table":
            named = payload.index.name is not None  # the index becomes a headed first column
            table = payload.reset_index() if named else payload
            body.append(table.to_html(escape=True, border=0, classes="t", index=not named))
        elif kind == "fig":
            src = html.escape(str(payload.path))
            body.append(
                f'<figure><img src="{src}" alt="{src}"><figcaption>{html.escape(payload.caption)}'
                "</figcaption></figure>"
            )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style><script>{SELFTEST_JS}</script></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _fig(path: Path, out_dir: Path, caption: str) -> tuple[str, Figure]:
    return "fig", Figure(path, caption)


def _summary_blocks(inp: ReportInput, metrics: dict, fig_dir: Path, out_dir: Path) -> list[Block]:
    ref, st = inp.reference, inp.stats
    blocks: list[Block] = [("h2", f"Is each system better than {ref}?")]
    blocks.append(
        (
            "p",
            (
                f"Each system is compared with {ref} on the same trials: a paired bootstrap of the EER "
                f"difference "
                f"(system minus {ref}, averaged over each system's seeds), {st['n_resamples']} replicates "
                f"that "
                "resample whole speakers where the manifests name them (trials within each class otherwise). "
                "P(better) is the share of replicates in which the system's EER is lower. A difference "
                "counts "
                f"only when its Holm-corrected interval (family-wise level {st['alpha']:g} over all "
                f"{_n_comparisons(metrics)} comparisons of this report) excludes 0; otherwise the report "
                f"says "
                "'no detectable difference', whatever the point estimates. 'shortcut within 2x' lists what "
                "the "
                "shortcut audit found below twice the system's EER on the same trials: there a property of "
                "the "
                "corpus, not the model, may explain the number."
            ),
        )
    )
    blocks.append(("table", summary_table(metrics, inp.eval_sets, ref)))
    if (text := _mdd_explanation(metrics)) is not None:
        blocks.append(("p", text))
    rows = [
        {"label": f"{a} | {s}", **metrics[a][s]["vs_reference"]}
        for a in _systems(metrics)
        for s in inp.eval_sets
        if "vs_reference" in metrics[a].get(s, {})
    ]
    if rows:
        figures.plot_paired(rows, fig_dir / "paired.png", ref)
        blocks.append(
            _fig(
                fig_dir / "paired.png",
                out_dir,
                (
                    f"Paired EER differences against {ref}, in percentage points (negative: the system has "
                    f"the lower "
                    "EER). Dot: observed difference of the seed means; thick bar: 95% bootstrap interval; "
                    "thin bar: "
                    "the Holm-corrected interval that decides significance. Green or red: the corrected "
                    "interval "
                    "excludes 0 (better or worse); grey: no detectable difference. P(better) on the right."
                ),
            )
        )
    return blocks


def _first_comparison(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for entry in _systems(metrics).values():
        for m in entry.values():
            if isinstance(m, dict) and "vs_reference" in m:
                return m["vs_reference"]
    return None


def _n_comparisons(metrics: Mapping[str, Any]) -> int:
    v = _first_comparison(metrics)
    return 0 if v is None else int(v["n_comparisons"])


def _mdd_explanation(metrics: Mapping[str, Any]) -> str | None:
    """The paragraph under the comparison table: how to read the MDD column (None without comparisons)."""
    v = _first_comparison(metrics)
    if v is None:
        return None
    rows = [
        m["vs_reference"]
        for entry in _systems(metrics).values()
        for m in entry.values()
        if isinstance(m, dict) and "vs_reference" in m
    ]
    pct = f"{100 * v['mdd_power']:.0f} %"
    text = (
        f"MDD ({pct} power) is the smallest true EER difference this test detects with {pct} probability, "
        f"(z(1 - α/2m) + z({v['mdd_power']:g})) × SE at the Bonferroni level α/m = {v['mdd_alpha']:.3g} "
        "(Holm's strictest step, so conservative), the SE from the paired bootstrap replicates"
        + (" and the spread of the per-seed differences" if any(r["se_seed"] > 0 for r in rows) else "")
        + ": a row with no detectable difference means no difference larger than its MDD was detectable, "
        "not that there is none."
    )
    if not all(r["mdd_includes_seed_variance"] for r in rows):
        text += (
            " Where a system has one seed (marked), the MDD leaves out seed-to-seed (training) variance: "
            "it is what these trials resolve between these trained models, a lower bound for a difference "
            "between methods."
        )
    return text


def _eer_blocks(inp: ReportInput, metrics: dict, fig_dir: Path, out_dir: Path) -> list[Block]:
    systems = _systems(metrics)
    table = pd.DataFrame(
        {s: {a: eer_cell(m[s]) for a, m in systems.items() if s in m} for s in inp.eval_sets}
    )
    hand = metrics.get(HAND, {})
    for s in inp.eval_sets:
        if s in hand:
            table.loc[HAND, s] = _pct(hand[s]["eer"])
    table = table.fillna("")
    agg = {a: {s: m[s] for s in inp.eval_sets if s in m} for a, m in systems.items()}
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
                f" {', '.join(_scoring_only(inp))}: a published model scored as it is (one run, no "
                "training seed), so no standard deviation over seeds is shown for it."
                if _scoring_only(inp)
                else ""
            ),
        ),
        ("table", table),
        _fig(
            fig_dir / "eer.png",
            out_dir,
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


def _audit_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
    if not inp.audit:
        return []
    blocks: list[Block] = [
        ("h2", "Shortcut audit"),
        (
            "p",
            (
                "How well one trivial property of the file separates bona fide from spoofed trials on each "
                "eval "
                "set (sdd.audit.shortcuts): single features (silences, duration, level, DC, spectral shape), "
                "each "
                "in its "
                "better direction (so an uninformative feature lands at 38-50%, not exactly 50%), and a "
                "logistic "
                "regression on MFCC statistics fitted on the training split. Published work reached 15% EER "
                "on "
                "ASVspoof 2019 LA from the leading silence alone (arXiv 2106.12914). A shortcut is flagged "
                "beside a "
                f"system when the audit flags it (under 40% pooled or 25% on one attack for a single "
                f"feature, under "
                f"30% pooled for the MFCC model) and its EER is below {inp.stats['shortcut_factor']:g}x the "
                "system's EER on the same trials."
            ),
        ),
    ]
    for s, audit in inp.audit.items():
        feats = {
            f: {"pooled": r["pooled"], "worst attack": min(r["per_attack"].values(), default=np.nan)}
            for f, r in audit["features"].items()
        }
        if audit.get("mfcc_lr"):
            r = audit["mfcc_lr"]
            feats["mfcc_lr"] = {
                "pooled": r["pooled"],
                "worst attack": min(r["per_attack"].values(), default=np.nan),
            }
        table = pd.DataFrame.from_dict(feats, orient="index").sort_values("pooled").map(lambda v: _pct(v, 1))
        table.index.name = "feature"
        flagged = [
            f"{a}: "
            + ", ".join(
                f"{f['feature']} on {f['subset']} ({_pct(f['eer'], 1)}%)" for f in metrics[a][s]["shortcuts"]
            )
            for a in _systems(metrics)
            if metrics[a].get(s, {}).get("shortcuts")
        ]
        blocks += [
            ("h3", f"{s}: EER (%) of each shortcut, pooled and on its easiest attack"),
            ("table", table),
            (
                "p",
                "Flagged beside: " + "; ".join(flagged)
                if flagged
                else "No shortcut comes within the flag level of any system on this eval set.",
            ),
        ]
    return blocks


def _det_blocks(inp: ReportInput, fig_dir: Path, out_dir: Path) -> list[Block]:
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
            _fig(
                fig_dir / name,
                out_dir,
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


def _attack_blocks(inp: ReportInput, metrics: dict, fig_dir: Path, out_dir: Path) -> list[Block]:
    blocks: list[Block] = []
    for s in inp.eval_sets:
        table = per_attack_table(metrics, s)
        if table.empty:
            continue
        name = f"per_attack_{s.replace(':', '__')}.png"
        figures.plot_per_attack(table, fig_dir / name, f"Per-attack EER (%), {s}", inp.seen_attacks)
        unseen = [a for a in table.columns if a not in inp.seen_attacks]
        shown = table.map(_pct)
        shown.columns = [a if a in inp.seen_attacks else f"{a} (unseen)" for a in table.columns]
        blocks += [
            ("h2", f"Per-attack EER (%), {s}"),
            ("table", shown),
            _fig(
                fig_dir / name,
                out_dir,
                (
                    f"EER (%) of each system (rows; seed means) on each attack of {s} (columns): all bona "
                    f"fide "
                    "trials against that attack's spoofs. Darker is lower (better). Attacks absent from the "
                    "training split are marked UNSEEN in red and framed"
                    + (f" ({', '.join(unseen)})" if unseen else " (none here)")
                    + "; the gap between seen and unseen columns shows how far a system generalises."
                ),
            ),
        ]
    return blocks


def _condition_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
    blocks: list[Block] = []
    for s in inp.eval_sets:
        for column, table in per_condition_tables(metrics, s).items():
            blocks += [
                ("h2", f"Per-condition EER (%), {s} (by {column})"),
                (
                    "p",
                    f"EER (%) of each system (rows; seed means) within each value of {s}'s `{column}` "
                    "column: its bona fide trials against its spoofs, so a condition that shifts every "
                    "score alike costs nothing here but does in the pooled EER (first column).",
                ),
                ("table", table.map(_pct)),
            ]
    return blocks


def _other_metrics_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
    other = {
        (a, s): {k: m[s][k] for k in OTHER_METRICS if k in m[s]}
        for a, m in _systems(metrics).items()
        for s in inp.eval_sets
        if s in m
    }
    other = {k: v for k, v in other.items() if v}
    if not other:
        return []
    df = pd.DataFrame.from_dict(other, orient="index").map(
        lambda v: f"{v:.4f}" if isinstance(v, float) else v
    )
    df.index = [f"{a} / {s}" for a, s in df.index]
    return [
        ("h2", "Other metrics (seed means)"),
        (
            "p",
            (
                "ASVspoof 5 minDCF; actDCF and Cllr on the raw scores and after a logistic calibration "
                "fitted on the "
                "training corpus's dev scores; min t-DCF (revised and legacy forms) where ASV scores exist."
            ),
        ),
        ("table", df),
    ]


def _models_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
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
            "trainable / total parameters": f"{first.get('trainable_parameters', 0):,} / "
            f"{first.get('total_parameters', 0):,}",
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
                "over seeds."
                + _scoring_only_note(inp)
            ),
        ),
        ("table", df),
    ]


def _scoring_only(inp: ReportInput) -> list[str]:
    return [a for a in inp.systems if inp.configs.get(a, {}).get("regime") == SCORING_ONLY_REGIME]


def _scoring_only_note(inp: ReportInput) -> str:
    """What the Models and EER sections say about scoring-only systems (published weights)."""
    names = _scoring_only(inp)
    if not names:
        return ""
    return (
        f" {', '.join(names)}: scoring-only (regime {SCORING_ONLY_REGIME}: published weights, scored as "
        f"they are): nothing was trained, so {NONE} marks what does not exist (epochs to best, train "
        "seconds are the seconds spent loading and hashing the weights), and with no training seed it "
        "has a single run: no spread over seeds."
    )


def _training_blocks(inp: ReportInput, fig_dir: Path, out_dir: Path) -> list[Block]:
    tele = {a: [r.telemetry for r in seeds.values()] for a, seeds in inp.systems.items()}
    eps = {a: [r.epochs for r in seeds.values()] for a, seeds in inp.systems.items()}
    figures.plot_training(tele, eps, fig_dir / "training.png")
    blocks: list[Block] = [
        ("h2", "Training"),
        _fig(
            fig_dir / "training.png",
            out_dir,
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
            _fig(
                fig_dir / "conflict.png",
                out_dir,
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


def _metadata_blocks(metadata: Mapping[str, Any], fig_dir: Path, out_dir: Path) -> list[Block]:
    if not metadata:
        return []
    skip = {"params_diff", "durations", "packages"}
    rows = {k: str(v) for k, v in metadata.items() if k not in skip}
    blocks: list[Block] = [
        ("h2", "Run metadata"),
        ("table", pd.DataFrame({"value": rows}).rename_axis("key")),
    ]
    diff = metadata.get("params_diff")
    if diff is not None:
        blocks.append(("h3", "Params that differ from the committed params.yaml"))
        blocks.append(
            (
                "table",
                pd.DataFrame(
                    {
                        "committed": {k: str(v[0]) for k, v in diff.items()},
                        "this run": {k: str(v[1]) for k, v in diff.items()},
                    }
                ).rename_axis("key"),
            )
            if diff
            else ("p", "None.")
        )
    if metadata.get("packages"):
        blocks += [
            ("h3", "Package versions"),
            ("table", pd.DataFrame({"version": metadata["packages"]}).rename_axis("package")),
        ]
    durations = metadata.get("durations")
    if durations:
        figures.plot_durations([(d["stage"], d["seconds"]) for d in durations], fig_dir / "durations.png")
        blocks += [
            ("h3", "Stage durations"),
            _fig(
                fig_dir / "durations.png",
                out_dir,
                (
                    "Wall-clock seconds of each pipeline stage that ran to produce this report (stages DVC "
                    "restored "
                    "from its cache did not run and are not listed)."
                ),
            ),
        ]
    elif durations is not None:
        blocks += [
            ("h3", "Stage durations"),
            ("p", "No stage ran besides the report: every other output came from DVC's cache."),
        ]
    return blocks


def write_report(
    inp: ReportInput,
    metrics: dict[str, Any],
    out_dir: Path,
    *,
    metadata: Mapping[str, Any] | None = None,
    sections: Sequence[Section] = (),
    extra_figures: Sequence[Figure] = (),
) -> list[Path]:
    """Render the figures, ``README.md`` and ``index.html`` of a comparative report under ``out_dir``.

    Args:
        inp: what the report shows (systems and seeds with their trials, audit, baseline, ...).
        metrics: :func:`sdd.report.stats.report_metrics` of ``inp``.
        metadata: run metadata (:func:`sdd.report.metadata.run_metadata`): a flat key -> value table plus
            optional ``params_diff``, ``packages`` and ``durations``.
        sections: extra sections (module docstring).
        extra_figures: already-written figures under ``out_dir`` (e.g. the augmentation examples).

    Returns:
        the files written (pages and figures).
    """
    fig_dir = out_dir / "figures"
    blocks: list[Block] = [("h1", inp.title)]
    if inp.intro:
        blocks.append(("p", inp.intro))
    if inp.reference in inp.systems and len(inp.systems) > 1:
        blocks += _summary_blocks(inp, metrics, fig_dir, out_dir)
    blocks += _eer_blocks(inp, metrics, fig_dir, out_dir)
    blocks += _audit_blocks(inp, metrics)
    blocks += _det_blocks(inp, fig_dir, out_dir)
    blocks += _attack_blocks(inp, metrics, fig_dir, out_dir)
    blocks += _condition_blocks(inp, metrics)
    blocks += _other_metrics_blocks(inp, metrics)
    blocks += _models_blocks(inp, metrics)
    blocks += _training_blocks(inp, fig_dir, out_dir)
    for section in sections:
        blocks += [("h2", section.title), *section.blocks]
    for fig in extra_figures:
        blocks.append(_fig(fig.path, out_dir, fig.caption))
    blocks += _metadata_blocks(metadata or {}, fig_dir, out_dir)
    figs = [Path(b[1].path) for b in blocks if b[0] == "fig"]
    # figures by path relative to the pages, so the folder opens from disk anywhere
    blocks = [
        (k, Figure(Path(os.path.relpath(v.path, out_dir)), v.caption)) if k == "fig" else (k, v)
        for k, v in blocks
    ]
    atomic.write_text(out_dir / "README.md", render_markdown(blocks))
    atomic.write_text(out_dir / "index.html", render_html(blocks, inp.title))
    return [out_dir / "README.md", out_dir / "index.html", *figs]
