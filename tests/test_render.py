"""``make html`` works: every notebook becomes a page with its plots and its widgets' pictures.

The render runs once per test session, as ``make html`` runs it (a separate process), into a
temporary folder; the checks then read the pages and the notebooks executed for them.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.series import series

ROOT = Path(__file__).resolve().parent.parent
WIDGET_STATE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S
)
WIDGET_VIEW = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run(
        [sys.executable, "-m", "scripts.render_html", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"render failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_one_page_per_notebook_and_an_index(rendered: Path):
    books = series(ROOT / "notebooks")
    expected = {book.path.with_suffix(".html").name for book in books} | {"index.html"}
    assert {p.name for p in rendered.iterdir()} == expected

    index = (rendered / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', index)
    assert links == [
        (book.path.with_suffix(".html").name, html.escape(book.title)) for book in books
    ], "index.html must list every notebook, in reading order, by its title"


def _widget_state(page: str) -> dict:
    found = WIDGET_STATE.findall(page)
    assert len(found) == 1, f"expected one widget-state block, found {len(found)}"
    return json.loads(found[0])["state"]  # JSON with "/" escaped, no HTML escaping


def test_page(notebook_path: Path, rendered: Path):
    page = (rendered / notebook_path.with_suffix(".html").name).read_text(encoding="utf-8")
    name = notebook_path.name

    # The page is the executed notebook: no errors, nothing on stderr, at least one picture.
    assert "jp-RenderedText" in page, f"{name}: no outputs on the page"
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page, (
        f"{name}: an error or stderr output made it onto the page"
    )
    assert re.search(r'src="data:image/png;base64,', page), f"{name}: no embedded image"

    # Links between notebooks lead to the other pages, never to .ipynb files or README.md.
    assert not re.search(r'href="[^"]*\.ipynb', page), f"{name}: a link still points at .ipynb"
    assert 'href="../README.md' not in page, f"{name}: the series-index link was not rewritten"

    # Every widget shown on the page has its state stored; every image widget holds a PNG.
    views = [json.loads(v) for v in WIDGET_VIEW.findall(page)]
    source = notebook_path.read_text(encoding="utf-8")
    if "build_demo(" in source:
        assert views, f"{name}: builds a demo but the page shows no widget"
    if not views:
        return
    state = _widget_state(page)
    for view in views:
        assert view["model_id"] in state, f"{name}: widget {view['model_id']} has no state"
    images = [m for m in state.values() if m["model_name"] == "ImageModel"]
    assert images, f"{name}: widgets on the page but no image widget in their state"
    for model in images:
        buffers = {tuple(b["path"]): b for b in model.get("buffers", [])}
        assert ("value",) in buffers, f"{name}: an image widget was stored without its picture"
        assert base64.b64decode(buffers[("value",)]["data"]).startswith(PNG_MAGIC)
