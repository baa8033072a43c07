"""The static site works from disk with no network: every page opened from ``file://`` in
Chromium, every request that is not ``file:`` blocked (and recorded).

On every page: no request to another host was even attempted, the formulas are typeset by the
bundled MathJax (no raw ``$$`` left in the visible text, MathJax's output elements present),
and every slider demo shows its first picture (a PNG the bundled widget renderer decoded from
the stored widget state) with its readout. Solutions stay folded. The site is built once per
session (``built_site`` in conftest.py), as ``make html`` builds it.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from scripts.render_html import page_name
from scripts.series import EDITIONS, START_PAGE, series

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # only the page's own requests, nothing in the background
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Schemes a page may use without the network: files of the site, and in-memory objects.
LOCAL = ("file:", "blob:", "data:")
#: Every page of both editions: English at the root, Chinese in ``zh/``.
EDITION_PAGES = [page_name(START_PAGE)] + [page_name(b.path.name) for b in series(EDITIONS["en"])]
PAGES = EDITION_PAGES + [f"zh/{name}" for name in EDITION_PAGES]

#: What a learner sees once the page has settled, measured in the page.
_INSPECT_JS = """() => {
    const visible = document.querySelector('main').innerText;
    const markdown = [...document.querySelectorAll('.jp-RenderedMarkdown')]
        .map(e => e.innerText).join('\\n');
    const images = [...document.querySelectorAll('.jupyter-widgets img')].map(img => {
        const box = img.getBoundingClientRect();
        return {src: img.src.slice(0, 5), complete: img.complete, width: img.naturalWidth,
                shown: box.width > 0 && box.height > 0};
    });
    const demos = [...document.querySelectorAll('.jupyter-widgets img')].map(img => {
        const box = img.closest('.widget-box');
        const readout = box && box.querySelector('.widget-html-content');
        return readout ? readout.innerText.trim() : '';
    });
    return {
        rawDisplayMath: (visible.match(/\\$\\$/g) || []).length,
        rawInlineMath: (markdown.match(/\\$[^$\\s][^$\\n]*\\$/g) || []).slice(0, 3),
        typeset: document.querySelectorAll('mjx-container').length,
        mathErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
        views: document.querySelectorAll(
            'script[type="application/vnd.jupyter.widget-view+json"]').length,
        widgetErrors: (visible.match(/Error displaying widget|Loading widget/g) || []).length,
        images, demos,
        openSolutions: document.querySelectorAll('details.folded-input[open]').length,
        sidebar: document.querySelectorAll('.series-sidebar li').length,
    };
}"""


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: run `make test` (it installs chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_works_offline(name: str, built_site: Path, browser: Browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    attempted: list[str] = []  # every request the page made, blocked or not
    blocked: list[str] = []
    errors: list[str] = []

    def only_files(route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_files)
    try:
        page = context.new_page()
        page.on("request", lambda request: attempted.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((built_site / name).as_uri(), wait_until="load")
        # MathJax typesets once it has loaded; its startup promise settles when it is done.
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        # The widget renderer starts on "load" and turns each stored view into widgets.
        page.wait_for_function(
            """() => [...document.querySelectorAll('.jupyter-widgets img')]
                .every(img => img.complete)
              && document.querySelectorAll('.jupyter-widgets img').length >= Math.min(1,
                 document.querySelectorAll(
                   'script[type="application/vnd.jupyter.widget-view+json"]').length)""",
            timeout=30_000,
        )
        seen = page.evaluate(_INSPECT_JS)
    finally:
        context.close()

    elsewhere = [url for url in attempted + blocked if not url.startswith(LOCAL)]
    assert not elsewhere, f"{name}: requests to other hosts: {sorted(set(elsewhere))}"
    assert not errors, f"{name}: JavaScript errors: {errors}"
    assert seen["sidebar"] == len(EDITION_PAGES), f"{name}: the sidebar lists its edition"

    assert seen["typeset"] > 0, f"{name}: no formula was typeset (MathJax did not run)"
    assert seen["rawDisplayMath"] == 0, f"{name}: raw $$ left in the visible text"
    assert not seen["rawInlineMath"], f"{name}: raw inline math: {seen['rawInlineMath']}"
    assert seen["mathErrors"] == 0, f"{name}: MathJax could not typeset some formulas"

    assert seen["widgetErrors"] == 0, f"{name}: a widget failed to render"
    assert seen["openSolutions"] == 0, f"{name}: a solution is unfolded"
    if seen["views"]:
        assert seen["images"], f"{name}: widgets on the page but no demo picture"
    for number, (image, readout) in enumerate(zip(seen["images"], seen["demos"], strict=True)):
        where = f"{name}, demo picture {number + 1}"
        assert image["src"] in ("blob:", "data:"), f"{where}: not decoded from the page: {image}"
        assert image["complete"] and image["width"] > 0, f"{where}: the PNG did not load"
        assert image["shown"], f"{where}: the picture is not visible"
        assert readout, f"{where}: no readout next to the picture"
