"""Reading a course notebook's structure from nbgrader cell metadata.

An *exercise* is one answer cell (``nbgrader.solution: true``) followed by the autograded
test cells (``nbgrader.grade: true`` with points) that come after it and before the next
answer cell. The hidden part of a test cell lies between ``HIDDEN_BEGIN`` and ``HIDDEN_END``.
Cells tagged ``setup`` hold the imports and seeds every exercise needs.
Exercises depend only on setup cells and earlier answer cells (CONTRIBUTING.md), which lets
the grading gates execute just those cells instead of the whole notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nbformat

from dl_course.layout import SETUP_TAG

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_answer_cell(cell: nbformat.NotebookNode) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("solution")) and not meta.get("grade")


def is_test_cell(cell: nbformat.NotebookNode) -> bool:
    """An autograded test cell: graded, not an answer (the one definition every module uses)."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


@dataclass
class TestCell:
    grade_id: str
    points: float
    source: str


@dataclass
class Exercise:
    """An answer cell and the test cells that grade it."""

    grade_id: str
    answer_source: str
    tests: list[TestCell] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)


@dataclass
class NotebookPlan:
    setup_sources: list[str]
    exercises: list[Exercise]

    @property
    def total_points(self) -> float:
        return sum(e.points for e in self.exercises)


def plan(nb: nbformat.NotebookNode) -> NotebookPlan:
    """Split a notebook into its setup cells and exercises (in notebook order).

    Raises ``ValueError`` for a test cell that comes before any answer cell, since it
    would have nothing to grade.
    """
    setup: list[str] = []
    exercises: list[Exercise] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if SETUP_TAG in tags(cell):
            setup.append(cell.source)
        elif is_answer_cell(cell):
            exercises.append(Exercise(nbgrader_meta(cell)["grade_id"], cell.source))
        elif is_test_cell(cell):
            meta = nbgrader_meta(cell)
            if not exercises:
                raise ValueError(f"test cell {meta['grade_id']!r} precedes every answer cell")
            exercises[-1].tests.append(
                TestCell(meta["grade_id"], float(meta.get("points", 0)), cell.source)
            )
    return NotebookPlan(setup, exercises)
