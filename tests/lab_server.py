"""A throw-away JupyterLab server for the browser tests, run as a learner would run it.

The server comes from the project's environment, listens on 127.0.0.1 on a free port, keeps
token auth on (a fresh random token), serves a copy of the notebooks, and has news, update
checks and autosave switched off (``tests/jupyterlab/overrides.json``). All of Jupyter's
config, data, runtime, settings and workspace folders point into the throw-away folder, so
nothing from the machine's own Jupyter set-up leaks in and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

OVERRIDES = Path(__file__).resolve().parent / "jupyterlab" / "overrides.json"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """Start with :meth:`start`, always end with :meth:`stop` (safe to call twice)."""

    def __init__(self, notebooks: Path, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.root = self.workdir / "notebooks"
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "jupyterlab.log"
        self.process: subprocess.Popen | None = None
        self._log = None
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))

    def _environment(self) -> dict[str, str]:
        jupyter = self.workdir / "jupyter"
        settings = jupyter / "app-settings"
        settings.mkdir(parents=True)
        shutil.copy(OVERRIDES, settings / "overrides.json")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTEST"))}
        # The tests' conftest forces Agg; a learner's kernel uses the inline backend.
        env.pop("MPLBACKEND", None)
        env.update(
            JUPYTER_TOKEN=self.token,
            JUPYTER_CONFIG_DIR=str(jupyter / "config"),
            JUPYTER_DATA_DIR=str(jupyter / "data"),
            JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(jupyter / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(jupyter / "workspaces"),
            IPYTHONDIR=str(jupyter / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        return env

    def command(self) -> list[str]:
        """The command line (the token travels in the environment, never on the command line)."""
        settings = self.workdir / "jupyter" / "app-settings"
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.app_settings_dir={settings}",
            "--LabApp.extension_manager=readonly",  # no PyPI queries for extensions
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI machines run as root
        ]

    def start(self, timeout: float = 60.0) -> None:
        env = self._environment()
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() can end all of it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.log()}")
            try:
                status = self.api("GET", "/api/status")
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
                continue
            if "started" in status:
                return
        raise TimeoutError(f"JupyterLab did not answer within {timeout} s:\n{self.log()}")

    def api(self, method: str, path: str) -> dict | list:
        """Call the server's REST API with the token (as the browser's requests carry it)."""
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method in ("POST", "PUT") else None,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def lab_url(self, notebook_name: str) -> str:
        """Open one notebook in a fresh layout: ``reset`` drops the saved workspace, which
        would otherwise reopen (and start kernels for) every notebook opened before."""
        return f"{self.base_url}/lab/tree/{notebook_name}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        """End every running kernel (between notebooks, so they do not compete for the CPU)."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        """Shut down cleanly (kernels first); escalate to SIGTERM, then SIGKILL, if needed."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            # Kernels run in process groups of their own: remember them before the server goes.
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        try:
            if process.poll() is None:
                try:
                    self.api("POST", "/api/shutdown")
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    self._signal_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(process, signal.SIGKILL)
                    process.wait(timeout)
        finally:
            self._signal_group(process, signal.SIGKILL)  # anything the server left behind
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            if self._log is not None:
                self._log.close()

    @staticmethod
    def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
