"""Gate 3 and the release tooling: notebooks/ is exactly what release makes from solutions/."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from dl_course.cli import main
from dl_course.layout import EXPECTED_FAILURE_TAG, assignments
from dl_course.notebooks import is_answer_cell, is_test_cell
from dl_course.release import stale_files, tag_expected_failures

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = assignments(ROOT)


def test_check_release_passes(capsys):
    assert main(["check-release"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_release_strips_answers_hidden_tests_and_outputs(assignment):
    source = assignment.source_notebook.read_text()
    released = nbformat.read(assignment.release_notebook, as_version=4)
    text = assignment.release_notebook.read_text()
    assert "### BEGIN SOLUTION" in source and "### BEGIN HIDDEN TESTS" in source
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{marker} left in the student version"
    assert all(not c.get("outputs") for c in released.cells if c.cell_type == "code")
    answers = [c for c in released.cells if is_answer_cell(c)]
    assert answers and all("raise NotImplementedError()" in c.source for c in answers)


def test_check_release_names_a_stale_notebook(tmp_path):
    """One fresh release is compared with a tampered copy of notebooks/. (That a fresh release
    equals the committed one, byte for byte, is test_check_release_passes.)"""
    repo = tmp_path / "repo"
    for part in ("solutions", "notebooks", "pyproject.toml"):
        (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, repo / part)
    name = ASSIGNMENTS[0].name
    stale = repo / "notebooks" / name / f"{name}.ipynb"
    nb = nbformat.read(stale, as_version=4)
    nb.cells[0].source += "\nedited by hand"
    nbformat.write(nb, stale)
    (repo / "notebooks" / name / "leftover.txt").write_text("x")
    (repo / "notebooks" / "99_orphan").mkdir()
    assert sorted(stale_files(repo)) == [
        f"notebooks/{name}/{name}.ipynb (differs)",
        f"notebooks/{name}/leftover.txt (not made by release)",
        "notebooks/99_orphan/ (no solutions/99_orphan)",
    ]


def test_expected_failures_are_tagged():
    nb = nbformat.v4.new_notebook()
    grade = {"grade": True, "solution": False, "points": 1, "grade_id": "t"}
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np"),
        nbformat.v4.new_code_cell(
            "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
            metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "f"}},
        ),
        nbformat.v4.new_code_cell(
            "# YOUR CODE HERE\nraise NotImplementedError()",
            metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "g"}},
        ),
        nbformat.v4.new_code_cell("assert f(1) == 2", metadata={"nbgrader": grade}),
    ]
    assert tag_expected_failures(nb) == 2
    tagged = [EXPECTED_FAILURE_TAG in c.metadata.get("tags", []) for c in nb.cells]
    assert tagged == [False, False, True, True]
    assert tag_expected_failures(nb) == 2  # idempotent: no duplicate tags
    assert nb.cells[3].metadata["tags"] == [EXPECTED_FAILURE_TAG]
    assert is_test_cell(nb.cells[3]) and is_answer_cell(nb.cells[1])


def test_unknown_assignment_is_a_clear_error(capsys):
    assert main(["release", "99_nope"]) == 2
    assert "unknown assignment(s) 99_nope" in capsys.readouterr().err


def test_release_over_an_existing_folder_leaves_nothing_stale(tmp_path):
    from dl_course.release import release
    from tests.grading_fixtures import TINY, make_repo

    repo = make_repo(tmp_path / "repo")
    target = repo / "notebooks" / TINY
    (target / "old_data").mkdir(parents=True)
    (target / "old_data" / "stale.csv").write_text("from an older release")
    (target / f"{TINY}.ipynb").write_text("{ an old, broken student version")
    assert release(repo, [TINY]) == [target]
    made = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
    assert made == [f"{TINY}.ipynb"]  # only what release makes from solutions/
    nb = nbformat.read(target / f"{TINY}.ipynb", as_version=4)
    assert any(is_test_cell(c) for c in nb.cells) and stale_files(repo, [TINY]) == []
