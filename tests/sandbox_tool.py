"""Tests that need the sandbox tool: skipped without bubblewrap on a laptop, failed in CI.

A skipped sandbox test in CI would pass a build that never exercised the sandbox, so when the
environment variable ``CI`` is set (GitHub Actions, GitLab and most CI services set it) a
missing ``bwrap`` is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dl_course.sandbox import bwrap_path


def require_bwrap() -> None:
    """Return if bubblewrap is installed; else fail under CI, skip elsewhere."""
    if bwrap_path() is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(
            "bubblewrap (bwrap) is not installed, and CI is set: the sandbox tests must run "
            "in CI (install the Debian package bubblewrap)",
            pytrace=False,
        )
    pytest.skip("bubblewrap (bwrap) not installed")


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
