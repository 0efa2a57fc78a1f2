"""The section "Is each system better than the reference?": the paired comparison of every system
with the reference arm on each eval set (EER difference, P(better), the Holm verdict, the minimum
detectable difference, shortcuts within 2x) as a table, a paragraph on reading the MDD, and the
figure of paired differences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.report import figures
from sdd.report.inputs import ReportInput
from sdd.report.render import Block
from sdd.report.sections.common import eer_cell, fig, pct, systems

__all__ = ["summary_blocks", "summary_table"]


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


def _shortcut_cell(found: Sequence[Mapping[str, Any]], show: int = 3) -> str:
    """The ``show`` lowest-EER shortcuts (EER %), then how many more (all are in the audit section)."""
    ranked = sorted(found, key=lambda f: (f["eer"], f["feature"], f["subset"]))
    text = "; ".join(f"{f['feature']} on {f['subset']}: {pct(f['eer'], 1)}" for f in ranked[:show])
    return text + (f"; +{len(ranked) - show} more (Shortcut audit)" if len(ranked) > show else "")


def summary_table(
    metrics: Mapping[str, Any], eval_sets: Sequence[str], reference: str | None
) -> pd.DataFrame:
    """One row per system and eval set: EER, the paired comparison with the reference and shortcuts."""
    rows = []
    power = _mdd_power(metrics)
    for system, entry in systems(metrics).items():
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


def summary_blocks(inp: ReportInput, metrics: dict, fig_dir: Path) -> list[Block]:
    """The comparison with the reference (only when it is a system among several); draws ``paired.png``."""
    ref, st = inp.reference, inp.stats
    blocks: list[Block] = [("h2", f"Is each system better than {ref}?")]
    blocks.append(
        (
            "p",
            (
                f"Each system is compared with {ref} on the same trials: a paired bootstrap of the EER "
                f"difference "
                f"(system minus {ref}, averaged over each system's seeds), {st.n_resamples} replicates "
                f"that "
                "resample whole speakers where the manifests name them (trials within each class otherwise). "
                "P(better) is the share of replicates in which the system's EER is lower. A difference "
                "counts "
                f"only when its Holm-corrected interval (family-wise level {st.alpha:g} over all "
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
        for a in systems(metrics)
        for s in inp.eval_sets
        if "vs_reference" in metrics[a].get(s, {})
    ]
    if rows:
        figures.plot_paired(rows, fig_dir / "paired.png", ref)
        blocks.append(
            fig(
                fig_dir / "paired.png",
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
    for entry in systems(metrics).values():
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
        for entry in systems(metrics).values()
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
