"""Fixtures for the grading tests: a tiny nbgrader assignment (``00_tiny``: two exercises,
five points, hidden tests) and helpers to lay out a throw-away course repository."""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent
TINY = "00_tiny"
HIDDEN_PROBES = ("hidden_probe_sq_7f3a", "hidden_probe_relu_9c1e")  # only in hidden tests


def make_repo(dest: Path) -> Path:
    """A minimal course repository at ``dest`` (``solutions/00_tiny`` and a pyproject.toml)."""
    shutil.copytree(FIXTURES / "solutions", dest / "solutions")
    (dest / "pyproject.toml").write_text("[project]\nname = 'tiny-course'\n")
    return dest
