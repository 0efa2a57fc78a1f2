"""The "Run metadata" section: the run's key/value table, the params that differ from the committed
``params.yaml``, package versions and the stage durations figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sdd.report import figures
from sdd.report.render import Block
from sdd.report.sections.common import fig

__all__ = ["metadata_blocks"]


def metadata_blocks(metadata: Mapping[str, Any], fig_dir: Path) -> list[Block]:
    """The run metadata (nothing without it); draws ``durations.png`` when stages ran."""
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
            fig(
                fig_dir / "durations.png",
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
