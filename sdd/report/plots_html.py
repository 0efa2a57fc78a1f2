"""The HTML template that makes ``dvc plots show`` work offline.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so without a network only the PNG
figures appear. This template carries the three libraries inline (one bundle, from the
``vl-convert-python`` package, docs/dependencies.md) and leaves out DVC's ``{scripts}`` placeholder, the
CDN tags. ``.dvc/config`` names it (``plots.html_template = ../.sdd/dvc_plots.html``), so a plain
``dvc plots show`` uses it; every make target writes it with the environment (``make setup``):

    python -m sdd.report.plots_html .sdd/dvc_plots.html
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sdd.core.atomic import write_text

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_PATH", "VEGALITE_VERSION", "template_html", "write_template"]

#: Where ``.dvc/config``'s ``plots.html_template`` points (relative to the repo root; ``.sdd/`` is
#: git-ignored local state).
DEFAULT_PATH = Path(".sdd/dvc_plots.html")
#: DVC's plot templates are Vega-Lite 5 specs (``$schema`` .../vega-lite/v5.json).
VEGALITE_VERSION = "5.21"

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot (offline: Vega {vega}, Vega-Lite {vegalite}, Vega-Embed {embed} inline)</title>
    <script type="text/javascript">
BUNDLE
    </script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def template_html() -> str:
    """The template: DVC's default page with the Vega libraries inline instead of the CDN tags."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=VEGALITE_VERSION)
    if "</script" in bundle.lower():  # would end the inline <script> early
        raise RuntimeError(
            f"vl-convert-python {vl_convert.__version__}: its JavaScript bundle contains '</script'; "
            "it cannot be inlined"
        )
    for placeholder in ("{plot_divs}", "{scripts}", "{refresh_tag}"):  # DVC replaces them anywhere
        if placeholder in bundle:
            raise RuntimeError(f"the Vega bundle contains DVC's template placeholder {placeholder}")
    return (
        PAGE.replace("{vega}", vl_convert.get_vega_version())
        .replace("{vegalite}", VEGALITE_VERSION)
        .replace("{embed}", vl_convert.get_vega_embed_version())
        .replace("BUNDLE", bundle)
    )


def write_template(path: Path = DEFAULT_PATH) -> Path:
    """Write :func:`template_html` to ``path`` (temp file, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, template_html())
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sdd.report.plots_html", description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path, nargs="?", default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}")
    args = ap.parse_args(argv)
    print(f"wrote {write_template(args.path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
