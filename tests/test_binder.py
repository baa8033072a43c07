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
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GPU_PACKAGES = re.compile(r"nvidia|cuda|cudnn|cublas|nccl|triton|rocm|\+cu\d+", re.I)
#: Folders that are not part of the repository's content.
NOT_CONTENT = {".venv", ".git", "build", "artifacts", ".pytest_cache", ".ruff_cache", ".hypothesis"}


#: Marker environments of the learners' platforms (Python 3.11, the version CI runs).
PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
}


def requirements(path: Path) -> list[Requirement]:
    """The requirement lines of a requirements file (options and comments left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def pins(path: Path, platform: str = "linux") -> dict[str, str]:
    """The exact pins pip installs from ``path`` on ``platform``, keyed by lower-case name.

    Requirements whose environment marker is false there are left out; a package pinned twice
    for the same platform is an error.
    """
    environment = {**default_environment(), "python_version": "3.11", **PLATFORMS[platform]}
    found: dict[str, str] = {}
    for requirement in requirements(path):
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = requirement.name.lower()
        (specifier,) = requirement.specifier  # one exact pin per line
        assert specifier.operator == "==", f"{path.name}: {requirement} is not an exact pin"
        assert name not in found, f"{path.name}: {name} pinned twice on {platform}"
        found[name] = specifier.version
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


@pytest.mark.parametrize(
    ("platform", "torch"),
    [("linux", "2.13.0+cpu"), ("macos", "2.13.0"), ("windows", "2.13.0")],
)
def test_requirements_pick_cpu_torch_on_every_platform(platform, torch):
    """Linux gets the CPU build from PyTorch's CPU index (PyPI's Linux wheel pulls CUDA);
    macOS and Windows get PyPI's wheel, which is CPU-only, at the same version."""
    installed = pins(ROOT / "requirements.txt", platform)
    assert installed["torch"] == torch
    assert GPU_PACKAGES.search(installed["torch"]) is None
    assert installed.keys() == pins(ROOT / "requirements.txt", "linux").keys()
    # The CPU index has to be in the file itself, so that a plain `pip install -r` gets it too.
    assert f"--extra-index-url {CPU_INDEX}" in options(ROOT / "requirements.txt")


def test_torch_versions_agree_across_platforms():
    versions = {pins(ROOT / "requirements.txt", p)["torch"].split("+")[0] for p in PLATFORMS}
    assert len(versions) == 1, f"torch pinned at different versions per platform: {versions}"


def test_binder_installs_the_same_pins_as_linux():
    main, binder = pins(ROOT / "requirements.txt"), pins(BINDER / "requirements.txt")
    assert binder == main, "binder/requirements.txt must pin what requirements.txt pins on Linux"
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
