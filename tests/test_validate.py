"""``dl-course validate``: per-exercise passed / failed / not attempted, and its exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dl_course.cli import main

ANSWER = {"solution": True, "grade": False, "locked": False, "schema_version": 3}
TEST = {"solution": False, "grade": True, "locked": True, "schema_version": 3}


def _notebook(path: Path, double_body: str, square_body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny assignment"),
        nbformat.v4.new_code_cell("import math", metadata={"tags": ["setup"]}),
        nbformat.v4.new_code_cell(
            f"def double(x):\n    {double_body}",
            metadata={"nbgrader": {**ANSWER, "grade_id": "double"}},
        ),
        nbformat.v4.new_code_cell(
            "assert double(2) == 4, f'double(2) should be 4, got {double(2)}'",
            metadata={"nbgrader": {**TEST, "grade_id": "test_double", "points": 2}},
        ),
        nbformat.v4.new_code_cell(
            f"def square(x):\n    {square_body}",
            metadata={"nbgrader": {**ANSWER, "grade_id": "square"}},
        ),
        nbformat.v4.new_code_cell(
            "assert square(3) == 9",
            metadata={"nbgrader": {**TEST, "grade_id": "test_square", "points": 1}},
        ),
    ]
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize(
    "double_body,square_body,code,expected",
    [
        ("return 2 * x", "return x * x", 0, ["test_double     2 pts  passed", "3 / 3 points"]),
        (
            "return x + 3",
            "raise NotImplementedError()",
            1,
            [
                "test_double     2 pts  failed  (AssertionError: double(2) should be 4, got 5)",
                "test_square     1 pts  not attempted",
                "0 / 3 points",
            ],
        ),
    ],
    ids=["all-pass", "failed-and-not-attempted"],
)
def test_validate_reports_each_exercise(tmp_path, capsys, double_body, square_body, code, expected):
    path = _notebook(tmp_path / "hw.ipynb", double_body, square_body)
    assert main(["validate", str(path)]) == code
    out = capsys.readouterr().out
    for line in expected:
        assert line in out, out


def test_validate_reports_a_crashed_kernel(tmp_path, capsys):
    path = _notebook(tmp_path / "hw.ipynb", "return 2 * x", "import os; os._exit(1)")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "test_double     2 pts  passed" in out
    assert "kernel died" in out


def test_validate_rejects_a_missing_or_broken_notebook(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.ipynb")]) == 2
    assert "no notebook at" in capsys.readouterr().err
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    assert main(["validate", str(broken)]) == 2
    assert "is not a readable notebook" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "dl-course"
    run = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "validate" in run.stdout and "release" in run.stdout
