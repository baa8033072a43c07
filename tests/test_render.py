"""``make html`` works: every notebook becomes a page with its plots and its widgets' pictures.

The site is built once per test session (the ``built_site`` fixture in conftest.py, a process
of its own, as ``make html`` runs it); the checks here read its files. ``test_site_offline.py``
opens the same pages in Chromium with the network blocked.
"""

from __future__ import annotations

import base64
import filecmp
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scripts.render_html import BINDER, WORDS, page_name
from scripts.series import EDITIONS, NAV_WORDS, START_PAGE, edition_of, series

ROOT = Path(__file__).resolve().parent.parent
WIDGET_STATE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S
)
WIDGET_VIEW = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Links(HTMLParser):
    """Every ``<a>`` of a page: its attributes, its text, and whether it is in the sidebar."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict] = []
        self._in_sidebar = False
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and "series-sidebar" in (attrs.get("class") or ""):
            self._in_sidebar = True
        if tag == "a":
            self._open = {**attrs, "text": "", "sidebar": self._in_sidebar}
            self.links.append(self._open)

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_sidebar = False
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


def links(page: Path) -> list[dict]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


#: Where each edition's pages are: English at the site's root, Chinese in ``zh/``.
SITE_FOLDER = {"en": ".", "zh": "zh"}


def page_of(site: Path, notebook: Path) -> Path:
    """The built page of ``notebook`` (either edition)."""
    return site / SITE_FOLDER[edition_of(notebook.parent)] / page_name(notebook.name)


@pytest.mark.parametrize("edition", EDITIONS)
def test_one_page_per_notebook_and_an_index(built_site: Path, edition: str):
    books = series(EDITIONS[edition])
    site = built_site / SITE_FOLDER[edition]
    pages = {page_name(book.path.name) for book in books} | {"index.html", "notebooks"}
    shared = {"_static", "zh"} if edition == "en" else set()
    assert {p.name for p in site.iterdir()} == pages | shared
    assert {p.name for p in (site / "notebooks").iterdir()} == {
        START_PAGE,
        *(book.path.name for book in books),
    }, "every page offers its notebook for download"


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_page_has_the_reading_order(built_site: Path, edition: str):
    books = series(EDITIONS[edition])
    expected = [("index.html", WORDS[edition]["start"])] + [
        (page_name(book.path.name), book.title) for book in books
    ]
    for page in (built_site / SITE_FOLDER[edition]).glob("*.html"):
        sidebar = [a for a in links(page) if a["sidebar"]][1:]  # after the site's title
        assert [(a["href"], a["text"]) for a in sidebar] == expected, (
            f"{page.name}: the sidebar must list the series in reading order"
        )
        current = [a["href"] for a in sidebar if a.get("aria-current") == "page"]
        assert current == [page.name], f"{page.name}: the sidebar marks {current}"


@pytest.mark.parametrize("edition", EDITIONS)
def test_index_is_the_start_page(built_site: Path, edition: str):
    index = built_site / SITE_FOLDER[edition] / "index.html"
    in_page = {a["href"] for a in links(index) if not a["sidebar"]}
    for book in series(EDITIONS[edition]):
        assert page_name(book.path.name) in in_page, f"the series map misses {book.title}"


def test_pages_load_nothing_from_the_network(built_site: Path):
    pages = [*built_site.glob("*.html"), *built_site.glob("zh/*.html")]
    assert len(pages) == sum(len(series(folder)) + 1 for folder in EDITIONS.values())
    for page in pages:
        text = page.read_text(encoding="utf-8")
        sources = re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]*)"', text)
        remote = [s for s in sources if re.match(r"(https?:)?//", s)]
        assert not remote, f"{page.name} loads from the network: {remote}"
        for local in sources:
            if not local.startswith("data:"):
                assert (page.parent / local).is_file(), f"{page}: {local} is not in the site"


def test_page_links_to_its_notebook_binder_and_other_edition(built_site: Path, notebook_path: Path):
    name, page = notebook_path.name, page_of(built_site, notebook_path)
    found = {a["href"]: a for a in links(page)}
    assert "download" in found[f"notebooks/{name}"], f"{name}: no download link"
    assert filecmp.cmp(page.parent / "notebooks" / name, notebook_path, shallow=False)
    in_repo = notebook_path.relative_to(ROOT).as_posix()
    assert f"{BINDER}?urlpath=lab/tree/{in_repo}" in found, f"{name}: no Binder link"
    switch = [a for a in links(page) if a.get("class") == "language-switch"]
    assert len(switch) == 1, f"{page}: one link to the other edition"
    other = (page.parent / switch[0]["href"]).resolve()
    assert other.is_file() and other.name == page.name and other.parent != page.parent


@pytest.mark.parametrize(("readme", "folder"), [("README.md", ""), ("README.zh-CN.md", "zh/")])
def test_readme_binder_link_opens_its_editions_start_page(readme: str, folder: str):
    text = (ROOT / readme).read_text(encoding="utf-8")
    assert f"({BINDER}?urlpath=lab/tree/notebooks/{folder}{START_PAGE})" in text, (
        f"{readme}'s Binder badge and the site's Binder links must name the same repository "
        "and open that edition's start page"
    )


def _widget_state(page: str) -> dict:
    found = WIDGET_STATE.findall(page)
    assert len(found) == 1, f"expected one widget-state block, found {len(found)}"
    return json.loads(found[0])["state"]  # JSON with "/" escaped, no HTML escaping


def test_page(notebook_path: Path, built_site: Path):
    page = page_of(built_site, notebook_path).read_text(encoding="utf-8")
    name = notebook_path.name
    edition = edition_of(notebook_path.parent)
    assert f'<html lang="{WORDS[edition]["lang"]}">' in page, f"{name}: page language"

    # The page is the executed notebook: no errors, nothing on stderr, at least one picture.
    assert "jp-RenderedText" in page, f"{name}: no outputs on the page"
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page, (
        f"{name}: an error or stderr output made it onto the page"
    )
    assert re.search(r'src="data:image/png;base64,', page), f"{name}: no embedded image"

    # Links between notebooks lead to the other pages; only the download link names a .ipynb.
    anchors = links(page_of(built_site, notebook_path))
    to_notebooks = [  # the series' own notebooks (a page may cite an outside one by URL)
        a["href"]
        for a in anchors
        if ".ipynb" in a["href"] and not a["href"].startswith(("http://", "https://"))
    ]
    assert to_notebooks == [f"notebooks/{name}"], f"{name}: links to notebooks: {to_notebooks}"
    assert not [a for a in anchors if "README" in a["href"]], f"{name}: a link leaves the site"
    index_links = [a for a in anchors if a["text"] == NAV_WORDS[edition]["index"]]
    assert len(index_links) == 2, f"{name}: the nav bars (top and bottom) lead to the index"
    assert all(a["href"] == "index.html" for a in index_links)

    # Solutions are folded, as in JupyterLab.
    source = json.loads(notebook_path.read_text(encoding="utf-8"))
    folded = sum(
        bool(c["metadata"].get("jupyter", {}).get("source_hidden")) for c in source["cells"]
    )
    assert page.count('<details class="folded-input">') == folded, f"{name}: unfolded solutions"

    # Every widget shown on the page has its state stored; every image widget holds a PNG.
    views = [json.loads(v) for v in WIDGET_VIEW.findall(page)]
    if "build_demo(" in notebook_path.read_text(encoding="utf-8"):
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
