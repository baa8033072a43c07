"""The series as a learner meets it: real JupyterLab in real Chromium, driven by Playwright.

For every notebook: open it, wait for the kernel, Run → Run All Cells, then check that no cell
shows an error or anything on stderr, that every widget rendered, and that every slider moved
with the keyboard redraws its demo's picture and updates its readout, and that a real mouse
drag along every slider (mouse down on the handle, ~25 moves over ~1 s, mouse up) moves it and
ends on a new picture. Measured, printed at the end of the run and written to ``artifacts/``
(figures, never assertions): key press -> new picture per notebook and per slider, and per drag
the pictures shown while the hand moves and the time from mouse-up to the last picture. A
full-notebook screenshot of each notebook after Run All goes to ``artifacts/screenshots/`` for a
human to look at.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test``); Playwright's own
browser download is never used.
"""

from __future__ import annotations

import re
import statistics
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import notebook_id
from lab_server import JupyterLabServer
from playwright.sync_api import Browser, ElementHandle, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from scripts.series import EDITIONS, NAV_WORDS, START_PAGE, series

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
LATENCY_REPORT = ARTIFACTS / "browser_slider_latency.txt"
DRAG_REPORT = ARTIFACTS / "browser_slider_drag.txt"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # the machine's network is closed: no calls home
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
MOVES_PER_SLIDER = 3
#: A hand dragging a slider: this many mouse moves, this far apart in time.
DRAG_MOVES, DRAG_INTERVAL_MS = 25, 40
#: After mouse-up, the demo has settled when no new picture came for this long.
QUIET_MS = 1_000
#: Before a key press, no new picture for this long: the earlier moves' pictures have all come.
KEY_QUIET_MS = 300
#: Screenshots taller than this (px) are cut; Chromium cannot paint much more in one go.
MAX_SCREENSHOT_HEIGHT = 16000

#: (notebook, sliders moved, latencies in ms, largest picture zoom), printed at the end.
SLIDER_LATENCIES: list[tuple[str, int, list[float], float]] = []
#: (notebook, slider label, values crossed, pictures during the drag, ms mouse-up -> settled,
#: median ms key press -> new picture on that slider).
SLIDER_DRAGS: list[tuple[str, str, int, int, float, float]] = []

ACTIVE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CODE_PROMPTS = f"{ACTIVE_PANEL} .jp-Notebook .jp-CodeCell .jp-InputArea-prompt"
ERROR_OUTPUTS = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

# Walk up from a slider handle to the demo box that holds it: the nearest widget box with an
# image widget among its direct children (utils.widgets.slider_demo: controls, readout, image).
_DEMO_PARTS_JS = """handle => {
    for (let box = handle.parentElement; box; box = box.parentElement) {
        if (!box.classList.contains('widget-box')) continue;
        const image = [...box.children].find(child => child.tagName === 'IMG');
        if (image) {
            const readout = [...box.children].find(c => c.classList.contains('widget-html'));
            return {image, readout: readout || null};
        }
    }
    return null;
}"""

# Arm a one-shot measurement: key-down time on the handle, time the image's src changes. A
# picture that arrives before the key press belongs to an earlier move and is not counted.
_ARM_JS = """([handle, image]) => {
    const move = {t0: null, t1: null, src: image.src};
    window.__sliderMove = move;
    handle.addEventListener('keydown', () => { move.t0 = performance.now(); },
                            {capture: true, once: true});
    const observer = new MutationObserver(() => {
        if (move.t0 === null) { move.src = image.src; return; }
        if (image.src !== move.src) { move.t1 = performance.now(); observer.disconnect(); }
    });
    observer.observe(image, {attributes: true, attributeFilter: ['src']});
}"""

# Keep the time of the image's latest src change on the image (one observer per image).
_WATCH_JS = """image => {
    if (image.__lastChange !== undefined) return;
    image.__lastChange = performance.now();
    new MutationObserver(() => { image.__lastChange = performance.now(); })
        .observe(image, {attributes: true, attributeFilter: ['src']});
}"""


# Arm a drag log: the time of every change of the image's src from now on.
_DRAG_ARM_JS = """image => {
    const changes = [];
    window.__dragChanges = changes;
    window.__dragObserver?.disconnect();
    window.__dragObserver = new MutationObserver(() => changes.push(performance.now()));
    window.__dragObserver.observe(image, {attributes: true, attributeFilter: ['src']});
}"""


class _LatencyReport:
    """A pytest plugin object: prints the slider latencies and drags in the terminal summary."""

    def pytest_terminal_summary(self, terminalreporter) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        reports = (
            (
                SLIDER_LATENCIES,
                _latency_lines,
                "slider latency (key press -> new image)",
                LATENCY_REPORT,
            ),
            (SLIDER_DRAGS, _drag_lines, "slider drags (~1 s mouse drag per slider)", DRAG_REPORT),
        )
        for rows, make_lines, title, path in reports:
            if rows:
                lines = make_lines()
                terminalreporter.section(f"browser {title}")
                for line in lines:
                    terminalreporter.write_line(line)
                path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _latency_lines() -> list[str]:
    lines = []
    for name, sliders, latencies, zoom in SLIDER_LATENCIES:
        if latencies:
            lines.append(
                f"{name:<28} {sliders:2d} sliders {len(latencies):3d} moves  "
                f"median {statistics.median(latencies):5.0f} ms  max {max(latencies):5.0f} ms  "
                f"(pictures shown at up to {zoom:.1f}x their pixel size)"
            )
        else:
            lines.append(f"{name:<28} no sliders")
    every = [latency for *_, latencies, _zoom in SLIDER_LATENCIES for latency in latencies]
    if every:
        lines.append(f"all sliders: {len(every)} moves, median {statistics.median(every):.0f} ms")
    return lines


def _drag_lines() -> list[str]:
    lines = [
        f"{name:<28} {label[:24]:<24} key median {key:4.0f} ms  {crossed:3d} values  "
        f"{pictures:2d} pictures during the drag  settled {settle:5.0f} ms after mouse-up"
        for name, label, crossed, pictures, settle, key in SLIDER_DRAGS
    ]
    settles = [row[4] for row in SLIDER_DRAGS]
    long_drags = [row[3] for row in SLIDER_DRAGS if row[2] >= 5]
    lines.append(
        f"all sliders: settle median {statistics.median(settles):.0f} ms, "
        f"max {max(settles):.0f} ms; pictures during a drag across >= 5 values: "
        f"min {min(long_drags, default=0)}"
    )
    return lines


@pytest.fixture(scope="module")
def lab(tmp_path_factory, pytestconfig):
    """One JupyterLab for the module, on a throw-away copy of notebooks/; always stopped."""
    if not pytestconfig.pluginmanager.has_plugin("browser-latency-report"):
        pytestconfig.pluginmanager.register(_LatencyReport(), "browser-latency-report")
    server = JupyterLabServer(ROOT / "notebooks", tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "jupyterlab.log").write_text(server.log(), encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: run `make test` (it installs chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, lab: JupyterLabServer):
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()
        lab.shutdown_kernels()  # the next notebook gets the CPU to itself


def _wait_for_idle_kernel(page: Page, lab: JupyterLabServer, name: str, timeout: float = 60):
    """The server's session for ``name`` has a kernel that is idle, and the page says so too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = [s for s in lab.api("GET", "/api/sessions") if s["path"].endswith(name)]
        indicator = page.get_attribute(
            f"{ACTIVE_PANEL} .jp-Notebook-ExecutionIndicator", "data-status"
        )
        if sessions and sessions[0]["kernel"]["execution_state"] == "idle" and indicator == "idle":
            return
        time.sleep(0.25)
    raise AssertionError(f"{name}: the kernel was not idle within {timeout} s")


def _run_all(page: Page, timeout_ms: float = 180_000) -> None:
    """Run → Run All Cells from the menu bar, then wait until every code cell has run."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        """selector => {
            const prompts = [...document.querySelectorAll(selector)];
            return prompts.length > 0
                && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
        }""",
        arg=CODE_PROMPTS,
        timeout=timeout_ms,
        polling=250,
    )


def _full_screenshot(page: Page, path: Path) -> None:
    """Grow the window to the notebook's height (JupyterLab scrolls inside), then shoot.

    Cells that come into view get laid out for real and the notebook grows, so measure again
    until the height settles.
    """
    height = VIEWPORT["height"]
    for _ in range(5):
        needed = page.evaluate(
            """() => {
                const scroller = document.querySelector(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
                scroller.scrollTop = 0;  // Run All leaves the notebook scrolled to its end
                const cells = scroller.querySelectorAll('.jp-Cell');
                const end = cells[cells.length - 1].getBoundingClientRect().bottom;
                const top = scroller.getBoundingClientRect().top;
                // cells + what is above and below the scroller (menus, toolbar, status bar)
                return Math.ceil(end - top + window.innerHeight - scroller.clientHeight + 16);
            }"""
        )
        needed = min(needed, MAX_SCREENSHOT_HEIGHT)
        if needed <= height:
            break
        height = needed
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(300)  # let the cells that came into view lay out
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


def _aria_value(handle: ElementHandle, name: str) -> float:
    return float(handle.get_attribute(f"aria-value{name}"))


def _move_slider(page: Page, handle: ElementHandle, image: ElementHandle, key: str) -> float:
    """Press ``key`` on the focused handle; return ms from key-down to the new image src.

    First wait until the picture has not changed for ``KEY_QUIET_MS``: a picture still on its
    way from an earlier move would otherwise be taken for this move's (a busy kernel lags)."""
    page.evaluate(_WATCH_JS, image)
    page.wait_for_function(
        "([image, quiet]) => performance.now() - image.__lastChange > quiet",
        arg=[image, KEY_QUIET_MS],
        timeout=30_000,
        polling=50,
    )
    page.evaluate(_ARM_JS, [handle, image])
    handle.press(key)
    page.wait_for_function("() => window.__sliderMove.t1 !== null", timeout=15_000, polling="raf")
    move = page.evaluate("() => window.__sliderMove")
    assert move["t0"] is not None, "the key press never reached the slider handle"
    return move["t1"] - move["t0"]


def _drag_slider(page: Page, handle: ElementHandle, image: ElementHandle) -> tuple[int, int, float]:
    """Drag ``handle`` with the mouse along its track for about a second, as a hand does.

    Returns (slider positions crossed, pictures shown while the mouse moved, ms from mouse-up
    until the picture stopped changing). Asserts only behaviour: the value moved and the
    picture after the drag differs from the one before.
    """
    handle.scroll_into_view_if_needed()
    track = handle.evaluate_handle("h => h.closest('.noUi-target')").as_element().bounding_box()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # Towards the farther end of the track, to cross as many values as the slider has there.
    end = (
        track["x"] + 2
        if x - track["x"] > track["x"] + track["width"] - x
        else track["x"] + track["width"] - 2
    )
    value_before, src_before = _aria_value(handle, "now"), image.get_attribute("src")
    page.evaluate(_DRAG_ARM_JS, image)
    page.mouse.move(x, y)
    page.mouse.down()
    t_down = page.evaluate("performance.now()")
    values = {value_before}
    for step in range(1, DRAG_MOVES + 1):
        page.mouse.move(x + (end - x) * step / DRAG_MOVES, y)
        values.add(_aria_value(handle, "now"))
        page.wait_for_timeout(DRAG_INTERVAL_MS)
    t_up = page.evaluate("performance.now()")
    page.mouse.up()
    page.wait_for_function(
        """([quiet, since]) => {
            const last = Math.max(since, ...window.__dragChanges);
            return performance.now() - last > quiet;
        }""",
        arg=[QUIET_MS, t_up],
        timeout=30_000,
        polling=100,
    )
    changes = page.evaluate("() => window.__dragChanges")
    assert _aria_value(handle, "now") != value_before, "the drag did not move the slider"
    assert image.get_attribute("src") != src_before, "the picture did not change after the drag"
    during = sum(t_down <= t <= t_up for t in changes)
    settle = max((t - t_up for t in changes if t > t_up), default=0.0)
    # Drag back to where the hand started, so the next slider meets the demo as it was (an end
    # value can make another slider a no-op, e.g. batch = 1 clamps the row slider).
    moved = handle.bounding_box()
    page.mouse.move(moved["x"] + moved["width"] / 2, y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(
            moved["x"] + moved["width"] / 2 + (x - moved["x"] - moved["width"] / 2) * step / 5, y
        )
    page.mouse.up()
    page.wait_for_function(
        "([handle, value]) => Number(handle.getAttribute('aria-valuenow')) === value",
        arg=[handle, value_before],
        timeout=10_000,
    )
    page.wait_for_function(
        """quiet => performance.now() - Math.max(0, ...window.__dragChanges) > quiet""",
        arg=QUIET_MS,
        timeout=30_000,
        polling=100,
    )
    return len(values) - 1, during, settle


def _picture_zoom(page: Page) -> float:
    """How much the browser enlarges the demos' PNGs (above ~1.3x they look blurry)."""
    return page.evaluate(
        """() => Math.max(1, ...[...document.querySelectorAll('.widget-box > img')]
                .filter(img => img.naturalWidth > 0)
                .map(img => img.getBoundingClientRect().width / img.naturalWidth))"""
    )


def _exercise_sliders(page: Page, name: str) -> tuple[int, list[float]]:
    """Move every slider on the page; assert each redraws its picture and updates its readout."""
    handles = page.query_selector_all(f"{ACTIVE_PANEL} .noUi-handle")
    latencies: list[float] = []
    readouts_changed: dict[int, bool] = {}
    for number, handle in enumerate(handles, start=1):
        label = handle.evaluate(
            "h => h.closest('.widget-slider')?.querySelector('.widget-label')?.textContent"
        )
        where = f"{name}, slider {number} ({label!r})"
        parts = handle.evaluate_handle(_DEMO_PARTS_JS)
        assert parts.evaluate("p => p !== null"), f"{where}: no image widget next to the slider"
        image = parts.get_property("image").as_element()
        readout = parts.get_property("readout").as_element()
        assert readout is not None, f"{where}: no readout (HTML widget) in the demo box"
        demo = image.evaluate("img => [...document.querySelectorAll('img')].indexOf(img)")

        value_label = handle.evaluate_handle(
            "h => h.closest('.widget-slider').querySelector('.widget-readout')"
        ).as_element()
        low, high = _aria_value(handle, "min"), _aria_value(handle, "max")
        key = "ArrowRight" if _aria_value(handle, "now") < (low + high) / 2 else "ArrowLeft"
        readout_before = readout.inner_text()
        images = {image.get_attribute("src")}
        handle.focus()
        first_move = len(latencies)
        for _ in range(MOVES_PER_SLIDER):
            value_before = value_label.inner_text() if value_label else None
            now = _aria_value(handle, "now")
            if now >= high:
                key = "ArrowLeft"
            elif now <= low:
                key = "ArrowRight"
            latencies.append(_move_slider(page, handle, image, key))
            images.add(image.get_attribute("src"))
            if value_label is not None:
                assert value_label.inner_text() != value_before, (
                    f"{where}: {key} did not change the slider's value"
                )
        assert len(images) == MOVES_PER_SLIDER + 1, f"{where}: the picture did not change"
        # The readout arrives in the same redraw as the picture, a message later.
        try:
            page.wait_for_function(
                "([el, before]) => el.innerText !== before",
                arg=[readout, readout_before],
                timeout=1_000,
            )
            readouts_changed[demo] = True
        except PlaywrightTimeout:
            readouts_changed.setdefault(demo, False)
        text = readout.inner_text()
        assert text.strip(), f"{where}: the readout is empty"
        assert "⚠" not in text, f"{where}: the demo reported an error: {text}"
        crossed, pictures, settle = _drag_slider(page, handle, image)
        key_median = statistics.median(latencies[first_move:])
        SLIDER_DRAGS.append(
            (name, label or f"slider {number}", crossed, pictures, settle, key_median)
        )
        assert "⚠" not in readout.inner_text(), f"{where}: the demo reported an error after a drag"
    for demo, changed in readouts_changed.items():
        assert changed, f"{name}: demo {demo}: no slider move changed its readout"
    return len(handles), latencies


def _setting_default(lab: JupyterLabServer, plugin: str, key: str) -> object:
    """The default JupyterLab uses for a setting (ours from overrides.json, else the schema's)."""
    return lab.api("GET", f"/lab/api/settings/{plugin}")["schema"]["properties"][key]["default"]


def test_lab_keeps_auth_on_and_stays_quiet(lab: JupyterLabServer):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{lab.base_url}/api/sessions", timeout=10)  # no token
    assert refused.value.code == 403
    refused.value.close()
    assert lab.api("GET", "/lab/api/news") == {"news": []}
    assert lab.api("GET", "/lab/api/update") == {"notification": None}
    notification = "@jupyterlab/apputils-extension:notification"
    assert _setting_default(lab, notification, "fetchNews") == "false"
    assert _setting_default(lab, notification, "checkForUpdates") is False
    assert _setting_default(lab, "@jupyterlab/docmanager-extension:plugin", "autosave") is False


def test_notebook_in_jupyterlab(notebook_path: Path, lab: JupyterLabServer, page: Page):
    page_errors: list[str] = []  # uncaught exceptions in the page's JavaScript
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    failed_shot = SCREENSHOTS / f"{notebook_id(notebook_path)}-FAILED.png"
    failed_shot.unlink(missing_ok=True)  # from an earlier run
    try:
        _check_notebook(notebook_path, lab, page)
    except BaseException:
        # Keep what the page looked like when it failed, next to the good screenshots.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(failed_shot))
        raise
    assert not page_errors, f"{notebook_path.name}: JavaScript errors: {page_errors}"


def _check_notebook(notebook_path: Path, lab: JupyterLabServer, page: Page) -> None:
    name = notebook_path.relative_to(ROOT / "notebooks").as_posix()  # zh/… for the Chinese
    page.goto(lab.lab_url(name))
    page.wait_for_selector(f"{ACTIVE_PANEL} .jp-Notebook-ExecutionIndicator", timeout=60_000)
    panels = page.locator(".jp-NotebookPanel").count()
    assert panels == 1, f"{name}: expected only this notebook open, found {panels} notebooks"
    _wait_for_idle_kernel(page, lab, name)
    # Fold the file browser away, as a learner does to read: wider cells, readable screenshots.
    left_tab = page.query_selector(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if left_tab is not None:
        left_tab.click()

    _run_all(page)
    _wait_for_idle_kernel(page, lab, name)
    page.wait_for_function(
        "() => !document.body.innerText.includes('Loading widget...')", timeout=30_000
    )

    errors = [e.inner_text() for e in page.query_selector_all(ERROR_OUTPUTS)]
    assert not errors, f"{name}: error or stderr output after Run All:\n" + "\n---\n".join(errors)
    body = page.inner_text("body")
    assert "Error displaying widget" not in body, f"{name}: a widget failed to display"
    assert not re.search(r"<Figure size \d+x\d+ with \d+ Axes>", body), (
        f"{name}: a figure was printed as text instead of drawn"
    )
    duplicated = page.evaluate(
        """() => [...document.querySelectorAll('.jp-Cell .jp-OutputArea')].filter(area => {
            const pictures = [...area.querySelectorAll('img[src^="data:"]')].map(i => i.src);
            return new Set(pictures).size < pictures.length;
        }).length"""
    )
    assert duplicated == 0, f"{name}: {duplicated} cell(s) show the same figure twice"
    _full_screenshot(page, SCREENSHOTS / f"{notebook_id(notebook_path)}.png")

    zoom = _picture_zoom(page)
    sliders, latencies = _exercise_sliders(page, name)
    SLIDER_LATENCIES.append((name, sliders, latencies, zoom))


CURRENT_TAB = "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel"


@pytest.mark.parametrize("edition", EDITIONS)
def test_start_page_links_work_in_jupyterlab(lab: JupyterLabServer, page: Page, edition: str):
    """``make lab`` opens the start page; its map opens a lesson, whose "Series index" link
    leads back (JupyterLab opens relative .ipynb links in its own tabs). The Chinese start
    page (``zh/00_start_here.ipynb``) the same, with its own words."""
    folder = "" if edition == "en" else f"{EDITIONS[edition].name}/"
    page.goto(lab.lab_url(folder + START_PAGE))
    rendered = f"{ACTIVE_PANEL} .jp-RenderedMarkdown"
    page.wait_for_selector(rendered, timeout=60_000)
    assert page.inner_text(CURRENT_TAB) == START_PAGE
    first = series(EDITIONS[edition])[0]
    page.locator(f"{rendered} a", has_text=first.title.split(" · ", 1)[1]).first.click()
    page.wait_for_function(
        "([selector, name]) => document.querySelector(selector)?.textContent === name",
        arg=[CURRENT_TAB, first.path.name],
        timeout=30_000,
    )
    page.wait_for_selector(rendered, timeout=30_000)
    page.locator(f"{rendered} a", has_text=NAV_WORDS[edition]["index"]).first.click()
    page.wait_for_function(
        "([selector, name]) => document.querySelector(selector)?.textContent === name",
        arg=[CURRENT_TAB, START_PAGE],
        timeout=30_000,
    )
