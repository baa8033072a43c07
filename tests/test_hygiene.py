"""Every notebook follows the series conventions (see CONTRIBUTING.md); the start page is a map."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from scripts.series import NAV_MARKER, START_PAGE, cell_text, series, stale_nav

ROOT = Path(__file__).resolve().parent.parent
ROOT_NOTEBOOKS = ROOT / "notebooks"


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
    for heading in ("## You will learn", "## Summary", "## 1. "):
        assert heading in text, f"missing '{heading}' section"
    assert "$" in text, "math belongs next to the code: no LaTeX found"


def test_navigation_top_and_bottom(notebook_path):
    cells = load(notebook_path)["cells"]
    assert cell_text(cells[1]).startswith(NAV_MARKER), "second cell must be the nav cell"
    assert cell_text(cells[-1]).startswith(NAV_MARKER), "last cell must be the nav cell"


def test_navigation_is_up_to_date():
    stale = stale_nav(ROOT_NOTEBOOKS)
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
        assert "**Solution**" in cell_text(cells[solution - 1]), (
            f"cell {solution - 1}: put '**Solution** (click to expand)' above the solution"
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


# The start page (notebooks/00_start_here.ipynb) is not a lesson: no "You will learn", no
# exercises, nothing to run. It is the map every "Series index" link leads to.
START = ROOT_NOTEBOOKS / START_PAGE


def test_start_page_is_a_clean_markdown_notebook():
    nbformat.validate(nbformat.read(START, as_version=4))
    cells = load(START)["cells"]
    assert all(c["cell_type"] == "markdown" for c in cells), "the start page runs nothing"
    assert re.match(r"# Start here\b", cell_text(cells[0])), "first cell: '# Start here: …'"
    assert cell_text(cells[1]).startswith(NAV_MARKER), "second cell must be the nav cell"
    assert cell_text(cells[-1]).startswith(NAV_MARKER), "last cell must be the nav cell"


def test_start_page_maps_every_lesson_in_order():
    text = markdown_text(load(START))
    rows = re.findall(r"^\| (\d{2}) \| \[([^\]]+)\]\(([^)]+)\) \|(.+)\|$", text, re.M)
    lessons = series(ROOT_NOTEBOOKS)
    assert [(number, href) for number, _title, href, _rest in rows] == [
        (f"{book.number:02d}", book.path.name) for book in lessons
    ], "the series map must link every lesson, in reading order"
    for (number, title, _href, rest), book in zip(rows, lessons, strict=True):
        assert book.title == f"{number} · {title}", f"map row {number}: title {title!r}"
        what, time, before = (cell.strip() for cell in rest.split(" | "))
        assert what and before, f"map row {number}: say what it teaches and what it needs"
        assert re.fullmatch(r"\d+ min", time), f"map row {number}: time as 'NN min'"


def test_start_page_says_how_to_work_reset_and_free_memory():
    text = " ".join(markdown_text(load(START)).split())  # as rendered: line breaks are spaces
    for needed in (
        "not attempted yet",  # what a self-check says about an untouched exercise
        "**Solution** (click to expand)",
        "Restart Kernel and Clear Outputs of All Cells",
        "Revert Notebook to Checkpoint",
        "Close and Shut Down Notebook",
        "Binder",
    ):
        assert needed in text, f"the start page should mention {needed!r}"


def test_every_nav_bar_leads_to_the_start_page(notebook_path):
    cells = load(notebook_path)["cells"]
    for cell in (cells[1], cells[-1]):
        assert f"[Series index]({START_PAGE})" in cell_text(cell)


def test_make_lab_opens_the_start_page():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--ServerApp.root_dir=notebooks" in recipe
    assert f"--LabApp.default_url=/lab/tree/{START_PAGE}" in recipe
    assert "--ServerApp.ip=127.0.0.1" in recipe, "JupyterLab listens on this machine only"
    assert "token" not in recipe.lower(), "token authentication stays on"
