"""Every solution notebook follows CONTRIBUTING.md, checked from its cells (no hand-kept lists)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from dl_course.layout import SETUP_TAG, assignments
from dl_course.notebooks import is_answer_cell, is_test_cell, nbgrader_meta, plan

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = assignments(ROOT)
MIN_EXERCISES = 8


@pytest.fixture(params=ASSIGNMENTS, ids=lambda a: a.name)
def notebook(request):
    return request.param, nbformat.read(request.param.source_notebook, as_version=4)


def test_setup_cell_comes_first(notebook):
    assignment, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and SETUP_TAG in code[0].metadata.get("tags", []), (
        f"{assignment.name}: the first code cell must be tagged {SETUP_TAG!r}"
    )


def test_exercises_are_complete(notebook):
    assignment, nb = notebook
    nb_plan = plan(nb)
    assert len(nb_plan.exercises) >= MIN_EXERCISES, f"{assignment.name}: too few exercises"
    for exercise in nb_plan.exercises:
        assert exercise.tests, f"{exercise.grade_id} has no test cell after it"
        assert "### BEGIN SOLUTION" in exercise.answer_source, exercise.grade_id
        for test in exercise.tests:
            assert test.points > 0, f"{test.grade_id} carries no points"
            assert "### BEGIN HIDDEN TESTS" in test.source, f"{test.grade_id} has no hidden tests"
            hidden = test.source.split("### BEGIN HIDDEN TESTS", 1)[1]
            visible = test.source.split("### BEGIN HIDDEN TESTS", 1)[0]
            assert visible.strip(), f"{test.grade_id} has no visible tests for students"
            if "def " in exercise.answer_source:  # a function to write, not a choice to make
                assert "assert_no_forbidden_calls" in hidden, (
                    f"{test.grade_id}: hidden tests must check the answer is not a call to "
                    "torch, scipy or dl_helpers"
                )


def test_grade_ids_and_cell_ids_are_unique(notebook):
    assignment, nb = notebook
    grade_ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(grade_ids) == len(set(grade_ids)), f"{assignment.name}: duplicate grade_id"
    cell_ids = [c.get("id") for c in nb.cells]
    assert all(cell_ids) and len(cell_ids) == len(set(cell_ids))
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        read_only = meta.get("locked") and not meta.get("grade") and not meta.get("solution")
        assert not meta or is_answer_cell(cell) or is_test_cell(cell) or read_only, (
            f"cell {cell.get('id')}: nbgrader cells are answers, tests or read-only"
        )


def test_stored_outputs_are_complete_and_quiet(notebook):
    """nbval compares stored outputs, so the source must be executed; nothing on stderr."""
    assignment, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{assignment.name}: execute it in place"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "executed out of order or partially"
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"cell {cell.id} stored an error"
            assert not (output.output_type == "stream" and output.name == "stderr"), (
                f"cell {cell.id} writes to stderr: {output.text[:200]!r}"
            )


def test_kernelspec_is_python3(notebook):
    _, nb = notebook
    assert nb.metadata["kernelspec"]["name"] == "python3"
