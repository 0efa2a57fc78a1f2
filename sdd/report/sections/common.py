"""What several report sections share: the cell formats (percent, the EER cell, the mark for a
quantity that does not exist), the systems of a metrics dict (the hand-feature baseline left out), the
scoring-only systems, and the figure block.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sdd.core.sections import PUBLISHED_REGIME
from sdd.report.inputs import ReportInput
from sdd.report.render import Block, Figure
from sdd.report.stats import HAND

__all__ = [
    "FUSION_REGIME",
    "NONE",
    "SCORING_ONLY_REGIME",
    "eer_cell",
    "fig",
    "pct",
    "scoring_only",
    "systems",
]

#: A table cell for a quantity that does not exist for a system (null in metrics.json).
NONE = "—"
#: The regime of scoring-only systems.
SCORING_ONLY_REGIME = PUBLISHED_REGIME
#: The regime of the report's fused systems (``report.fusion``, :mod:`sdd.report.fusion`).
FUSION_REGIME = "fusion"


def pct(v: Any, digits: int = 2) -> str:
    """``v`` (a fraction) in percent with ``digits`` decimals; empty for None or a non-finite value."""
    return (
        "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{100 * float(v):.{digits}f}"
    )


def eer_cell(m: Mapping[str, Any]) -> str:
    """``mean ± std [lo, hi]`` in percent (``± std`` only with several seeds)."""
    text = pct(m.get("eer"))
    if m.get("eer_std") is not None:
        text += f" ± {pct(m['eer_std'])}"
    ci = m.get("eer_ci95")
    return text + (f" [{pct(ci[0])}, {pct(ci[1])}]" if ci else "")


def systems(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``metrics`` that are systems (the hand-feature baseline left out)."""
    return {k: v for k, v in metrics.items() if k != HAND}


def fig(path: Path, caption: str) -> Block:
    """A figure block: the PNG at ``path`` (already drawn) and its caption."""
    return "fig", Figure(path, caption)


def scoring_only(inp: ReportInput) -> list[str]:
    """The systems of ``inp`` that are scoring-only (published weights, never trained)."""
    return [a for a in inp.systems if inp.configs.get(a, {}).get("regime") == SCORING_ONLY_REGIME]
