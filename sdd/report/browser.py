"""Open a report in headless Chromium: check it (every image loaded, no script or console error) and
take a screenshot. Used by the report's browser test and to make the README's screenshot:

    python -m sdd.report.browser reports/index.html docs/report.png [--width 1280 --height 2400]

No driver is needed: the report's own self-test script (:data:`sdd.report.render.SELFTEST_JS`) writes
what it found into the page when opened as ``index.html#selftest``, and ``chromium --dump-dom`` prints
the page after its scripts ran; Chromium's console messages go to stderr with ``--enable-logging``.
Debian's package is ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["dump_dom", "find_chromium", "screenshot", "selftest"]

# The flags a sandboxed machine without network needs (no background connections, no GPU, root).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """The Chromium executable on PATH (``chromium``, ``chromium-browser``, ``google-chrome``), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("Chromium is not installed (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )


def selftest(html: Path, timeout_s: float = 120.0) -> dict[str, Any]:
    """Load ``html`` and return ``{"images", "widths", "broken", "errors", "console"}``: the page's own
    self-test record plus the console messages Chromium logged."""
    proc = _run(
        [
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{Path(html).resolve().as_uri()}#selftest",
        ],
        timeout_s,
    )
    found = re.search(r'<pre id="sdd-selftest">(.*?)</pre>', proc.stdout, re.S)
    if found is None:
        raise RuntimeError(
            f"{html}: no self-test record in the page (exit {proc.returncode}); stderr tail:\n"
            + proc.stderr[-2000:]
        )
    import html as html_lib

    record = json.loads(html_lib.unescape(found.group(1)))
    record["console"] = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return record


#: Chromium resolves no host name: a page that needs a CDN finds none, even on a machine with a network.
NO_HOSTS = "--host-resolver-rules=MAP * ~NOTFOUND"


def dump_dom(
    url: str, budget_ms: int = 30000, timeout_s: float = 120.0, width: int = 1600, offline: bool = False
) -> str:
    """The page at ``url`` (a file or an ``http://`` address) after its scripts ran, for up to
    ``budget_ms`` of Chromium's virtual time (which waits for pending requests), as HTML.
    ``offline``: no host name resolves (:data:`NO_HOSTS`; numeric addresses still connect)."""
    args = [f"--window-size={width},1000", f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
    proc = _run([NO_HOSTS, *args] if offline else args, timeout_s)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(
            f"{url}: Chromium printed no page (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return proc.stdout


def screenshot(
    html: Path, png: Path, width: int = 1280, height: int = 2400, timeout_s: float = 120.0
) -> Path:
    """Write a PNG of the top ``width`` x ``height`` pixels of the page."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    proc = _run(
        [
            f"--window-size={width},{height}",
            "--virtual-time-budget=10000",
            f"--screenshot={png}",
            Path(html).resolve().as_uri(),
        ],
        timeout_s,
    )
    if not png.is_file():
        raise RuntimeError(
            f"{html}: Chromium wrote no screenshot (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sdd.report.browser", description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path, help="the report's index.html")
    ap.add_argument("png", type=Path, help="screenshot to write")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args(argv)
    record = selftest(args.html)
    print(json.dumps({k: record[k] for k in ("images", "broken", "errors", "console")}))
    screenshot(args.html, args.png, args.width, args.height)
    print(f"wrote {args.png}")
    return 0 if not (record["broken"] or record["errors"] or record["console"]) else 1


if __name__ == "__main__":
    sys.exit(main())
