#!/usr/bin/env python3
"""A job summary as GitHub shows it: its Markdown as an HTML page, its Mermaid blocks drawn by the real
mermaid in GitHub's light or dark theme, and a screenshot of it.

    .venv/bin/python tools/mermaid/summary_page.py [SUMMARY.md] [--theme light|dark] [--png FILE]
                                                  [--html FILE] [--width N] [--version 11.12]

The Markdown becomes HTML with markdown-it-py (CommonMark with GFM tables and strikethrough, raw
HTML kept, as GitHub keeps ``<details>``); each ``mermaid`` block becomes a chart the page draws
with the mermaid bundle of tools/mermaid (``make deps`` installs it) in the theme GitHub picks for
the page: ``default`` on white, ``dark`` on ``#0d1117``. ``screenshot.mjs`` beside this file loads
the page in Debian's chromium and takes the screenshots. The README's picture of the summary is

    make demo && .venv/bin/python tools/mermaid/summary_page.py demo-out/job-summary.md \\
        --png docs/images/job-summary.png

(Debian's fonts-noto-color-emoji draws the status icons; without it they are empty boxes.) Without
``--png`` the page is written beside the summary (or to ``--html``) to open in a browser.

tests/action/test_summary_screenshot.py uses the same page to check that every chart's lines and
bars stand out from the background in both themes.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

HERE = Path(__file__).resolve().parent
SCREENSHOT = HERE / "screenshot.mjs"
DEFAULT_VERSION = "11.12"
# The width of the summary's column on github.com (a job's summary page at a 1280 px window).
DEFAULT_WIDTH = 1012


@dataclass(frozen=True)
class Theme:
    name: str
    mermaid_theme: str
    background: str  # the page behind the charts
    text: str
    muted: str
    border: str
    code_background: str
    link: str


# GitHub's own page colours (Primer's light and dark defaults).
THEMES: dict[str, Theme] = {
    "light": Theme("light", "default", "#ffffff", "#1f2328", "#59636e", "#d1d9e0", "#eff1f3", "#0969da"),
    "dark": Theme("dark", "dark", "#0d1117", "#f0f6fc", "#9198a1", "#3d444d", "#262c36", "#4493f8"),
}


def mermaid_bundle(version: str = DEFAULT_VERSION) -> Path:
    """The mermaid bundle that mermaid-cli's ``mmdc-<version>`` loads (its ``overrides`` pin in
    package.json); 10.9 is the top-level one."""
    for folder in (
        HERE / "node_modules" / f"mmdc-{version}" / "node_modules" / "mermaid",
        HERE / "node_modules" / "mermaid",
    ):
        manifest = folder / "package.json"
        if manifest.is_file() and json.loads(manifest.read_text())["version"].startswith(version + "."):
            return folder / "dist" / "mermaid.min.js"
    raise FileNotFoundError(f"no mermaid {version} under {HERE / 'node_modules'} (make deps installs it)")


def _fence(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    if token.info.strip() == "mermaid":
        # The page's script reads the text back (textContent) and puts the chart in its place.
        return f'<pre class="mermaid">{html.escape(token.content)}</pre>\n'
    return renderer.fence(tokens, idx, options, env)


def markdown_html(markdown: str) -> str:
    """GitHub-flavoured Markdown as HTML, each ``mermaid`` block a ``<pre class="mermaid">``."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.add_render_rule("fence", _fence)
    return str(md.render(markdown))


_STYLE = """
body { margin: 0; background: {background}; color: {text};
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
    sans-serif, "Apple Color Emoji", "Segoe UI Emoji"; }
.markdown-body { box-sizing: border-box; width: {width}px; padding: 16px 24px; }
h2 { font-size: 1.5em; font-weight: 600; padding-bottom: .3em; border-bottom: 1px solid {border};
  margin: 8px 0 16px; }
h3 { font-size: 1.25em; font-weight: 600; margin: 24px 0 16px; }
p, table, details, ul, blockquote, .chart { margin: 0 0 16px; }
a { color: {link}; }
code { font: 85% ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono",
  monospace; background: {code_background}; padding: .2em .4em; border-radius: 6px; }
table { border-collapse: collapse; display: block; max-width: 100%; overflow: auto; }
th, td { border: 1px solid {border}; padding: 6px 13px; }
th { font-weight: 600; }
blockquote { color: {muted}; border-left: .25em solid {border}; padding: 0 1em; margin-left: 0; }
summary { cursor: pointer; }
.chart { display: flex; justify-content: center; }
.chart svg { max-width: 100%; height: auto; }
"""

_SCRIPT = """
window.renderErrors = []
window.addEventListener('load', async () => {
  try {
    mermaid.initialize({ startOnLoad: false, theme: THEME })
    let n = 0
    for (const block of Array.from(document.querySelectorAll('pre.mermaid'))) {
      const chart = document.createElement('div')
      chart.className = 'chart'
      try {
        const { svg } = await mermaid.render('chart' + ++n, block.textContent)
        chart.innerHTML = svg
      } catch (error) {
        window.renderErrors.push(String(error && error.message ? error.message : error))
        chart.textContent = 'mermaid error'
      }
      block.replaceWith(chart)
    }
  } catch (error) {
    window.renderErrors.push(String(error))
  }
  window.renderDone = true
})
"""


def page_html(
    markdown: str, theme: str = "light", version: str = DEFAULT_VERSION, width: int = DEFAULT_WIDTH
) -> str:
    """The whole page: the summary's HTML, GitHub's colours, and the script that draws its charts."""
    colours = THEMES[theme]
    style = _STYLE.replace("{width}", str(width))
    for key, value in vars(colours).items():
        style = style.replace("{" + key + "}", value)
    script = _SCRIPT.replace("THEME", json.dumps(colours.mermaid_theme))
    return "\n".join(
        [
            "<!doctype html>",
            f'<html lang="en" data-color-mode="{colours.name}">',
            '<head><meta charset="utf-8"><title>job summary</title>',
            f"<style>{style}</style>",
            f'<script src="{mermaid_bundle(version).as_uri()}"></script>',
            f"<script>{script}</script>",
            "</head>",
            f'<body><article class="markdown-body">\n{markdown_html(markdown)}</article></body>',
            "</html>",
        ]
    )


def screenshot(args: list[str], timeout: float = 300) -> dict[str, Any]:
    """Runs screenshot.mjs with ``args``; its JSON report."""
    proc = subprocess.run(
        ["node", str(SCREENSHOT), *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"screenshot.mjs failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("summary", nargs="?", default="demo-out/job-summary.md", type=Path)
    parser.add_argument("--theme", choices=sorted(THEMES), default="light")
    parser.add_argument("--png", type=Path, help="write a screenshot of the whole page here")
    parser.add_argument("--html", type=Path, help="keep the page here (it loads mermaid from node_modules)")
    parser.add_argument("--width", type=int, default=DEFAULT_WIDTH)
    parser.add_argument("--version", default=DEFAULT_VERSION, help="mermaid version (10.9, 11.4, 11.12)")
    options = parser.parse_args(argv)
    if not options.summary.is_file():
        parser.error(f"{options.summary} does not exist (make demo writes demo-out/job-summary.md)")
    page = page_html(
        options.summary.read_text(encoding="utf-8"), options.theme, options.version, options.width
    )
    if options.png is None:
        html_file = options.html or options.summary.with_suffix(f".{options.theme}.html")
        html_file.write_text(page, encoding="utf-8")
        print(html_file)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        html_file = options.html or Path(scratch) / "summary.html"
        html_file.write_text(page, encoding="utf-8")
        options.png.parent.mkdir(parents=True, exist_ok=True)
        report = screenshot(
            ["--page", str(html_file), "--full", str(options.png), "--width", str(options.width)]
        )
    errors = report["pages"][0]["errors"]
    for error in errors:
        print(f"mermaid: {error}", file=sys.stderr)
    print(f"{options.png}: {os.path.getsize(options.png)} bytes, {len(report['pages'][0]['charts'])} charts")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
