"""Run every notebook of both editions headless, top to bottom, as a learner's "Run All" would.

Exercises stay as stubs, so each self-check right after a stub must say "not attempted yet"
and each folded solution cell must pass its own check (✓). Any error output or anything on
stderr (warnings included, deprecations too) fails the notebook.
"""

from __future__ import annotations

import pytest

from scripts.series import cell_output_text, cell_text, edition_of, execute_notebook
from utils import set_language, tr
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def not_attempted_mark(edition: str) -> str:
    """What an untouched exercise's check prints in ``edition`` ("… 尚未作答" in Chinese)."""
    set_language(edition)
    try:
        return tr(NOT_ATTEMPTED_MARK)
    finally:
        set_language("en")


@pytest.mark.notebook
def test_notebook_runs_clean(notebook_path, notebook_times, monkeypatch):
    path = notebook_path
    monkeypatch.setenv("PYTHONWARNINGS", "default")  # show every warning once, so we see it
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline, as in JupyterLab
    executed, seconds = execute_notebook(path)
    edition = edition_of(path.parent)
    notebook_times.append((path.name if edition == "en" else f"zh/{path.name}", seconds))

    cells = executed["cells"]
    untouched = not_attempted_mark(edition)
    code_cells = [c for c in cells if c["cell_type"] == "code"]
    for index, cell in enumerate(code_cells):
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name} code cell {index} failed"
            if output["output_type"] == "stream" and output["name"] == "stderr":
                pytest.fail(
                    f"{path.name} code cell {index} wrote to stderr:\n"
                    f"{cell_output_text({'outputs': [output]})}"
                )

    shows = sum("plt.show()" in cell_text(cell) for cell in code_cells)
    images = sum(
        "image/png" in output.get("data", {}) for cell in code_cells for output in cell["outputs"]
    )
    assert images >= shows, (
        f"{path.name}: {shows} cells call plt.show() but {images} plots came out"
    )

    for index, cell in enumerate(code_cells):
        if "exercise" in tags(cell):
            check_cell = code_cells[index + 1]
            assert untouched in cell_output_text(check_cell), (
                f"{path.name}: the self-check after exercise cell {index} should report "
                "'not attempted' for the untouched stub"
            )
        if "solution" in tags(cell):
            assert PASS_MARK in cell_output_text(cell), (
                f"{path.name}: solution cell {index} did not pass its self-check"
            )
