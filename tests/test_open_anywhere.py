"""The course opens the same way everywhere: JupyterLab, the classic notebook, VS Code,
JupyterHub, Binder, Colab (README, "Opening the course elsewhere").

- No notebook cell uses something only JupyterLab (or only a browser) provides: magics are
  limited to IPython's own that every front end runs, no shell escapes (students on
  Windows), no widgets, no JavaScript output.
- Binder: ``binder/environment.yml`` (read instead of ``environment.yml`` because ``binder/``
  exists) pins exactly what ``environment.yml`` pins, and ``binder/postBuild`` installs the
  course package and runs the JupyterLab set-up of ``make``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.test_environment import _pins, environment_pins

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb")) + sorted(
    (ROOT / "notebooks").glob("*/*.ipynb")
)
# IPython's own magics that behave alike in every front end (the inline backend included)
PORTABLE_MAGICS = {"%matplotlib inline", "%config", "%time", "%%time", "%timeit", "%%timeit",
                   "%%capture"}  # fmt: skip
# widgets and JavaScript need a front end's extension; jupyterlab and google.colab exist
# only inside those front ends
FRONT_END_ONLY = re.compile(r"ipywidgets|ipympl|\bJavascript\b|\bjupyterlab\b|google\.colab")


def magic_lines(source: str) -> list[str]:
    """Lines of a cell that IPython treats as a magic or a shell escape."""
    return [line.strip() for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]


def unportable(source: str) -> list[str]:
    """What in ``source`` would not run, or not show, outside JupyterLab."""
    found = [
        line
        for line in magic_lines(source)
        if not any(line == m or line.startswith(m + " ") for m in PORTABLE_MAGICS)
    ]
    return found + [m.group(0) for m in FRONT_END_ONLY.finditer(source)]


def test_the_rule_catches_front_end_only_code():
    assert unportable("%matplotlib inline\n%config InlineBackend.figure_format = 'png'") == []
    assert unportable("%time f(x)\n%%capture out") == []
    assert unportable("%matplotlib widget") == ["%matplotlib widget"]
    assert unportable("!pip install torch") == ["!pip install torch"]
    assert unportable("import ipywidgets as w") == ["ipywidgets"]
    assert unportable("%%javascript\nalert(1)") == ["%%javascript"]
    assert unportable("from IPython.display import Javascript") == ["Javascript"]
    assert unportable("from google.colab import drive") == ["google.colab"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_notebook_runs_in_every_front_end(path):
    nb = nbformat.read(path, as_version=4)
    problems = {
        index: unportable(cell.source)
        for index, cell in enumerate(nb.cells, start=1)
        if cell.cell_type == "code" and unportable(cell.source)
    }
    assert not problems, f"cells using something only some front ends have: {problems}"


def test_binder_environment_mirrors_environment_yml():
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    python, pins = environment_pins()
    requirements = [r for r in pip if not r.startswith("-")]
    assert python in conda
    assert _pins(requirements) == pins
    # the course package comes from postBuild, after repo2docker has copied the repository
    assert "-e ." not in pip


def test_binder_post_build_installs_the_course():
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only if it is executable"
    commands = [
        line.strip()
        for line in post_build.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands == [
        "set -euo pipefail",
        "python -m pip install --no-deps -e .",
        "python -m dl_course.labsetup",
    ]
