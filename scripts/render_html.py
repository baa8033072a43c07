"""Render the executed series to a static site (``make html``) that works offline.

Usage: python -m scripts.render_html [--out build/html]

Each lesson in ``notebooks/`` (and in ``notebooks/zh/``, the Chinese edition, whose pages go to
``zh/``, with a language switch on every page) runs top to bottom in a fresh kernel, as is
(exercises stay untouched stubs), with the widget state stored, so a slider demo shows its
first picture and readout on the static page. nbconvert's HTML exporter writes one page per
lesson; the start page (``00_start_here.ipynb``) becomes ``index.html``; links between
notebooks point at the pages. Every page has a sidebar with the reading order, a link to
download its ``.ipynb``, one to open it on Binder and one to the other edition. Code that
JupyterLab shows folded (the solutions) is folded here too.

The pages load nothing from the network: MathJax 3 (SVG output, so no web fonts) and the
widget renderer (``@jupyter-widgets/html-manager``'s ``embed.js``) come from the npm registry
at build time, pinned by ``scripts/site/package-lock.json`` and installed once into
``build/site-assets/``, and are copied into ``<out>/_static/``. The site opens from
``file://`` as well as from any static host.
"""

from __future__ import annotations

import argparse
import filecmp
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "html"
#: The npm project that pins the bundled assets (package.json + package-lock.json).
ASSETS_PROJECT = Path(__file__).resolve().parent / "site"
#: Where ``npm ci`` installs them: a build cache, out of git, reused while the lock is unchanged.
ASSETS_CACHE = ROOT / "build" / "site-assets"
#: The repository on mybinder.org (README's badge uses the same; no public remote yet).
BINDER = "https://mybinder.org/v2/gh/OWNER/REPO/main"
STATIC = "_static"

#: node_modules path -> path under ``_static/``. Fonts sit beside embed.js, which finds them
#: relative to its own URL.
ASSET_FILES = {
    "mathjax/es5/tex-svg-full.js": "mathjax/tex-svg-full.js",
    "@jupyter-widgets/html-manager/dist/embed.js": "widgets/embed.js",
}
ASSET_FONTS = ("@jupyter-widgets/html-manager/dist", "widgets", (".woff", ".woff2", ".ttf"))

#: MathJax 3 with the delimiters JupyterLab uses; SVG output needs no font files.
MATHJAX = """\
<script>
window.MathJax = {
  tex: {
    inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
    displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
    processEscapes: true,
    processEnvironments: true,
    tags: 'ams'
  },
  svg: {fontCache: 'global'},
  options: {menuOptions: {settings: {assistiveMml: false}}},
  startup: {
    ready() {
      MathJax.startup.defaultReady();
      MathJax.Hub = hub;
    }
  }
};
// The widget renderer typesets labels with MathJax 2's API (MathJax.Hub.Queue): forward it.
var hub = {
  Queue(command) {
    if (window.MathJax.typesetPromise && command && command[2]) {
      window.MathJax.typesetPromise([command[2]]);
    }
  }
};
window.MathJax.Hub = hub;
</script>
<script src="{static}/mathjax/tex-svg-full.js" defer></script>
"""

#: Extends JupyterLab's nbconvert template: bundled scripts instead of CDNs, a sidebar, links to
#: the notebook, and cells stored folded are folded on the page.
TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}
{%- if "widgets" in nb.metadata -%}
<script src="{{ resources.site.static }}/widgets/embed.js"></script>
{%- endif -%}
{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}
{{ resources.site.mathjax }}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<link rel="stylesheet" href="{{ resources.site.static }}/site.css">
{%- endblock html_head_css -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.site.sidebar }}
<main>
{{ resources.site.actions }}
{%- endblock body_header -%}
{% block input_group -%}
{%- if cell.metadata.get('jupyter', {}).get('source_hidden') -%}
<details class="folded-input"><summary>{{ resources.site.show_code }}</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock input_group %}
"""

SITE_CSS = """\
body.jp-Notebook { padding: 0; }
.series-sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 16rem; overflow-y: auto;
  box-sizing: border-box; padding: 1rem; background: #f5f5f5; border-right: 1px solid #ddd;
  font: 14px/1.45 system-ui, sans-serif; }
.series-sidebar h2 { font-size: 15px; margin: 0 0 0.6rem; }
.series-sidebar ol { padding-left: 0; list-style: none; margin: 0; }
.series-sidebar li { margin: 0.35rem 0; }
.series-sidebar a { color: #1a5fb4; text-decoration: none; }
.series-sidebar li.current a { font-weight: 600; color: #000; }
main { margin-left: 16rem; padding: 1rem 2rem; }
.page-actions { font: 14px system-ui, sans-serif; margin: 0 0 1rem; padding: 0.5rem 0.75rem;
  background: #eef4fb; border-radius: 4px; }
.page-actions a { margin-right: 1.5rem; }
details.folded-input > summary { cursor: pointer; color: #555; font: 13px system-ui, sans-serif;
  padding: 0.2rem 0; }
@media (max-width: 60rem) {
  .series-sidebar { position: static; width: auto; border-right: 0;
    border-bottom: 1px solid #ddd; }
  main { margin-left: 0; padding: 1rem; }
}
"""

# href="02_linear_layer.ipynb" or href="02_linear_layer.ipynb#section" -> the HTML page; the
# start pages link to each other's edition (zh/… and ../…).
NOTEBOOK_LINK = re.compile(r'href="((?:zh/|\.\./)?)(\d{2}_[a-z0-9_]+)\.ipynb(#[^"]*)?"')


def page_name(notebook_name: str) -> str:
    """The page a notebook becomes: the start page is the site's ``index.html``.

    >>> page_name("00_start_here.ipynb"), page_name("03_initialization.ipynb")
    ('index.html', '03_initialization.html')
    """
    from scripts.series import START_PAGE

    return "index.html" if notebook_name == START_PAGE else Path(notebook_name).stem + ".html"


def rewrite_links(page: str) -> str:
    """Point links to sibling notebooks (the start page included) at their HTML pages.

    >>> rewrite_links('<a href="02_x.ipynb">next</a> <a href="00_start_here.ipynb">up</a>')
    '<a href="02_x.html">next</a> <a href="index.html">up</a>'
    >>> rewrite_links('<a href="03_y.ipynb#2.-Init">there</a>')
    '<a href="03_y.html#2.-Init">there</a>'
    >>> rewrite_links('<a href="zh/00_start_here.ipynb">中文</a>')
    '<a href="zh/index.html">中文</a>'
    """
    return NOTEBOOK_LINK.sub(
        lambda m: f'href="{m[1]}{page_name(m[2] + ".ipynb")}{m[3] or ""}"', page
    )


#: Everything the site itself says, per edition. The Chinese pages live in ``zh/``.
WORDS = {
    "en": {
        "lang": "en",
        "series": "torch.nn.Linear, hands on",
        "start": "Start here: the series map",
        "download": "Download this notebook (.ipynb)",
        "binder": "Run it on Binder",
        "show_code": "show code",
        "other": "中文",
        "other_lang": "zh",
    },
    "zh": {
        "lang": "zh",
        "series": "动手学 torch.nn.Linear",
        "start": "从这里开始：系列地图",
        "download": "下载本笔记本（.ipynb）",
        "binder": "在 Binder 上运行",
        "show_code": "显示代码",
        "other": "English",
        "other_lang": "en",
    },
}


def sidebar(entries: list[tuple[str, str]], current: str, language: str = "en") -> str:
    """The reading order, ``(page, title)`` pairs, the current page marked.

    >>> print(sidebar([("index.html", "Start"), ("01_a.html", "01 · A")], "01_a.html"))
    <nav class="series-sidebar" aria-label="Series">
    <h2><a href="index.html">torch.nn.Linear, hands on</a></h2>
    <ol>
    <li><a href="index.html">Start</a></li>
    <li class="current"><a href="01_a.html" aria-current="page">01 · A</a></li>
    </ol>
    </nav>
    """
    items = []
    for href, title in entries:
        link = f'<a href="{html.escape(href)}"'
        if href == current:
            items.append(
                f'<li class="current">{link} aria-current="page">{html.escape(title)}</a></li>'
            )
        else:
            items.append(f"<li>{link}>{html.escape(title)}</a></li>")
    return "\n".join(
        [
            '<nav class="series-sidebar" aria-label="Series">',
            f'<h2><a href="index.html">{WORDS[language]["series"]}</a></h2>',
            "<ol>",
            *items,
            "</ol>",
            "</nav>",
        ]
    )


def page_actions(notebook_name: str, language: str = "en") -> str:
    """Links to the notebook itself (download the ``.ipynb``, run it on Binder) and to the same
    page in the other edition.

    >>> print(page_actions("01_a.ipynb"))  # doctest: +NORMALIZE_WHITESPACE
    <div class="page-actions"><a class="download-notebook" href="notebooks/01_a.ipynb"
    download>Download this notebook (.ipynb)</a> <a class="binder-link"
    href="https://mybinder.org/v2/gh/OWNER/REPO/main?urlpath=lab/tree/notebooks/01_a.ipynb">Run it
    on Binder</a> <a class="language-switch" href="zh/01_a.html" hreflang="zh"
    lang="zh">中文</a></div>
    >>> print(page_actions("00_start_here.ipynb", "zh"))  # doctest: +NORMALIZE_WHITESPACE
    <div class="page-actions"><a class="download-notebook" href="notebooks/00_start_here.ipynb"
    download>下载本笔记本（.ipynb）</a> <a class="binder-link"
    href="https://mybinder.org/v2/gh/OWNER/REPO/main?urlpath=lab/tree/notebooks/zh/00_start_here.ipynb">在
    Binder 上运行</a> <a class="language-switch" href="../index.html" hreflang="en"
    lang="en">English</a></div>
    """
    words, name = WORDS[language], html.escape(notebook_name)
    folder = "notebooks/zh" if language == "zh" else "notebooks"
    other = ("zh/" if language == "en" else "../") + page_name(notebook_name)
    return (
        f'<div class="page-actions"><a class="download-notebook" href="notebooks/{name}" '
        f"download>{words['download']}</a> "
        f'<a class="binder-link" href="{BINDER}?urlpath=lab/tree/{folder}/{name}">'
        f"{words['binder']}</a> "
        f'<a class="language-switch" href="{other}" hreflang="{words["other_lang"]}" '
        f'lang="{words["other_lang"]}">{words["other"]}</a></div>'
    )


def bundled_assets(cache: Path = ASSETS_CACHE) -> Path:
    """``node_modules`` with the pinned assets, installed by ``npm ci`` when the lock changed."""
    lock = ASSETS_PROJECT / "package-lock.json"
    modules = cache / "node_modules"
    installed = modules / ".package-lock.json"  # npm writes it on every install
    if (
        installed.exists()
        and (cache / "package-lock.json").exists()
        and filecmp.cmp(lock, cache / "package-lock.json", shallow=False)
    ):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm not found: the static site bundles MathJax and the widget "
            "renderer from the npm registry (Debian: apt-get install npm)"
        )
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ASSETS_PROJECT / name, cache / name)
    start = time.perf_counter()
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=cache,
        check=True,
    )
    print(f"installed the site's assets with npm ci ({time.perf_counter() - start:.1f} s)")
    return modules


def copy_assets(out: Path, modules: Path) -> None:
    """Copy the few files the pages load into ``<out>/_static/``."""
    static = out / STATIC
    for source, target in ASSET_FILES.items():
        (static / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(modules / source, static / target)
    folder, target, suffixes = ASSET_FONTS
    for font in (modules / folder).iterdir():
        if font.suffix in suffixes:
            shutil.copy(font, static / target / font.name)
    (static / "site.css").write_text(SITE_CSS, encoding="utf-8")


def render(out: Path, notebooks: Path = NOTEBOOKS, language: str = "en") -> list[Path]:
    """Execute and export one edition of the series to ``out``; return the pages written.

    The English edition goes to the site's root, the Chinese one to ``zh/`` below it; both
    share one ``_static/``.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbformat import read, reads

    from scripts.series import START_PAGE, execute_notebook, notebook_title, series

    # A learner's kernel draws with the inline backend; an inherited MPLBACKEND (e.g. Agg
    # from a test run) would silently drop every plot from the pages.
    os.environ.pop("MPLBACKEND", None)
    words = WORDS[language]
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"series.html.j2": TEMPLATE})],
        template_file="series.html.j2",
        language_code=words["lang"],  # <html lang="…">: the browser picks fonts by it
    )
    static = STATIC if language == "en" else f"../{STATIC}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "notebooks").mkdir(exist_ok=True)

    start_page = notebooks / START_PAGE
    pages = [(start_page, notebook_title(start_page).replace("`", ""))]
    pages += [(book.path, book.title) for book in series(notebooks)]
    entries = [(page_name(path.name), title) for path, title in pages]
    entries[0] = ("index.html", words["start"])
    written = []
    for path, title in pages:
        start = time.perf_counter()
        if path.name == START_PAGE:  # markdown only: nothing to run
            notebook = read(path, as_version=4)
        else:
            executed, _seconds = execute_notebook(path, store_widget_state=True)
            notebook = reads(json.dumps(executed), as_version=4)
        name = page_name(path.name)
        site = {
            "mathjax": MATHJAX.replace("{static}", static),
            "static": static,
            "show_code": words["show_code"],
            "sidebar": sidebar(entries, name, language),
            "actions": page_actions(path.name, language),
        }
        body, _resources = exporter.from_notebook_node(
            notebook,
            resources={"metadata": {"name": title}, "site": site},
        )
        page = out / name
        page.write_text(rewrite_links(body), encoding="utf-8")
        shutil.copy(path, out / "notebooks" / path.name)
        written.append(page)
        print(
            f"{page.relative_to(out.parent if language != 'en' else out)}  "
            f"({time.perf_counter() - start:.1f} s)"
        )
    return written


def render_site(out: Path) -> list[Path]:
    """Both editions: English at ``out``, Chinese at ``out/zh``, one ``_static/`` for both."""
    from scripts.series import EDITIONS

    modules = bundled_assets()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_assets(out, modules)
    pages = render(out, EDITIONS["en"], "en")
    return pages + render(out / "zh", EDITIONS["zh"], "zh")


def folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args()
    start = time.perf_counter()
    out = args.out.resolve()
    pages = render_site(out)
    print(
        f"wrote {len(pages)} pages to {args.out} ({folder_size_mb(out):.1f} MB) "
        f"in {time.perf_counter() - start:.0f} s; open {out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
