"""The "Shortcut audit" section: how well trivial file properties separate the classes on each eval
set (:mod:`sdd.audit.shortcuts`), and which shortcuts are flagged beside which system.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdd.report.inputs import ReportInput
from sdd.report.render import Block
from sdd.report.sections.common import pct, systems

__all__ = ["audit_blocks"]


def audit_blocks(inp: ReportInput, metrics: dict) -> list[Block]:
    """The audit's tables per eval set and the flags beside each system (nothing without an audit)."""
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
                f"30% pooled for the MFCC model) and its EER is below {inp.stats.shortcut_factor:g}x the "
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
        table = pd.DataFrame.from_dict(feats, orient="index").sort_values("pooled").map(lambda v: pct(v, 1))
        table.index.name = "feature"
        flagged = [
            f"{a}: "
            + ", ".join(
                f"{f['feature']} on {f['subset']} ({pct(f['eer'], 1)}%)" for f in metrics[a][s]["shortcuts"]
            )
            for a in systems(metrics)
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
