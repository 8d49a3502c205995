"""Where the course keeps things, and the nbgrader configuration that follows from it.

The repository itself is an nbgrader course folder with renamed steps::

    solutions/<assignment>/<assignment>.ipynb   nbgrader "source" (answers, hidden tests)
    notebooks/<assignment>/<assignment>.ipynb   nbgrader "release" (what students open)

An assignment is a folder of ``solutions/`` named ``NN_slug`` holding one notebook of the
same name (plus any files it loads). Commands that need a scratch gradebook (release,
grading) work in a temporary or instructor-chosen course folder, never in the repository,
so running them leaves no ``gradebook.db`` behind. nbgrader's own configuration for this
layout is in ``nbgrader_api``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = "solutions"
RELEASE_DIR = "notebooks"
ASSIGNMENT_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+$")
SETUP_TAG = "setup"  # cells every exercise needs (imports, seeds)
EXPECTED_FAILURE_TAG = "raises-exception"  # honoured by nbval and by JupyterLab's Run All


def find_root(start: Path | None = None) -> Path:
    """Return the repository root: the nearest folder above ``start`` holding ``solutions/``
    and ``pyproject.toml``. Raises ``FileNotFoundError`` naming ``start`` when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SOURCE_DIR).is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    raise FileNotFoundError(
        f"no course repository (a folder with {SOURCE_DIR}/ and pyproject.toml) at or above {here}"
    )


@dataclass(frozen=True)
class Assignment:
    """One nbgrader assignment: ``solutions/<name>/<name>.ipynb`` in repository ``root``."""

    root: Path
    name: str

    @property
    def source_dir(self) -> Path:
        return self.root / SOURCE_DIR / self.name

    @property
    def source_notebook(self) -> Path:
        return self.source_dir / f"{self.name}.ipynb"

    @property
    def release_dir(self) -> Path:
        return self.root / RELEASE_DIR / self.name

    @property
    def release_notebook(self) -> Path:
        return self.release_dir / f"{self.name}.ipynb"

    @property
    def number(self) -> str:
        """The two-digit prefix, e.g. ``"01"``."""
        return self.name[:2]


def assignments(root: Path, names: list[str] | None = None) -> list[Assignment]:
    """All assignments under ``root/solutions`` in order, or the ``names`` given.

    Raises ``ValueError`` for a name that is not an assignment folder, listing the ones there are.
    """
    found = sorted(
        p.name
        for p in (root / SOURCE_DIR).iterdir()
        if p.is_dir() and ASSIGNMENT_PATTERN.match(p.name) and (p / f"{p.name}.ipynb").is_file()
    )
    if not names:
        return [Assignment(root, n) for n in found]
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValueError(
            f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(found) or 'none'}"
        )
    return [Assignment(root, n) for n in names]


def venv_bin_on_path() -> None:
    """Put this interpreter's ``bin`` folder first on ``PATH``.

    nbgrader shells out to ``alembic`` when it creates a gradebook, and ``alembic`` lives
    beside this interpreter, which is not on ``PATH`` when ``.venv/bin/dl-course`` (or a
    script) runs without the environment activated.
    """
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir


class CourseError(Exception):
    """A problem the user can fix (bad path, unknown assignment, ...), printed without traceback."""
