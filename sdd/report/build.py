"""The comparative report's assembly: :func:`write_report` puts the sections in page order, writes
``README.md`` and ``index.html`` (:mod:`sdd.report.render`) and returns the files written, figures
included (the sections draw their figures, :mod:`sdd.report.sections`), from a
:class:`~sdd.report.inputs.ReportInput` and its :func:`~sdd.report.stats.report_metrics`.

Every figure has a caption that says what it shows and how to read it.

**Extra sections** (the hook for other modules, e.g. probing figures): pass
``sections=[Section(title, blocks)]`` to :func:`write_report`, where ``blocks`` uses the same block
kinds (``("p", text)``, ``("table", DataFrame)``, ``("fig", Figure(path, caption))``, ...) and figure
paths (absolute, or relative to the current directory) lie under the report folder. They are
rendered after the training section, in order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sdd.core import atomic
from sdd.report.inputs import ReportInput
from sdd.report.render import Block, Figure, Section, render_html, render_markdown
from sdd.report.sections import audit, breakdown, comparison, eer, run_metadata, training
from sdd.report.sections.common import fig

__all__ = ["write_report"]


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
        blocks += comparison.summary_blocks(inp, metrics, fig_dir)
    blocks += eer.eer_blocks(inp, metrics, fig_dir)
    blocks += audit.audit_blocks(inp, metrics)
    blocks += eer.det_blocks(inp, fig_dir)
    blocks += breakdown.attack_blocks(inp, metrics, fig_dir)
    blocks += breakdown.condition_blocks(inp, metrics)
    blocks += eer.other_metrics_blocks(inp, metrics)
    blocks += training.models_blocks(inp, metrics)
    blocks += training.training_blocks(inp, fig_dir)
    for section in sections:
        blocks += [("h2", section.title), *section.blocks]
    for f in extra_figures:
        blocks.append(fig(f.path, f.caption))
    blocks += run_metadata.metadata_blocks(metadata or {}, fig_dir)
    figs = [Path(b[1].path) for b in blocks if b[0] == "fig"]
    # figures by path relative to the pages, so the folder opens from disk anywhere
    blocks = [
        (k, Figure(Path(os.path.relpath(v.path, out_dir)), v.caption)) if k == "fig" else (k, v)
        for k, v in blocks
    ]
    atomic.write_text(out_dir / "README.md", render_markdown(blocks))
    atomic.write_text(out_dir / "index.html", render_html(blocks, inp.title))
    return [out_dir / "README.md", out_dir / "index.html", *figs]
