"""``dvc plots show`` draws every plot offline: the project's ``dvc.yaml``, ``params.yaml`` and
``.dvc/config`` in a temp DVC repo, a tiny run's files in the places its plots read (per-step telemetry,
per-epoch rows, the pretrain log, the PNG figures), the template of :mod:`sdd.report.plots_html`, and
the page opened in headless Chromium with no host name resolving. Every Vega plot must draw its line
from the file's own numbers (the loss and cos(g_clean, g_aug) curves the README promises among
them) and every figure must load. The control: DVC's own page (Vega from the CDN) draws none there.
Skipped where Chromium is not installed."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from sdd.report.browser import dump_dom, find_chromium
from sdd.report.plots_html import DEFAULT_PATH, write_template
from tests.helpers import REPO

pytestmark = [
    pytest.mark.slow,  # dvc twice, the template written, two Chromium page loads: about 40 s
    pytest.mark.skipif(
        find_chromium() is None,
        reason="Chromium is not installed: `apt-get install -y chromium` (Debian; .ci/run does this in CI)",
    ),
]

FIGURES = ("probe_layers", "probe_cumulative", "partial_curve", "attm_weights")


def _dvc(root, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def _tiny_run(root) -> dict[str, float]:
    """The files the plots read, for every arm and seed of params.yaml; returns each loss/cos CSV's
    first value by path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    first = {}
    for k, arm in enumerate(params["arms"]):
        for seed in params["seeds"]:
            rng = np.random.default_rng(100 * k + seed)
            steps = np.arange(30)
            tele = pd.DataFrame({"step": steps, "epoch": steps // 10,
                                 "loss": np.round(0.7 * np.exp(-steps / 20) + 0.05 * rng.random(30), 6),
                                 "cos": np.round(rng.uniform(-0.5, 1.0, 30), 6)})  # fmt: skip
            epochs = pd.DataFrame({"epoch": [0, 1, 2], "conflict_ratio": np.round(rng.random(3) / 2, 6)})
            for folder, table in (("telemetry", tele), ("epochs", epochs)):
                path = root / "reports" / folder / arm / f"s{seed}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                table.to_csv(path, index=False)
            first[f"reports/telemetry/{arm}/s{seed}.csv"] = (tele["loss"][0], tele["cos"][0])
    (root / "reports" / "pretrain").mkdir(parents=True)
    pd.DataFrame({"step": range(20), "loss": np.linspace(5, 3, 20)}).to_csv(
        root / "reports" / "pretrain" / "log.csv", index=False
    )
    (root / "reports" / "figures").mkdir()
    for name in FIGURES:
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot([0, 1], [0, 1])
        fig.savefig(root / "reports" / "figures" / f"{name}.png")
        plt.close(fig)
    return first


def _plots(dom: str) -> dict[str, list[str]]:
    """Each Vega plot's drawn line marks (their aria labels: the first point, ``step: 0; loss: 0.7;
    rev: workspace``), by the plot's element id."""
    found = {}
    parts = re.split(r'<div id="([^"]+)" class="vega-embed[^"]*">', dom)
    for pid, body in zip(parts[1::2], parts[2::2], strict=True):
        found[pid] = [
            html.unescape(label)
            for label, d in re.findall(
                r'<path aria-label="([^"]*)"[^>]*aria-roledescription="line mark" d="([^"]*)"', body
            )  # fmt: skip
            if d.count("L") >= 2
        ]
    return found


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("plots")
    assert _dvc(root, "init", "--no-scm").returncode == 0
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")
    first = _tiny_run(root)
    write_template(root / DEFAULT_PATH)
    return root, first


def test_dvc_plots_draw_every_plot_offline(repo):
    root, first = repo
    proc = _dvc(root, "plots", "show", "-o", "dvc_plots")  # the template from .dvc/config, nothing else
    assert proc.returncode == 0, proc.stderr
    page = (root / "dvc_plots" / "index.html").read_text()
    assert "cdn.jsdelivr" not in page and "vegaEmbed" in page
    dom = dump_dom((root / "dvc_plots" / "index.html").as_uri(), offline=True)
    plots = _plots(dom)
    assert len(plots) >= 2 * len(first) + 1, sorted(plots)  # loss + cos per arm/seed, the pretrain loss
    assert all(plots.values()), [p for p, lines in plots.items() if not lines]  # every plot drew a line
    labels = [label for lines in plots.values() for label in lines]
    for path, (loss, cos) in first.items():  # the curves hold the file's own numbers
        assert f"step: 0; loss: {loss:g}; rev: workspace" in labels, (path, labels[:5])
        assert f"step: 0; cos: {cos:g}; rev: workspace" in labels, (path, labels[:5])
    images = re.findall(r'<img src="(static/[^"]+)"', dom)  # DVC copies the figures there
    assert len(images) == len(FIGURES) and all((root / "dvc_plots" / src).is_file() for src in images), images


def test_dvc_default_page_draws_nothing_offline(repo):
    """The control: the same plots on DVC's own page (Vega from the CDN) draw no line offline."""
    from dvc_render.html import PAGE_HTML

    root, _ = repo
    default = root / "dvc_default.html"
    default.write_text(PAGE_HTML)
    proc = _dvc(root, "plots", "show", "--html-template", str(default), "-o", "dvc_plots_cdn")
    assert proc.returncode == 0, proc.stderr
    page = (root / "dvc_plots_cdn" / "index.html").read_text()
    assert "cdn.jsdelivr" in page
    dom = dump_dom((root / "dvc_plots_cdn" / "index.html").as_uri(), offline=True, budget_ms=10000)
    assert _plots(dom) == {} and "<path" not in dom
