"""Tests that need the sandbox tool: skipped without bubblewrap on a laptop, failed in CI.

A skipped sandbox test in CI would pass a build that never exercised the sandbox, so when the
environment variable ``CI`` is set (GitHub Actions, GitLab and most CI services set it) a
missing ``bwrap`` is a failure.
"""

from __future__ import annotations

import os

import pytest

from dl_helpers.course.sandbox import bwrap_path


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
