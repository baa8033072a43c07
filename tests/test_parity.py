"""The Chinese edition (``notebooks/zh/``) cannot drift from the English one.

Cell for cell: the same cells of the same kinds, the same code once comments are stripped
(only the setup cell's ``set_language`` argument differs), the same tags and folding, the
same headings and display formulas. Plus the glossary rule: every glossary term (术语表,
``scripts/glossary.py``) has its English term beside its first use in each notebook.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from scripts.glossary import GLOSSARY, english
from scripts.series import (
    EDITIONS,
    NAV_MARKER,
    START_PAGE,
    cell_text,
    dump_notebook,
    parity_differences,
)

ROOT = Path(__file__).resolve().parent.parent
EN, ZH = EDITIONS["en"], EDITIONS["zh"]
PAGES = sorted(path.name for path in EN.glob("*.ipynb"))


def test_every_notebook_has_a_translation_and_nothing_else():
    assert sorted(path.name for path in ZH.glob("*.ipynb")) == PAGES


@pytest.mark.parametrize("name", PAGES)
def test_chinese_edition_matches_english_cell_for_cell(name: str):
    differences = parity_differences(EN / name, ZH / name)
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("name", [n for n in PAGES if n != START_PAGE])
def test_each_edition_sets_its_own_language(name: str):
    for edition, folder in EDITIONS.items():
        cells = json.loads((folder / name).read_text(encoding="utf-8"))["cells"]
        setup = cell_text(next(c for c in cells if c["cell_type"] == "code"))
        assert f'set_language("{edition}")' in setup, f"{folder.name}/{name}: setup cell"


# ---- the parity check itself catches drift -------------------------------------------------

SAMPLE = "04_gradients.ipynb"


def _copy(tmp_path: Path) -> tuple[Path, dict]:
    """A copy of one Chinese notebook to change, and its JSON."""
    (tmp_path / "zh").mkdir()
    copy = tmp_path / "zh" / SAMPLE
    shutil.copy(ZH / SAMPLE, copy)
    return copy, json.loads(copy.read_text(encoding="utf-8"))


def _code_cell(notebook: dict, skip: int = 1) -> int:
    """Index of a code cell after the setup cell (one with a number in it)."""
    found = [
        i
        for i, c in enumerate(notebook["cells"])
        if c["cell_type"] == "code" and re.search(r"\d", cell_text(c))
    ]
    return found[skip]


def test_parity_fails_on_a_changed_code_cell_naming_notebook_and_cell(tmp_path: Path):
    copy, notebook = _copy(tmp_path)
    index = _code_cell(notebook)
    source = cell_text(notebook["cells"][index])
    digit = re.search(r"\d", source)
    changed = source[: digit.start()] + str((int(digit[0]) + 1) % 10) + source[digit.end() :]
    notebook["cells"][index]["source"] = changed
    copy.write_text(dump_notebook(notebook), encoding="utf-8")
    differences = parity_differences(EN / SAMPLE, copy)
    assert len(differences) == 1
    assert differences[0].startswith(f"zh/{SAMPLE} cell {index}: code differs"), differences


def test_parity_allows_translated_comments_only(tmp_path: Path):
    copy, notebook = _copy(tmp_path)
    index = _code_cell(notebook)
    notebook["cells"][index]["source"] = cell_text(notebook["cells"][index]) + "  # 新的注释"
    copy.write_text(dump_notebook(notebook), encoding="utf-8")
    assert parity_differences(EN / SAMPLE, copy) == []


@pytest.mark.parametrize(
    "drift",
    ["drop a cell", "markdown for code", "unfold a solution", "drop a tag", "change a formula"],
)
def test_parity_fails_on_structural_drift(tmp_path: Path, drift: str):
    copy, notebook = _copy(tmp_path)
    cells = notebook["cells"]
    if drift == "drop a cell":
        del cells[5]
    elif drift == "markdown for code":
        index = _code_cell(notebook)
        cells[index] = {"cell_type": "markdown", "id": "x", "metadata": {}, "source": "x"}
    elif drift == "unfold a solution":
        solution = next(c for c in cells if "solution" in c["metadata"].get("tags", []))
        solution["metadata"]["jupyter"]["source_hidden"] = False
    elif drift == "drop a tag":
        exercise = next(c for c in cells if "exercise" in c["metadata"].get("tags", []))
        exercise["metadata"]["tags"] = []
    else:
        cell = next(c for c in cells if "$$" in cell_text(c))
        cell["source"] = cell_text(cell).replace("$$", "$$ 2 \\cdot", 1)
    copy.write_text(dump_notebook(notebook), encoding="utf-8")
    assert parity_differences(EN / SAMPLE, copy), f"{drift} went unnoticed"


# ---- the glossary --------------------------------------------------------------------------


def _prose(path: Path) -> str:
    """A notebook's markdown without headings and navigation: where terms are introduced."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join(
        cell_text(c)
        for c in cells
        if c["cell_type"] == "markdown" and not cell_text(c).startswith(NAV_MARKER)
    )
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("name", [n for n in PAGES if n != START_PAGE])
def test_glossary_terms_carry_their_english_on_first_use(name: str):
    prose = _prose(ZH / name)
    missing = []
    for term, forms in GLOSSARY.items():
        first = prose.find(term)
        if first == -1:
            continue
        after = prose[first : first + len(term) + 40].lower()
        if not any(form.lower() in after for form in forms):
            missing.append(f"{term} ({english(term)}): …{prose[first : first + 30]}…")
    assert not missing, f"zh/{name}: first use without the English term:\n" + "\n".join(missing)


@pytest.mark.parametrize("where", ["notebooks/zh/00_start_here.ipynb", "README.zh-CN.md"])
def test_glossary_is_listed_for_learners(where: str):
    text = (ROOT / where).read_text(encoding="utf-8")
    assert "术语表" in text
    missing = [term for term in GLOSSARY if term not in text or english(term) not in text]
    assert not missing, f"{where}: the glossary list misses {missing}"
