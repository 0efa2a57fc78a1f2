"""The MLflow runs table, as `make mlflow-ui` serves it, opens on the EERs: a tiny store filled through
:mod:`sdd.report.tracking` (two arms, train + evaluate + report's saved view), ``mlflow ui`` on a free
localhost port, and the address :func:`~sdd.report.tracking.ui_url` prints loaded in headless Chromium.
Its runs table shows the eval EER (sorted), its interval, the dev EER, the arm and the seed; the same
page without the saved view shows no metric column (MLflow 3.17's own default), so the view is what
makes them visible. Skipped where Chromium is not installed."""

from __future__ import annotations

import html
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from sdd.report.browser import dump_dom, find_chromium

pytestmark = [
    pytest.mark.slow,  # an MLflow server and two Chromium page loads: about 30 s
    pytest.mark.skipif(
        find_chromium() is None,
        reason="Chromium is not installed: `apt-get install -y chromium` (Debian; .ci/run does this in CI)",
    ),
]

RUNS = {("main", 0): (0.11, 0.05), ("clean", 0): (0.13, 0.07)}  # (eval EER, dev EER)


def _fill_store(monkeypatch, root) -> str:
    from sdd.report import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.setenv("SDD_ROOT", str(root))
    monkeypatch.setenv("DVC_EXP_NAME", "exp-ui")
    for (arm, seed), (eer, dev_eer) in RUNS.items():
        config = {"name": arm, "seed": seed, "regime": "dual_path", "align": "none", "train": {"lr": 0.001}}
        with tracking.arm_run("train", config) as run:
            for epoch in range(2):
                run.log_epoch({"epoch": epoch, "dev_loss": 0.5 - 0.1 * epoch, "seconds": 10.0 * (epoch + 1)})
            run.log_metrics({"train": {"final_dev_eer": dev_eer, "seconds": 20.0}})
        with tracking.arm_run("evaluate", config) as run:
            run.log_metrics({"demo:eval": {"eer": eer, "eer_ci95": [eer - 0.02, eer + 0.02]}})
    with tracking.pipeline_run() as parent:
        tracking.save_runs_view(parent, "sdd", ["demo:eval"])
    return tracking.ui_url(0)  # the port is filled in below


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_ui(tmp_path, monkeypatch):
    """``(url, port)``: ``mlflow ui`` (the Makefile's command) over a filled store."""
    url = _fill_store(monkeypatch, tmp_path)
    port = _free_port()
    cmd = [sys.executable, "-m", "mlflow", "ui", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
           "--default-artifact-root", str(tmp_path / "mlartifacts")]  # fmt: skip
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.time() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
                    last = f"/health answered {r.status}"
            except OSError as exc:  # not listening yet: try again until the deadline
                last = f"/health: {exc}"
            assert time.time() < deadline, (
                f"mlflow ui not up after 90 s ({last}): " + (tmp_path / "server.log").read_text()
            )
            time.sleep(0.5)
        yield url.replace("127.0.0.1:0/", f"127.0.0.1:{port}/"), port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _columns(dom: str) -> dict[str, list[str]]:
    """The runs table's visible cells per column id (``metrics.`demo/eval.eer```), in row order."""
    cells: dict[str, list[str]] = {}
    for m in re.finditer(r'<div[^>]*role="gridcell"[^>]*col-id="([^"]+)"[^>]*>(.*?)</div>', dom):
        cells.setdefault(html.unescape(m.group(1)), []).append(re.sub(r"<[^>]+>", "", m.group(2)).strip())
    headers = {html.unescape(h) for h in re.findall(r'role="columnheader"[^>]*col-id="([^"]+)"', dom)}
    return {k: v for k, v in cells.items() if k in headers}


def test_runs_table_opens_on_eer_arm_and_seed(mlflow_ui):
    url, port = mlflow_ui
    assert "viewStateShareKey=sdd" in url, url
    cols = _columns(dump_dom(url))
    assert cols.get("metrics.`demo/eval.eer`") == ["0.11", "0.13"], cols  # sorted by the eval EER
    assert cols["metrics.`train.final_dev_eer`"] == ["0.05", "0.07"]
    assert cols["metrics.`demo/eval.eer_ci95_low`"] == ["0.09", "0.11"]
    assert cols["tags.`sdd.arm`"] == ["main", "clean"] and cols["tags.`sdd.seed`"] == ["0", "0"]
    assert cols["params.`align`"] == ["false", "false"]

    # the control: the same runs page without the saved view has no metric column at all
    plain = _columns(dump_dom(url.replace("viewStateShareKey=sdd&", "")))
    assert plain and not [k for k in plain if k.startswith("metrics.")], plain
