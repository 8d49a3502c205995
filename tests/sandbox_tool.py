"""Tests that need the sandbox tool: skipped without a working bubblewrap on a laptop, failed
in CI.

A skipped sandbox test in CI would pass a build that never exercised the sandbox, so when the
environment variable ``CI`` is set (GitHub Actions, GitLab and most CI services set it) a
missing ``bwrap``, or one that is installed but cannot create its namespaces (ubuntu-24.04
restricts unprivileged user namespaces through AppArmor), is a failure. Working means
``bwrap --ro-bind / / true`` runs, not only that the program exists.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dl_course.sandbox import bwrap_path


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox a process here (``None``: it can)."""
    path = bwrap_path()
    if path is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        run = subprocess.run(
            [path, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap does not run: {error}"
    if run.returncode != 0:
        return f"bubblewrap is installed but cannot sandbox: {run.stderr.strip()[:300]}"
    return None


def require_bwrap() -> None:
    """Return if bubblewrap works; else fail under CI, skip elsewhere."""
    problem = bwrap_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"{problem}, and CI is set: the sandbox tests must run in CI (install the Debian "
            "package bubblewrap; on ubuntu-24.04 set "
            "kernel.apparmor_restrict_unprivileged_userns=0)",
            pytrace=False,
        )
    pytest.skip(problem)


def sandbox_flags() -> list[str]:
    """``autograde`` options for a test that grades: none where bubblewrap works; under CI a
    failure otherwise; elsewhere ``--unsafe-no-sandbox`` (a laptop without bubblewrap still
    runs the workflow, unisolated)."""
    if bwrap_problem() is None:
        return []
    if os.environ.get("CI"):
        require_bwrap()  # fails
    return ["--unsafe-no-sandbox"]


@contextlib.contextmanager
def planted_canaries() -> Iterator[list[Path]]:
    """World-readable secrets where a grading machine keeps other things: a sibling of the
    checkout, the grader's home and a folder shared on the machine, each holding
    ``secret.txt`` that reads ``CANARY <folder>``; removed afterwards."""
    import dl_helpers

    tag = f"dl-course-canary-{os.getpid()}"
    checkout = Path(dl_helpers.__file__).resolve().parents[1]
    folders = [checkout.parent / tag, Path.home() / tag, Path("/var/tmp") / tag]
    try:
        for folder in folders:
            folder.mkdir(mode=0o755)
            folder.chmod(0o755)  # whatever the umask: readable by every user
            (folder / "secret.txt").write_text(f"CANARY {folder}")
            (folder / "secret.txt").chmod(0o644)
        yield folders
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
