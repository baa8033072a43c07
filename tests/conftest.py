"""Shared test set-up: a headless matplotlib backend, a notebook timing report, the static site."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")  # before anything imports pyplot

import pytest
from hypothesis import settings

# Property-based tests explore the same examples on every run: CI stays reproducible.
settings.register_profile("series", derandomize=True, deadline=None, database=None)
settings.load_profile("series")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: (notebook name, seconds) filled by the notebook tests, printed at the end of the run.
NOTEBOOK_TIMES: list[tuple[str, float]] = []


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same random state, whichever tests run before it."""
    import torch

    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """Keep tests independent: no pyplot figure survives a test."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The static site, built once per test session as ``make html`` builds it (a process of
    its own, the notebooks drawn inline), into a temporary folder."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("site") / "html"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run(
        [sys.executable, "-m", "scripts.render_html", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"make html failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture
def notebook_times() -> list[tuple[str, float]]:
    """Append ``(name, seconds)`` here to have a notebook's run time printed in the summary."""
    return NOTEBOOK_TIMES


def notebook_id(path: Path) -> str:
    """``01_affine_maps`` for the English edition, ``zh-01_affine_maps`` for the Chinese one."""
    from scripts.series import edition_of

    return path.stem if edition_of(path.parent) == "en" else f"zh-{path.stem}"


def pytest_generate_tests(metafunc) -> None:
    """Parametrise any test taking ``notebook_path`` over the whole series, in order, in both
    editions (English, then Chinese)."""
    if "notebook_path" in metafunc.fixturenames:
        from scripts.series import EDITIONS, series

        paths = [book.path for folder in EDITIONS.values() for book in series(folder)]
        metafunc.parametrize("notebook_path", paths, ids=[notebook_id(p) for p in paths])


def pytest_terminal_summary(terminalreporter) -> None:
    if NOTEBOOK_TIMES:
        terminalreporter.section("notebook execution times")
        for name, seconds in NOTEBOOK_TIMES:
            terminalreporter.write_line(f"{name:<40} {seconds:6.1f} s")
