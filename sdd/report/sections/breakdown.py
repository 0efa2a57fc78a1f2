"""The sections that break the EER down within an eval set: per attack (table and heat map, attacks
unseen in training marked) and per condition (one table per condition column of the manifest).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.report import figures
from sdd.report.inputs import ReportInput
from sdd.report.render import Block
from sdd.report.sections.common import fig, pct

__all__ = ["attack_blocks", "condition_blocks", "per_attack_table", "per_condition_tables"]


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


def attack_blocks(inp: ReportInput, metrics: dict, fig_dir: Path) -> list[Block]:
    """Per eval set with attacks: the per-attack table and heat map (``per_attack_<eval set>.png``)."""
    blocks: list[Block] = []
    for s in inp.eval_sets:
        table = per_attack_table(metrics, s)
        if table.empty:
            continue
        name = f"per_attack_{s.replace(':', '__')}.png"
        figures.plot_per_attack(table, fig_dir / name, f"Per-attack EER (%), {s}", inp.seen_attacks)
        unseen = [a for a in table.columns if a not in inp.seen_attacks]
        shown = table.map(pct)
        shown.columns = [a if a in inp.seen_attacks else f"{a} (unseen)" for a in table.columns]
        blocks += [
            ("h2", f"Per-attack EER (%), {s}"),
            ("table", shown),
            fig(
                fig_dir / name,
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


def condition_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
    """Per eval set and condition column: the per-condition table."""
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
                ("table", table.map(pct)),
            ]
    return blocks
