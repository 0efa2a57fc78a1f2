"""The report renders in headless Chromium: every image loads, no script or console error, and a
screenshot is written. Skipped where Chromium is not installed (.ci/run installs Debian's package)."""

from __future__ import annotations

import pytest

from sdd.report.browser import find_chromium, screenshot, selftest
from sdd.report.build import write_report
from sdd.report.stats import report_metrics
from tests.helpers.report import make_input

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="Chromium is not installed: `apt-get install -y chromium` (Debian; .ci/run does this in CI)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    inp = make_input({"main": 1.0, "better": 2.5, "aligned": 1.2}, seeds=(0, 1))
    meta = {
        "git_commit": "0" * 40,
        "params_diff": {"seeds": [[0], [0, 1]]},
        "durations": [{"stage": "train@main-0", "seconds": 3.0}],
    }
    write_report(inp, report_metrics(inp), out, metadata=meta)
    return out / "index.html"


def test_report_loads_every_image_without_errors(report):
    record = selftest(report)
    assert record["images"] >= 7 and all(w > 0 for w in record["widths"]), record
    assert record["broken"] == [] and record["errors"] == [], record
    assert record["console"] == [], record["console"]


def test_selftest_catches_a_broken_image_and_a_script_error(report):
    page = report.with_name("broken.html")  # beside the report, so its own figures still load
    page.write_text(
        report.read_text().replace(
            "</body>", '<img src="figures/missing.png"><script>undefinedFunction();</script></body>'
        )
    )
    record = selftest(page)
    assert record["broken"] == ["figures/missing.png"]
    assert any("undefinedFunction" in e for e in record["errors"]) and record["console"]


def test_screenshot_is_written(report, tmp_path):
    png = screenshot(report, tmp_path / "report.png", height=1600)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
