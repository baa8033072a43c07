"""Render the executed series to static HTML (``make html``), for reading without a kernel.

Usage: python -m scripts.render_html [--out build/html]

Each notebook in ``notebooks/`` runs top to bottom in a fresh kernel, as is (exercises stay
untouched stubs), with the widget state stored, so a slider demo shows its first picture on
the static page. nbconvert's HTML exporter writes one page per notebook; links between the
notebooks point at the HTML pages; ``index.html`` lists the series in reading order. Code that
JupyterLab shows folded (the solutions) is folded here too, behind a "show code" toggle.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "html"

#: Extends JupyterLab's nbconvert template: cells stored folded are folded on the page.
TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{% block input_group -%}
{%- if cell.metadata.get('jupyter', {}).get('source_hidden') -%}
<details class="folded-input"><summary>show code</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock input_group %}
"""

# href="02_linear_layer.ipynb" or href="02_linear_layer.ipynb#section" -> the HTML page.
NOTEBOOK_LINK = re.compile(r'href="(\d{2}_[a-z0-9_]+)\.ipynb(#[^"]*)?"')
SERIES_INDEX_LINK = re.compile(r'href="\.\./README\.md(#[^"]*)?"')


def rewrite_links(page: str) -> str:
    """Point links to sibling notebooks at their HTML pages, and the series index at index.html.

    >>> rewrite_links('<a href="02_x.ipynb">next</a> <a href="../README.md#the-notebooks">up</a>')
    '<a href="02_x.html">next</a> <a href="index.html">up</a>'
    """
    page = NOTEBOOK_LINK.sub(lambda m: f'href="{m[1]}.html{m[2] or ""}"', page)
    return SERIES_INDEX_LINK.sub('href="index.html"', page)


def index_page(entries: list[tuple[str, str]]) -> str:
    """The series' contents page: ``(html file name, title)`` in reading order.

    >>> "01 · A" in index_page([("01_a.html", "01 · A")])
    True
    """
    items = "\n".join(
        f'    <li><a href="{html.escape(href)}">{html.escape(title)}</a></li>'
        for href, title in entries
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>torch.nn.Linear, hands-on: the notebooks</title>
  <style>
    body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 3rem auto;
           padding: 0 1rem; line-height: 1.5; }}
    li {{ margin: 0.4rem 0; }}
  </style>
</head>
<body>
  <h1>torch.nn.Linear, hands-on</h1>
  <p>The executed notebooks of the series, in reading order. Open them in JupyterLab to run
  the code and drag the sliders; these pages show each run as it came out.</p>
  <ol>
{items}
  </ol>
</body>
</html>
"""


def render(out: Path, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Execute and export every notebook of the series to ``out``; return the pages written."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbformat import reads

    from scripts.series import execute_notebook, series

    # A learner's kernel draws with the inline backend; an inherited MPLBACKEND (e.g. Agg
    # from a test run) would silently drop every plot from the pages.
    os.environ.pop("MPLBACKEND", None)
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"series.html.j2": TEMPLATE})],
        template_file="series.html.j2",
    )
    out.mkdir(parents=True, exist_ok=True)
    written, entries = [], []
    for book in series(notebooks):
        start = time.perf_counter()
        executed, _seconds = execute_notebook(book.path, store_widget_state=True)
        body, _resources = exporter.from_notebook_node(
            reads(json.dumps(executed), as_version=4), resources={"metadata": {"name": book.title}}
        )
        page = out / book.path.with_suffix(".html").name
        page.write_text(rewrite_links(body), encoding="utf-8")
        written.append(page)
        entries.append((page.name, book.title))
        print(f"{page.relative_to(out)}  ({time.perf_counter() - start:.1f} s)")
    index = out / "index.html"
    index.write_text(index_page(entries), encoding="utf-8")
    written.append(index)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args()
    pages = render(args.out.resolve())
    print(f"wrote {len(pages)} pages to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
