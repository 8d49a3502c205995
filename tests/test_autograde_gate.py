"""Gate 4: through nbgrader's own autograde, every autograder test cell passes on the
solution (full marks) and fails on the blank release (zero).

Each case builds a scratch course folder: the assignment is generated from ``solutions/``
(which also records the hidden tests in the gradebook), one submission is collected and
autograded, and the gradebook is read back. The blank submission is the committed
``notebooks/`` release, so this also proves what students receive grades to zero.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from dl_course.layout import SOURCE_DIR, assignments
from dl_course.nbgrader_api import nbgrader_api

ROOT = Path(__file__).resolve().parents[1]
CASES = [(a, kind) for a in assignments(ROOT) for kind in ("solution", "blank")]


def _autograde(assignment, submission: Path, course: Path) -> dict[str, tuple[float, float]]:
    """Autograde ``submission`` as student ``kind`` and return ``{grade_id: (score, max)}``."""
    shutil.copytree(assignment.source_dir, course / SOURCE_DIR / assignment.name)
    api = nbgrader_api(course, extra={"ExecutePreprocessor": {"timeout": 120}})
    generated = api.generate_assignment(assignment.name)
    assert generated["success"], generated.get("log")
    target = course / "submitted" / "student" / assignment.name
    target.mkdir(parents=True)
    shutil.copy(submission, target / assignment.source_notebook.name)
    graded = api.autograde(assignment.name, "student")
    assert graded["success"], graded.get("log")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(
            assignment.source_notebook.stem, assignment.name, "student"
        )
        return {g.name: (g.score, g.max_score) for g in notebook.grades if g.max_score}


@pytest.mark.parametrize("assignment,kind", CASES, ids=[f"{a.name}-{k}" for a, k in CASES])
def test_solution_full_marks_blank_zero(tmp_path, assignment, kind):
    submission = assignment.source_notebook if kind == "solution" else assignment.release_notebook
    scores = _autograde(assignment, submission, tmp_path / "course")
    assert scores, f"{assignment.name} has no autograded test cells"
    if kind == "solution":
        wrong = {k: v for k, v in scores.items() if v[0] != v[1]}
        assert not wrong, f"solution loses points in (score, max): {wrong}"
    else:
        earned = {k: v for k, v in scores.items() if v[0] != 0}
        assert not earned, f"blank release earns points in (score, max): {earned}"
