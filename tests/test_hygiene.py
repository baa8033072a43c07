"""Every notebook follows the series conventions (see notebooks/README.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from scripts.series import NAV_MARKER, cell_text, stale_nav

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
