"""``dl-course progress``: what a student has done across every notebook of the course.

For each assignment of ``solutions/`` (the course's list of notebooks) it validates the
student's saved copy (``notebooks/NN_slug/NN_slug.ipynb``, or in the folder given: there as
``NN_slug/NN_slug.ipynb`` or ``NN_slug.ipynb``) in a fresh kernel, with the code path of
``dl-course validate``, and counts its autograded tests passed, failed and not attempted,
with points, plus a total. A test the notebook stopped before ("not run") counts as failed.
Points possible come from the solution, so a notebook not started yet still shows what it
is worth, and deleting a test cell does not shrink the total. Only the visible tests run:
the hidden ones run when the instructor grades.

In a notebook: ``check_my_work(all=True)`` (:mod:`dl_course.selfcheck`).
"""

from __future__ import annotations

import argparse
import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from dl_course.layout import RELEASE_DIR, CourseError, assignments, find_root
from dl_course.notebooks import is_test_cell, nbgrader_meta
from dl_course.validate import NOT_ATTEMPTED, PASSED, validate

COLUMNS = ("Notebook", "Passed", "Failed", "Not attempted", "Points", "Note")
NO_NOTEBOOK = "not started (no saved notebook)"


@dataclass(frozen=True)
class NotebookProgress:
    """One assignment: counts of its autograded tests and points (earned of possible)."""

    name: str
    notebook: str  # the student's file, "" when there is none
    passed: int
    failed: int
    not_attempted: int
    earned: float
    total: float
    problems: list[str] = field(default_factory=list)

    def cells(self) -> tuple[str, ...]:
        note = "; ".join(self.problems) if self.problems else ""
        return (
            self.name,
            str(self.passed),
            str(self.failed),
            str(self.not_attempted),
            f"{self.earned:g} / {self.total:g}",
            note,
        )


@dataclass(frozen=True)
class CourseProgress:
    folder: Path
    notebooks: list[NotebookProgress]

    def total(self) -> NotebookProgress:
        return NotebookProgress(
            "Total",
            "",
            *(
                sum(getattr(n, k) for n in self.notebooks)
                for k in ("passed", "failed", "not_attempted", "earned", "total")
            ),
        )

    def summary(self) -> str:
        t = self.total()
        return (
            f"Progress in {self.folder}: {t.earned:g} / {t.total:g} points from the visible tests"
        )

    def text(self) -> str:
        rows = [COLUMNS, *(n.cells() for n in self.notebooks), self.total().cells()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        # names and notes read left to right; counts and points line up on the right
        lines = [
            "  ".join(
                c.ljust(w) if i in (0, len(COLUMNS) - 1) else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
            for r in rows
        ]
        return "\n".join([self.summary(), *lines])

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in n.cells()) + "</tr>"
            for n in self.notebooks
        )
        total = "".join(f"<td><b>{html.escape(c)}</b></td>" for c in self.total().cells())
        t = self.total()
        return (
            f"<table class='dl-course-progress' data-earned='{t.earned:g}' "
            f"data-total='{t.total:g}'><caption style='text-align:left'>"
            f"{html.escape(self.summary())}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}<tr>{total}</tr></tbody></table>"
        )

    def as_json(self) -> dict:
        return {
            "folder": str(self.folder),
            "notebooks": [asdict(n) for n in self.notebooks],
            "total": {
                k: v
                for k, v in asdict(self.total()).items()
                if k not in ("name", "notebook", "problems")
            },
        }


def student_folder(notebook: Path) -> Path:
    """The folder holding the course notebooks, seen from one of them: ``notebooks/`` for
    ``notebooks/NN_slug/NN_slug.ipynb``, else the notebook's own folder."""
    return notebook.parent.parent if notebook.parent.name == notebook.stem else notebook.parent


def student_notebook(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name / f"{name}.ipynb", folder / f"{name}.ipynb"):
        if candidate.is_file():
            return candidate
    return None


def points_possible(solution: Path) -> dict[str, float]:
    """``{test grade_id: points}`` of the solution notebook."""
    nb = nbformat.read(solution, as_version=4)
    return {
        nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points", 0))
        for c in nb.cells
        if is_test_cell(c)
    }


def notebook_progress(
    name: str, solution: Path, student: Path | None, *, cell_timeout: int = 120
) -> NotebookProgress:
    possible = points_possible(solution)
    total = sum(possible.values())
    if student is None:
        return NotebookProgress(name, "", 0, 0, len(possible), 0.0, total, [NO_NOTEBOOK])
    outcomes, problems = validate(student, cell_timeout=cell_timeout)
    status = {o.grade_id: o.status for o in outcomes}
    # tests of the solution the student's copy lacks count as not attempted
    statuses = [status.get(grade_id, NOT_ATTEMPTED) for grade_id in possible]
    return NotebookProgress(
        name,
        str(student),
        passed=statuses.count(PASSED),
        failed=len(statuses) - statuses.count(PASSED) - statuses.count(NOT_ATTEMPTED),
        not_attempted=statuses.count(NOT_ATTEMPTED),
        earned=sum(p for g, p in possible.items() if status.get(g) == PASSED),
        total=total,
        problems=problems,
    )


def course_progress(
    folder: Path, root: Path | None = None, *, cell_timeout: int = 120
) -> CourseProgress:
    """Validate every course notebook found in ``folder``; the course is ``root/solutions``
    (default: the repository at or above ``folder``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CourseError(f"no folder {folder}")
    try:
        root = root or find_root(folder)
    except FileNotFoundError as error:
        raise CourseError(str(error)) from None
    course = assignments(root)
    if not course:
        raise CourseError(f"no assignments in {root / 'solutions'}")
    return CourseProgress(
        folder,
        [
            notebook_progress(
                a.name,
                a.source_notebook,
                student_notebook(folder, a.name),
                cell_timeout=cell_timeout,
            )
            for a in course
        ],
    )


def _run(args: argparse.Namespace) -> int:
    try:
        root = find_root()
    except FileNotFoundError as error:
        raise CourseError(str(error)) from None
    folder = Path(args.folder) if args.folder else root / RELEASE_DIR
    progress = course_progress(folder, root, cell_timeout=args.cell_timeout)
    print(json.dumps(progress.as_json(), indent=2) if args.json else progress.text())
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "progress",
        help="every notebook of the course: exercises passed / failed / not attempted, "
        "points (students)",
    )
    parser.add_argument(
        "folder",
        nargs="?",
        metavar="FOLDER",
        help=f"where your notebooks are (default: {RELEASE_DIR}/ of this repository)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--cell-timeout", type=int, default=120, help="seconds a cell may run (default 120)"
    )
    parser.set_defaults(func=_run)
