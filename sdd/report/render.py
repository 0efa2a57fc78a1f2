"""The report's blocks and their two renderings, Markdown (``README.md``) and HTML (``index.html``).

The report is a list of blocks (headings, paragraphs, tables, figures with captions) rendered twice,
so both pages always say the same thing. The HTML is one file that opens from disk without a server
(figures by relative path); opened as ``index.html#selftest`` it appends a ``<pre id="sdd-selftest">``
with the number of images, those that did not load and any script or resource error, which the
browser test reads.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Block", "Figure", "Section", "render_html", "render_markdown"]

Block = tuple[str, Any]  # ("h1" | "h2" | "h3" | "p" | "table" | "fig", payload)


@dataclass(frozen=True)
class Figure:
    """A PNG under the report folder (absolute or current-directory-relative path) and its caption (what
    it shows and how to read it)."""

    path: Path
    caption: str


@dataclass(frozen=True)
class Section:
    """An extra report section (see :mod:`sdd.report.build`)."""

    title: str
    blocks: list[Block]


def render_markdown(blocks: list[Block]) -> str:
    """``README.md``: the blocks as Markdown (pipe tables; figures as images with italic captions)."""
    out = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(kind[1])} {payload}\n")
        elif kind == "p":
            out.append(f"{payload}\n")
        elif kind == "table":
            df = payload
            cols = [str(df.index.name or "")] + [str(c) for c in df.columns]
            lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += [
                "| " + " | ".join([str(i)] + [str(v) for v in r]) + " |"
                for i, r in zip(df.index, df.itertuples(index=False), strict=True)
            ]
            out.append("\n".join(lines) + "\n")
        elif kind == "fig":
            out.append(f"![{payload.path}]({payload.path})\n\n*{payload.caption}*\n")
    return "\n".join(out)


# Reports images that fail to load and script errors into the page when opened as index.html#selftest
# (the headless-browser test reads it with --dump-dom); registered in <head>, before any image loads.
SELFTEST_JS = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target || {};
    errors.push((e.message || e.type) + (t.src ? ' ' + t.src : ''));
  }, true);
  window.addEventListener('load', function () {
    if (location.hash !== '#selftest') return;
    var imgs = Array.prototype.slice.call(document.images);
    var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
    var out = document.createElement('pre');
    out.id = 'sdd-selftest';
    out.textContent = JSON.stringify({images: imgs.length,
      widths: imgs.map(function (i) { return i.naturalWidth; }),
      broken: broken.map(function (i) { return i.getAttribute('src'); }), errors: errors});
    document.body.appendChild(out);
  });
})();
"""

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}"
    "table.t{border-collapse:collapse;margin:1em 0;font-size:14px}table.t td,table.t th{border:1px solid "
    "#ccc;"
    "padding:3px 8px;text-align:right}table.t th{background:#f3f3f3}figure{margin:1.2em 0}"
    "figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:14px;color:#444;max-width:60em}"
    "h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}"
)


def render_html(blocks: list[Block], title: str) -> str:
    """``index.html``: the blocks as one self-contained page (style and self-test script inline)."""
    body = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{html.escape(str(payload))}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(str(payload))}</p>")
        elif kind == "table":
            named = payload.index.name is not None  # the index becomes a headed first column
            table = payload.reset_index() if named else payload
            body.append(table.to_html(escape=True, border=0, classes="t", index=not named))
        elif kind == "fig":
            src = html.escape(str(payload.path))
            body.append(
                f'<figure><img src="{src}" alt="{src}"><figcaption>{html.escape(payload.caption)}'
                "</figcaption></figure>"
            )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style><script>{SELFTEST_JS}</script></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
