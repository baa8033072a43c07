"""Every notebook follows the series conventions (see CONTRIBUTING.md); the start page is a map."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from scripts.series import (
    EDITIONS,
    NAV_MARKER,
    NAV_WORDS,
    START_PAGE,
    cell_text,
    edition_of,
    series,
    stale_nav,
)

ROOT = Path(__file__).resolve().parent.parent

#: The fixed words of each edition's conventions (CONTRIBUTING.md; the Chinese ones in the
#: translation brief there): section headings, the solution marker, the start page's title.
CONVENTIONS = {
    "en": {
        "sections": ("## You will learn", "## Summary", "## 1. "),
        "solution": "**Solution**",
        "start_title": r"# Start here\b",
        "start_needs": (
            "not attempted yet",  # what a self-check says about an untouched exercise
            "**Solution** (click to expand)",
        ),
    },
    "zh": {
        "sections": ("## 你将学到", "## 小结", "## 1. "),
        "solution": "**参考答案**",
        "start_title": r"# 从这里开始：",
        "start_needs": ("… 尚未作答", "**参考答案**（点击展开）"),
    },
}
#: JupyterLab's own menu names: its interface is English in both editions.
START_PAGE_MENUS = (
    "Restart Kernel and Clear Outputs of All Cells",
    "Revert Notebook to Checkpoint",
    "Close and Shut Down Notebook",
    "Binder",
)


def load(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def code_sources(notebook: dict) -> list[str]:
    return [cell_text(c) for c in notebook["cells"] if c["cell_type"] == "code"]


def markdown_text(notebook: dict) -> str:
    return "\n".join(cell_text(c) for c in notebook["cells"] if c["cell_type"] == "markdown")


def test_valid_nbformat(notebook_path):
    nbformat.validate(nbformat.read(notebook_path, as_version=4))


def test_committed_without_outputs(notebook_path):
    for index, cell in enumerate(load(notebook_path)["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {index} has outputs: strip them before committing"
            assert cell["execution_count"] is None, f"cell {index} has an execution count"


def test_title_promise_and_sections(notebook_path):
    notebook = load(notebook_path)
    number = notebook_path.name[:2]
    title_cell = cell_text(notebook["cells"][0])
    assert re.match(rf"# {number} · \S", title_cell), "first cell: '# NN · Title'"
    assert len(title_cell.splitlines()) >= 3, "the title needs a one-paragraph promise below it"
    text = markdown_text(notebook)
    for heading in CONVENTIONS[edition_of(notebook_path.parent)]["sections"]:
        assert heading in text, f"missing '{heading}' section"
    assert "$" in text, "math belongs next to the code: no LaTeX found"


def test_navigation_top_and_bottom(notebook_path):
    cells = load(notebook_path)["cells"]
    assert cell_text(cells[1]).startswith(NAV_MARKER), "second cell must be the nav cell"
    assert cell_text(cells[-1]).startswith(NAV_MARKER), "last cell must be the nav cell"


@pytest.mark.parametrize("edition", EDITIONS)
def test_navigation_is_up_to_date(edition):
    stale = stale_nav(EDITIONS[edition])
    assert not stale, f"stale navigation in {[p.name for p in stale]}: run `make nav`"


def test_nav_script_check_mode_agrees():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.nav", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_setup_cell_prints_versions_and_seeds(notebook_path):
    setup = code_sources(load(notebook_path))[0]
    assert "version(" in setup, "first code cell prints the package versions"
    assert "manual_seed(" in setup, "first code cell seeds torch"


def test_exercises_have_checks_and_folded_solutions(notebook_path):
    cells = load(notebook_path)["cells"]
    exercises = [i for i, c in enumerate(cells) if "exercise" in c["metadata"].get("tags", [])]
    solutions = [i for i, c in enumerate(cells) if "solution" in c["metadata"].get("tags", [])]
    assert exercises, "every notebook ends with exercises"
    assert len(exercises) == len(solutions), "one folded solution per exercise"
    for exercise, solution in zip(exercises, solutions, strict=True):
        assert exercise < solution
        check = cell_text(cells[exercise + 1])
        assert cells[exercise + 1]["cell_type"] == "code" and "check_" in check, (
            f"cell {exercise + 1}: a self-check call must follow the exercise stub"
        )
        assert cells[solution]["metadata"].get("jupyter", {}).get("source_hidden") is True, (
            f"cell {solution}: solution cells are stored folded"
        )
        marker = CONVENTIONS[edition_of(notebook_path.parent)]["solution"]
        assert marker in cell_text(cells[solution - 1]), (
            f"cell {solution - 1}: put '{marker}' (click to expand) above the solution"
        )
        assert "check_" in cell_text(cells[solution]), "a solution ends by running its check"


FORBIDDEN_IN_CODE = {
    r"sys\.path\.(append|insert)": "install the repo instead of editing sys.path",
    r"^\s*[!%]pip\b": "dependencies belong in requirements.txt",
    r"\.data\s*=|\.data\.\w+_\(": "use torch.no_grad() and nn.init, never .data",
    r"plt\.style\.use|rcParams\[": "style locally, not globally",
    r"filterwarnings\(\s*['\"]ignore['\"]\s*\)": "silence only named warnings",
    r"urlopen|requests\.get|download=True": "data is generated, nothing downloads",
}


@pytest.mark.parametrize("pattern", FORBIDDEN_IN_CODE)
def test_no_forbidden_code(notebook_path, pattern):
    for index, source in enumerate(code_sources(load(notebook_path))):
        assert not re.search(pattern, source, re.M), (
            f"code cell {index}: {FORBIDDEN_IN_CODE[pattern]}"
        )


# The start page (notebooks/00_start_here.ipynb, and zh/ the same) is not a lesson: no "You
# will learn", no exercises, nothing to run. It is the map every "Series index" link leads to.


@pytest.mark.parametrize("edition", EDITIONS)
def test_start_page_is_a_clean_markdown_notebook(edition):
    start = EDITIONS[edition] / START_PAGE
    nbformat.validate(nbformat.read(start, as_version=4))
    cells = load(start)["cells"]
    assert all(c["cell_type"] == "markdown" for c in cells), "the start page runs nothing"
    title = CONVENTIONS[edition]["start_title"]
    assert re.match(title, cell_text(cells[0])), f"first cell: {title!r}"
    assert cell_text(cells[1]).startswith(NAV_MARKER), "second cell must be the nav cell"
    assert cell_text(cells[-1]).startswith(NAV_MARKER), "last cell must be the nav cell"


@pytest.mark.parametrize("edition", EDITIONS)
def test_start_page_maps_every_lesson_in_order(edition):
    text = markdown_text(load(EDITIONS[edition] / START_PAGE))
    rows = re.findall(r"^\| (\d{2}) \| \[([^\]]+)\]\(([^)]+)\) \|(.+)\|$", text, re.M)
    lessons = series(EDITIONS[edition])
    assert [(number, href) for number, _title, href, _rest in rows] == [
        (f"{book.number:02d}", book.path.name) for book in lessons
    ], "the series map must link every lesson, in reading order"
    for (number, title, _href, rest), book in zip(rows, lessons, strict=True):
        assert book.title == f"{number} · {title}", f"map row {number}: title {title!r}"
        what, time, before = (cell.strip() for cell in rest.split(" | "))
        assert what and before, f"map row {number}: say what it teaches and what it needs"
        assert re.fullmatch(r"\d+ min", time), f"map row {number}: time as 'NN min'"


@pytest.mark.parametrize("edition", EDITIONS)
def test_start_page_says_how_to_work_reset_and_free_memory(edition):
    start = EDITIONS[edition] / START_PAGE
    text = " ".join(markdown_text(load(start)).split())  # as rendered: line breaks are spaces
    for needed in (*CONVENTIONS[edition]["start_needs"], *START_PAGE_MENUS):
        assert needed in text, f"the start page should mention {needed!r}"


def test_every_nav_bar_leads_to_the_start_page(notebook_path):
    cells = load(notebook_path)["cells"]
    index = NAV_WORDS[edition_of(notebook_path.parent)]["index"]
    for cell in (cells[1], cells[-1]):
        assert f"[{index}]({START_PAGE})" in cell_text(cell)


def test_make_lab_opens_the_start_page():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--ServerApp.root_dir=notebooks" in recipe
    assert "--LabApp.default_url=/lab/tree/$(START)" in recipe
    assert f"\nSTART ?= {START_PAGE}\n" in makefile
    assert f"\nlab-zh: START = zh/{START_PAGE}\nlab-zh: lab\n" in makefile
    assert "--ServerApp.ip=127.0.0.1" in recipe, "JupyterLab listens on this machine only"
    assert "token" not in recipe.lower(), "token authentication stays on"


# A line break inside Chinese prose renders as a space between two characters ("权重 衰减"):
# Chinese paragraphs are written on one line (CONTRIBUTING.md, the Chinese edition).
SOFT_BREAK = re.compile(r"[\u4e00-\u9fff，。：；、（）“”！？]\n[\u4e00-\u9fff，。：；、（）“”！？]")


@pytest.mark.parametrize("name", sorted(p.name for p in EDITIONS["zh"].glob("*.ipynb")))
def test_chinese_prose_has_no_line_breaks_between_characters(name):
    for index, cell in enumerate(load(EDITIONS["zh"] / name)["cells"]):
        if cell["cell_type"] == "markdown":
            found = SOFT_BREAK.search(cell_text(cell))
            assert not found, f"zh/{name} cell {index}: line break inside a sentence {found[0]!r}"


def unrendered_bold(markdown: str) -> list[str]:
    """``**`` that a CommonMark renderer leaves as literal asterisks, e.g. ``**时间：**约`` (a
    closing ``**`` right after punctuation must not be followed by a letter: ``**时间**：约``).

    >>> unrendered_bold("**时间：**约 60 分钟"), unrendered_bold("**时间**：约 60 分钟")
    (['**时间：**约 60 分钟'], [])
    """
    import mistune

    text = re.sub(r"\$\$.+?\$\$|\$[^$\n]+\$", "MATH", markdown, flags=re.S)
    rendered = mistune.create_markdown()(text)
    rendered = re.sub(r"<code>.*?</code>|<pre>.*?</pre>", "", rendered, flags=re.S)
    shown = re.sub(r"<[^>]+>", "", rendered)  # the text a reader sees
    return [line for line in shown.splitlines() if "**" in line]


@pytest.mark.parametrize(
    "path",
    sorted(p for folder in EDITIONS.values() for p in folder.glob("*.ipynb")),
    ids=lambda p: f"{edition_of(p.parent)}-{p.stem}",
)
def test_bold_text_renders_as_bold(path):
    for index, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "markdown":
            literal = unrendered_bold(cell_text(cell))
            assert not literal, f"{path.name} cell {index}: ** shown literally in {literal}"
