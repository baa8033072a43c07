"""The notebook series as data: which notebooks exist, their titles, their navigation cells.

Navigation is generated, never typed: ``python -m scripts.nav`` rewrites the cell after the
title and the last cell of every notebook, and a test fails when they drift.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from utils.widgets import SliderDemo

NAV_MARKER = "<!-- nav -->"
NOTEBOOK_NAME = re.compile(r"^(?P<number>\d{2})_[a-z0-9_]+\.ipynb$")
#: The learners' start page: the series map, and where every "Series index" link leads. It is
#: not a lesson (no exercises, nothing to run), so :func:`series` leaves it out.
START_PAGE = "00_start_here.ipynb"
ROOT = Path(__file__).resolve().parent.parent
#: Each edition's notebooks folder. The Chinese one mirrors the English one file for file, and
#: :func:`parity_differences` keeps every code cell identical.
EDITIONS = {"en": ROOT / "notebooks", "zh": ROOT / "notebooks" / "zh"}
#: What the navigation bar says, per edition (the folder decides: ``zh/`` is Chinese).
NAV_WORDS = {
    "en": {"index": "Series index", "start": "start with {first} →"},
    "zh": {"index": "系列目录", "start": "从这里开始：{first} →"},
}


@dataclass(frozen=True)
class Notebook:
    """One notebook of the series."""

    path: Path
    number: int
    title: str

    @property
    def link(self) -> str:
        """Markdown link to this notebook, relative to the notebooks folder."""
        return f"[{self.title}]({self.path.name})"


def notebook_title(path: Path) -> str:
    """The text of the notebook's first ``# `` heading (its first markdown cell)."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    raise ValueError(f"{path}: the first markdown cell must start with a '# ' title")


def series(folder: Path) -> list[Notebook]:
    """The lessons: all ``NN_name.ipynb`` notebooks in ``folder`` but the start page, in order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no notebooks folder at {folder}")
    found = []
    for path in sorted(folder.glob("*.ipynb")):
        match = NOTEBOOK_NAME.match(path.name)
        if match and path.name != START_PAGE:
            found.append(Notebook(path, int(match["number"]), notebook_title(path)))
    return found


def edition_of(folder: Path) -> str:
    """``"zh"`` for the Chinese edition's folder, else ``"en"``."""
    return "zh" if Path(folder).name == "zh" else "en"


def nav_markdown(notebooks: list[Notebook], index: int, language: str = "en") -> str:
    """The navigation bar for ``notebooks[index]``: ← previous | series index | next →.

    ``index`` -1 is the start page, whose bar leads to the first lesson.

    >>> books = [Notebook(Path("01_a.ipynb"), 1, "01 · A"),
    ...          Notebook(Path("02_b.ipynb"), 2, "02 · B")]
    >>> print(nav_markdown(books, 0))
    <!-- nav -->
    [Series index](00_start_here.ipynb) | [02 · B](02_b.ipynb) →
    >>> print(nav_markdown(books, 1))
    <!-- nav -->
    ← [01 · A](01_a.ipynb) | [Series index](00_start_here.ipynb)
    >>> print(nav_markdown(books, -1))
    <!-- nav -->
    **Series index** | start with [01 · A](01_a.ipynb) →
    """
    words = NAV_WORDS[language]
    if index == -1:
        start = words["start"].format(first=notebooks[0].link)
        return f"{NAV_MARKER}\n**{words['index']}** | {start}"
    parts = [f"[{words['index']}]({START_PAGE})"]
    if index > 0:
        parts.insert(0, f"← {notebooks[index - 1].link}")
    if index + 1 < len(notebooks):
        parts.append(f"{notebooks[index + 1].link} →")
    return f"{NAV_MARKER}\n" + " | ".join(parts)


def _pages_and_nav(folder: Path) -> list[tuple[Path, str]]:
    """Every page that carries navigation, the start page first, with the bar it should have."""
    notebooks, language = series(folder), edition_of(folder)
    pages = [(b.path, nav_markdown(notebooks, i, language)) for i, b in enumerate(notebooks)]
    start = Path(folder) / START_PAGE
    if start.exists() and notebooks:
        pages.insert(0, (start, nav_markdown(notebooks, -1, language)))
    return pages


def _nav_cell(text: str, cell_id: str) -> dict:
    return {
        "cell_type": "markdown",
        "id": cell_id,
        "metadata": {},
        "source": text.splitlines(keepends=True),
    }


def with_nav(notebook: dict, nav_text: str) -> dict:
    """Return ``notebook`` (nbformat JSON) with nav cells right after the title and at the end."""
    cells = [c for c in notebook["cells"] if not "".join(c["source"]).startswith(NAV_MARKER)]
    cells = [
        cells[0],
        _nav_cell(nav_text, "nav-top"),
        *cells[1:],
        _nav_cell(nav_text, "nav-bottom"),
    ]
    return {**notebook, "cells": cells}


def dump_notebook(notebook: dict) -> str:
    """Serialise like Jupyter saves (sorted keys, one-space indent, sources as line lists).

    >>> print(dump_notebook({"cells": [{"source": "a\\nb"}]}))
    {
     "cells": [
      {
       "source": [
        "a\\n",
        "b"
       ]
      }
     ]
    }
    <BLANKLINE>
    """
    cells = []
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        if isinstance(source, str):
            cell = {**cell, "source": source.splitlines(keepends=True)}
        cells.append(cell)
    return (
        json.dumps({**notebook, "cells": cells}, indent=1, sort_keys=True, ensure_ascii=False)
        + "\n"
    )


def stale_nav(folder: Path) -> list[Path]:
    """Notebooks whose committed navigation differs from what :func:`with_nav` would write."""
    stale = []
    for path, nav in _pages_and_nav(folder):
        text = path.read_text(encoding="utf-8")
        if dump_notebook(with_nav(json.loads(text), nav)) != text:
            stale.append(path)
    return stale


def write_nav(folder: Path) -> list[Path]:
    """Rewrite the navigation cells of every notebook in ``folder``; return those changed."""
    changed = []
    for path, nav in _pages_and_nav(folder):
        text = path.read_text(encoding="utf-8")
        new = dump_notebook(with_nav(json.loads(text), nav))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def cell_text(cell: dict) -> str:
    """A cell's source as one string, whether stored as a string or a list of lines."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def cell_output_text(cell: dict) -> str:
    """Everything a code cell printed or displayed as text (streams, results, errors)."""
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(cell_text({"source": output["text"]}))
        data = output.get("data", {})
        if "text/plain" in data:
            parts.append(cell_text({"source": data["text/plain"]}))
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def notebook_client(path: Path, *, timeout: int = 300, **options: object) -> tuple:
    """``(notebook, nbclient.NotebookClient)`` for ``path``, its kernel started in the notebook's
    folder as JupyterLab would start it."""
    import nbclient
    import nbformat

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        **options,
    )
    return notebook, client


def execute_notebook(
    path: Path, *, timeout: int = 300, store_widget_state: bool = False
) -> tuple[dict, float]:
    """Run a notebook top to bottom in a fresh kernel; return the executed JSON and seconds taken.

    The kernel starts in the notebook's folder, as JupyterLab would start it. Raises
    ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    """
    import time

    import nbformat

    notebook, client = notebook_client(path, timeout=timeout, store_widget_state=store_widget_state)
    start = time.perf_counter()
    client.execute()
    return json.loads(nbformat.writes(notebook)), time.perf_counter() - start


def all_demos() -> dict[str, Callable[[], SliderDemo]]:
    """Map each notebook module (``utils.nbNN_*``) that has a slider demo to its ``build_demo``.

    Tests and benchmarks sweep every demo found here, so no list is kept by hand.

    >>> "nb01_affine" in all_demos()
    True
    """
    import importlib
    import pkgutil

    import utils

    found = {}
    for info in pkgutil.iter_modules(utils.__path__):
        if re.fullmatch(r"nb\d{2}_\w+", info.name):
            build = getattr(importlib.import_module(f"utils.{info.name}"), "build_demo", None)
            if callable(build):
                found[info.name] = build
    return dict(sorted(found.items()))


def definitions_from_notebook(path: Path, *names: str) -> dict[str, object]:
    """The functions and classes ``names`` exactly as a notebook's cells define them.

    Runs the notebook's import statements, then only the ``def``/``class`` statements (and
    their decorators) that define ``names``, in notebook order, so tests check the code a
    learner reads, not a copy of it. Raises ``KeyError`` naming a definition not found.
    """
    import ast

    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    imports, definitions = [], {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse(cell_text(cell)).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                imports.append(node)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in names:
                definitions[node.name] = (index, node.lineno, node)  # a later cell's wins
    missing = [name for name in names if name not in definitions]
    if missing:
        raise KeyError(f"{Path(path).name} defines no {missing}")
    namespace: dict[str, object] = {"__name__": f"notebook_{Path(path).stem}"}
    ordered = [node for *_, node in sorted(definitions.values(), key=lambda d: d[:2])]
    module = ast.Module(body=[*imports, *ordered], type_ignores=[])
    exec(compile(module, str(path), "exec"), namespace)
    return {name: namespace[name] for name in names}


def run_solution_cells(path: Path) -> str:
    """Run a notebook's imports, then every solution cell in order; return what they printed.

    Tests use it to prove each folded solution passes its own self-check.
    """
    import ast
    import contextlib
    import io

    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    sources = [cell_text(c) for c in cells if c["cell_type"] == "code"]
    imports = [
        ast.unparse(node)
        for source in sources
        for node in ast.parse(source).body
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    solutions = [cell_text(c) for c in cells if "solution" in c["metadata"].get("tags", [])]
    namespace: dict[str, object] = {}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        for source in [*imports, *solutions]:
            exec(compile(source, str(path), "exec"), namespace)
    return output.getvalue()


def code_without_comments(source: str) -> str:
    """Python source with its comments and blank lines removed, for comparing two editions.

    >>> print(code_without_comments("x = 1  # one\\n# note\\n\\ny = '# kept'"))
    x = 1
    y = '# kept'
    """
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source  # not Python (a magic, say): compare it as written
    lines = source.splitlines()
    for token in reversed([t for t in tokens if t.type == tokenize.COMMENT]):
        (row, col), _ = token.start, token.end
        lines[row - 1] = lines[row - 1][:col]
    return "\n".join(line.rstrip() for line in lines if line.strip())


#: The one line the two editions' code may differ in: the language switch of the setup cell.
LANGUAGE_SWITCH = re.compile(r'set_language\("(?:en|zh)"\)')
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
HEADING = re.compile(r"^(#{1,6}) ", re.M)


def parity_differences(english: Path, translated: Path) -> list[str]:
    """Every way ``translated`` drifts from ``english``: an empty list when they are in step.

    Compared cell by cell: cell count and kinds; code with comments stripped (the setup cell's
    ``set_language("zh")`` counts as ``set_language("en")``); cell tags and metadata (folded
    solutions stay folded); in markdown, the heading levels and every display formula.
    """
    english, translated = Path(english), Path(translated)
    name = f"zh/{translated.name}"
    if not translated.exists():
        return [f"{name}: missing (the English edition has {english.name})"]
    en_cells = json.loads(english.read_text(encoding="utf-8"))["cells"]
    zh_cells = json.loads(translated.read_text(encoding="utf-8"))["cells"]
    problems = []
    if len(en_cells) != len(zh_cells):
        problems.append(f"{name}: {len(zh_cells)} cells, the English edition has {len(en_cells)}")
    for index, (en, zh) in enumerate(zip(en_cells, zh_cells, strict=False)):
        where = f"{name} cell {index}"
        if en["cell_type"] != zh["cell_type"]:
            problems.append(f"{where}: {zh['cell_type']} cell, English has {en['cell_type']}")
            continue
        if en.get("metadata", {}) != zh.get("metadata", {}):
            problems.append(f"{where}: metadata {zh.get('metadata')} != {en.get('metadata')}")
        en_text, zh_text = cell_text(en), cell_text(zh)
        if en["cell_type"] == "code":
            en_code = LANGUAGE_SWITCH.sub('set_language("en")', code_without_comments(en_text))
            zh_code = LANGUAGE_SWITCH.sub('set_language("en")', code_without_comments(zh_text))
            if en_code != zh_code:
                first = next(
                    (a, b)
                    for a, b in zip(
                        [*en_code.splitlines(), ""], [*zh_code.splitlines(), ""], strict=False
                    )
                    if a != b
                )
                problems.append(f"{where}: code differs; English {first[0]!r}, zh {first[1]!r}")
        elif not en_text.startswith(NAV_MARKER):
            if HEADING.findall(en_text) != HEADING.findall(zh_text):
                problems.append(f"{where}: headings differ from the English cell's")
            if sorted(DISPLAY_MATH.findall(en_text)) != sorted(DISPLAY_MATH.findall(zh_text)):
                problems.append(f"{where}: display formulas ($$…$$) differ from the English")
    return problems
