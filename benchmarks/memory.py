"""Memory per learner: each notebook's kernel peak, and JupyterLab's own footprint.

Run from the repository root:  .venv/bin/python -m benchmarks.memory  (Linux: reads /proc)

- **Kernel peak**: every notebook runs top to bottom in a fresh kernel, as "Run All" would,
  then every control of its demo is moved across its range; the kernel's peak resident set
  size (``VmHWM`` in ``/proc/<kernel pid>/status``) is read after each. That is the most one
  open notebook costs; the kernel keeps most of it until it is shut down.
- **JupyterLab**: a JupyterLab server from ``.venv`` on 127.0.0.1 (token on, throw-away
  settings), a headless Chromium opening the start page in it; then the server's resident
  set, and the start page's idle kernel.

Prints Markdown tables; measures, never asserts. The README's "Teaching a class" section
quotes these figures.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = "/usr/bin/chromium"
MB = 2**20


def status_kb(pid: int, field: str) -> int:
    """A ``kB`` field (``VmHWM``, ``VmRSS``) of ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(f"no {field} in /proc/{pid}/status")


#: Run in the kernel after the notebook: move every control of every demo the notebook showed
#: (kept in IPython's ``Out``) across its range, as a learner playing with the sliders would.
SWEEP_DEMOS = """\
from utils.widgets import SliderDemo as _SliderDemo

for _demo in [v for v in Out.values() if isinstance(v, _SliderDemo)]:
    for _control in _demo.controls.values():
        _start = _control.value
        if hasattr(_control, "options"):
            _options = _control.options
            _values = list(_options.values()) if isinstance(_options, dict) else [
                o[1] if isinstance(o, tuple) else o for o in _options
            ]
        elif hasattr(_control, "min"):
            _values = [_control.min + (_control.max - _control.min) * i / 7 for i in range(8)]
            if isinstance(_start, int) and not isinstance(_start, bool):
                _values = [round(v) for v in _values]
        else:
            _values = [not _start]
        for _value in _values:
            _control.value = _value
        _control.value = _start
"""


def kernel_peak_mb(path: Path, timeout: int = 300) -> tuple[float, float]:
    """Run ``path`` in a fresh kernel; return the kernel's peak RSS in MB after "Run All", and
    after every demo control was then moved across its range."""
    import nbformat

    from scripts.series import notebook_client

    # A learner's kernel draws with the inline backend, not a test's Agg.
    os.environ.pop("MPLBACKEND", None)
    notebook, client = notebook_client(path, timeout=timeout)
    sweep = nbformat.v4.new_code_cell(SWEEP_DEMOS)
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        pid = client.km.provisioner.pid
        run_all = status_kb(pid, "VmHWM") / 1024
        notebook.cells.append(sweep)
        client.execute_cell(sweep, len(notebook.cells) - 1)
        return run_all, status_kb(pid, "VmHWM") / 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_footprint_mb(settle: float = 5.0) -> dict[str, float]:
    """Start JupyterLab, open the start page in headless Chromium; return resident sizes in MB.

    Keys: ``server`` (the server's RSS with the page open), ``server_peak`` (its VmHWM),
    ``idle_kernel`` (the start page's kernel, nothing run in it).
    """
    import psutil
    from playwright.sync_api import sync_playwright

    port, token = _free_port(), secrets.token_hex(24)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        root = work / "notebooks"
        shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        env.pop("MPLBACKEND", None)
        for name in ("config", "data", "runtime"):
            env[f"JUPYTER_{name.upper()}_DIR"] = str(work / name)
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(work / "workspaces")
        command = [
            str(ROOT / ".venv" / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ]
        log = (work / "lab.log").open("w")
        server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).close()
                    break
                except (urllib.error.URLError, ConnectionError):
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("JupyterLab did not start") from None
                    time.sleep(0.3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page()
                page.goto(f"{base}/lab/tree/00_start_here.ipynb?reset&token={token}")
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator", timeout=60_000)
                time.sleep(settle)  # kernel started, page idle
                process = psutil.Process(server.pid)
                kernels = process.children(recursive=True)
                figures = {
                    "server": process.memory_info().rss / MB,
                    "server_peak": status_kb(server.pid, "VmHWM") / 1024,
                    "idle_kernel": sum(k.memory_info().rss for k in kernels) / MB,
                    "kernels": len(kernels),
                }
                browser.close()
            return figures
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-lab", action="store_true", help="only the kernel peaks")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        print("memory figures need Linux (/proc); skipped")
        return 0
    print_memory(skip_lab=args.skip_lab)
    return 0


def print_memory(skip_lab: bool = False) -> dict[str, object]:
    """Print (and return) the kernel peak of every notebook and JupyterLab's footprint."""
    from scripts.series import series

    figures: dict[str, object] = {}
    print("\n## Memory per learner (Linux, resident set)\n")
    print("| notebook | kernel peak after Run All, MB | … and every slider moved, MB |")
    print("|---|---:|---:|")
    peaks = {}
    for book in series(NOTEBOOKS):
        run_all, sliders = kernel_peak_mb(book.path)
        peaks[book.path.name] = {"run_all": run_all, "sliders": sliders}
        print(f"| {book.path.name} | {run_all:.0f} | {sliders:.0f} |")
    figures["kernel_mb"] = peaks
    if not skip_lab:
        lab = lab_footprint_mb()
        figures["lab_mb"] = lab
        print(
            f"\nJupyterLab server with the start page open: {lab['server']:.0f} MB "
            f"(peak {lab['server_peak']:.0f} MB); the start page's idle kernel: "
            f"{lab['idle_kernel']:.0f} MB"
        )
    return figures


if __name__ == "__main__":
    sys.exit(main())
