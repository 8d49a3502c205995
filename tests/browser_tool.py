"""A real browser on the course: Debian's Chromium driven by Playwright, and one JupyterLab.

``make`` installs Chromium (Debian package ``chromium``) when it may use apt, as it does
bubblewrap; Playwright for Python is pinned in ``pyproject.toml``. Playwright's own browser
download is never used: :func:`require_browser` returns the system Chromium for
``executable_path``. Missing either is a skip on a laptop and a failure under CI (env ``CI``
set), like ``tests.sandbox_tool.require_bwrap``: a CI run that skipped the browser test
would pass without ever exercising the student's flow.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def require_browser() -> str:
    """Return Chromium's path if Chromium and Playwright are installed; else fail under CI,
    skip elsewhere."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python (pip install -e '.[dev]')")
    chromium = chromium_path()
    if chromium is None:
        missing.append("Chromium (Debian package chromium: make setup installs it as root)")
    if not missing:
        return chromium
    message = "the browser test needs " + " and ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI is set: the browser test must run in CI", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A loopback port nothing listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: ``root`` is its root folder, ``log`` its output."""

    root: Path
    port: int
    token: str
    log: Path

    def url(self, path: str, query: str = "") -> str:
        """``path`` on this server, logged in by the token; ``query`` is added as it is."""
        extra = f"&{query}" if query else ""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?token={self.token}{extra}"

    def api(self, path: str, method: str = "GET") -> dict | list | None:
        request = urllib.request.Request(
            self.url(f"api/{path}"), method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


@contextlib.contextmanager
def jupyter_lab(base: Path, *, app: str = "lab", start_timeout: float = 120) -> Iterator[LabServer]:
    """Start the project's JupyterLab (this environment's, set up by ``make``), or with
    ``app="notebook"`` its classic notebook interface (Notebook 7), on a free loopback port
    with a random token, serving ``base/root``; its settings, workspaces and runtime files
    stay below ``base``. Shut down (kernels included) on exit."""
    root, log = base / "root", base / "jupyterlab.log"
    for folder in ("root", "settings", "workspaces", "runtime", "config"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(Path(sys.executable).parent / "jupyter"),
        app,
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
    ]
    if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses unless told
        command.append("--allow-root")
    env = {
        **os.environ,
        # this user's own JupyterLab settings and config must not change what the test sees
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "TQDM_DISABLE": "1",
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LabServer(root, port, token, log)
    try:
        _wait_until_up(server, process, start_timeout)
        yield server
    finally:
        _stop(server, process)


def _wait_until_up(server: LabServer, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({process.returncode}):\n{_tail(server.log)}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            server.api("status")
            return
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{_tail(server.log)}")


def _stop(server: LabServer, process: subprocess.Popen) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure it has."""
    with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
        server.api("shutdown", method="POST")
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
