"""The Binder set-up builds what we mean: Python 3.11, our pins, CPU-only torch, the repo installed.

``repo2docker --no-build`` (the tool mybinder.org runs) prints the Dockerfile it would build,
without Docker and without the network; the tests read that plan and the files it installs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from escapism import unescape

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GPU_PACKAGES = re.compile(r"nvidia|cuda|cudnn|cublas|nccl|triton|rocm|\+cu\d+", re.I)
#: Folders that are not part of the repository's content.
NOT_CONTENT = {".venv", ".git", "build", "artifacts", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, keyed by lower-case name."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            found[name.strip().lower()] = version.strip()
    return found


def options(path: Path) -> list[str]:
    """The option lines (``-e .``, ``--extra-index-url …``) of a requirements file."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line.startswith("-")]


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> tuple[str, str, Path]:
    """(Dockerfile, repo2docker's log, the copy of the repository it looked at)."""
    repo = tmp_path_factory.mktemp("binder") / "repo"
    shutil.copytree(
        ROOT, repo, ignore=lambda folder, names: NOT_CONTENT if Path(folder) == ROOT else ()
    )
    # mybinder.org builds for user 1000 (jovyan); repo2docker would otherwise take ours (root).
    command = [sys.executable, "-m", "repo2docker", "--no-build", "--no-run"]
    command += ["--user-id", "1000", "--user-name", "jovyan", str(repo)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"repo2docker failed:\n{result.stderr}"
    return result.stdout, result.stderr, repo


def test_runtime_is_python_311():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_binder_installs_the_same_pins_with_cpu_torch():
    main, binder = pins(ROOT / "requirements.txt"), pins(BINDER / "requirements.txt")
    assert binder.keys() == main.keys(), "binder/requirements.txt must pin the same packages"
    for name, version in main.items():
        expected = f"{version}+cpu" if name == "torch" else version
        assert binder[name] == expected, f"binder pins {name}=={binder[name]}, want {expected}"
    assert f"--extra-index-url {CPU_INDEX}" in options(BINDER / "requirements.txt")
    assert "-e ." in options(BINDER / "requirements.txt"), "the repo must be installed too"


def test_nothing_in_binder_pulls_gpu_packages():
    for path in BINDER.rglob("*"):
        if path.is_file():
            match = GPU_PACKAGES.search(path.read_text(encoding="utf-8"))
            assert match is None, f"{path.name} mentions {match[0]!r}"


def test_repo2docker_picks_python_311(plan):
    dockerfile, log, _repo = plan
    assert "Building conda environment for python=3.11" in log
    lock = re.search(
        r"^COPY \S+ build_script_files/(\S+) /tmp/env/environment\.lock$", dockerfile, re.M
    )
    assert lock, "no base environment in the plan"
    # The file name is the escaped host path of repo2docker's lock file, then "-" + a hash.
    source = unescape(re.sub(r"-[0-9a-f]{6}$", "", lock[1]), escape_char="-")
    assert re.search(r"/environment\.py-3\.11-linux-[a-z0-9_]+\.lock$", source), source
    # One environment: the kernel's Python is the server's Python 3.11.
    assert "ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}" in dockerfile


def test_repo2docker_installs_binder_requirements_after_copying_the_repo(plan):
    dockerfile, _log, repo = plan
    lines = dockerfile.splitlines()
    installs = [
        i
        for i, line in enumerate(lines)
        if re.fullmatch(
            r'RUN \$\{KERNEL_PYTHON_PREFIX\}/bin/pip install .*-r "binder/requirements\.txt"', line
        )
    ]
    assert len(installs) == 1, "repo2docker should pip-install binder/requirements.txt once"
    copy_repo = lines.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    workdir = lines.index("WORKDIR ${REPO_DIR}")
    # `-e .` needs the whole repository in place, and pip runs from its root.
    assert workdir < copy_repo < installs[0]
    installed = repo / "binder" / "requirements.txt"
    assert pins(installed)["torch"] == "2.13.0+cpu"
    assert f"--extra-index-url {CPU_INDEX}" in options(installed)
    assert "-e ." in options(installed)
    assert GPU_PACKAGES.search(dockerfile) is None
