"""``dl-course validate NOTEBOOK``: what a student runs before submitting.

Executes the notebook from top to bottom in a fresh kernel (like *Restart & Run All*) and
prints, for every autograded test cell, ``passed``, ``failed`` with the first line of the
error, or ``not attempted`` (the answer still raises ``NotImplementedError``), with the
points at stake. Exits 1 unless every test passes: unlike ``nbgrader validate``, which
exits 0 even when tests fail, so scripts and CI can rely on it.

Only the visible tests run here; the hidden tests run when the instructor grades.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from dl_course.layout import CourseError
from dl_course.notebooks import is_test_cell, nbgrader_meta

PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN = "passed", "failed", "not attempted", "not run"


@dataclass(frozen=True)
class Outcome:
    grade_id: str
    points: float
    status: str
    detail: str = ""


def first_error(cell: nbformat.NotebookNode) -> tuple[str, str] | None:
    """``(ename, first line of evalue)`` of the cell's first error output, or None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            lines = str(output.get("evalue", "")).strip().splitlines()
            return output.get("ename", "Error"), lines[0] if lines else ""
    return None


def outcome(cell: nbformat.NotebookNode) -> Outcome:
    meta = nbgrader_meta(cell)
    grade_id, points = meta.get("grade_id", "?"), float(meta.get("points", 0))
    if cell.get("execution_count") is None:
        return Outcome(grade_id, points, NOT_RUN, "the notebook stopped before this cell")
    error = first_error(cell)
    if error is None:
        return Outcome(grade_id, points, PASSED)
    ename, message = error
    if ename == "NotImplementedError":
        return Outcome(grade_id, points, NOT_ATTEMPTED)
    return Outcome(grade_id, points, FAILED, f"{ename}: {message}" if message else ename)


def execute(path: Path, *, cell_timeout: int = 120) -> tuple[nbformat.NotebookNode, str]:
    """Run ``path`` in a fresh kernel, keeping going after errors.

    Returns the executed notebook and a problem that stopped execution ('' if none).
    """
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several unrelated types for bad JSON
        raise CourseError(f"{path} is not a readable notebook: {error}") from None
    for cell in nb.cells:  # a fresh run: stale outputs must not count as results
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
        # the kernel's own start-up warnings (ipykernel's "running over TCP without
        # encryption") would land in the terminal, or in the notebook of check_my_work()
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    try:
        client.execute()
    except CellTimeoutError:
        return nb, f"a cell ran longer than {cell_timeout} s and was stopped"
    except DeadKernelError:
        return nb, "the kernel died (out of memory, or the code exited Python)"
    return nb, ""


def validate(path: Path, *, cell_timeout: int = 120) -> tuple[list[Outcome], list[str]]:
    """Execute ``path`` and return the outcome of every test cell, plus general problems
    (execution stopped, errors in cells that are not tests)."""
    if not path.is_file():
        raise CourseError(f"no notebook at {path}")
    nb, stopped = execute(path, cell_timeout=cell_timeout)
    outcomes = [outcome(cell) for cell in nb.cells if is_test_cell(cell)]
    problems = [stopped] if stopped else []
    for index, cell in enumerate(nb.cells, start=1):
        error = first_error(cell) if cell.cell_type == "code" else None
        if error and not is_test_cell(cell) and error[0] != "NotImplementedError":
            problems.append(f"cell {index} raised {error[0]}: {error[1]}")
    return outcomes, problems


def report(outcomes: list[Outcome], problems: list[str]) -> str:
    width = max([len(o.grade_id) for o in outcomes] + [8])
    lines = []
    for o in outcomes:
        detail = f"  ({o.detail})" if o.detail else ""
        lines.append(f"  {o.grade_id:<{width}}  {o.points:4g} pts  {o.status}{detail}")
    earned = sum(o.points for o in outcomes if o.status == PASSED)
    total = sum(o.points for o in outcomes)
    lines.append(f"Visible tests: {earned:g} / {total:g} points pass.")
    lines += [f"Problem: {p}" for p in problems]
    if outcomes and earned == total and not problems:
        lines.append("All visible tests pass. Hidden tests run when your work is graded.")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    path = Path(args.notebook)
    print(f"Validating {path} (a fresh kernel runs every cell) ...")
    outcomes, problems = validate(path, cell_timeout=args.cell_timeout)
    if not outcomes:
        raise CourseError(f"{path} has no autograded test cells")
    print(report(outcomes, problems))
    return 0 if all(o.status == PASSED for o in outcomes) and not problems else 1


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "validate",
        help="run a notebook; report each exercise passed / failed / not attempted (students)",
    )
    parser.add_argument("notebook", metavar="NOTEBOOK", help="path to your .ipynb")
    parser.add_argument(
        "--cell-timeout", type=int, default=120, help="seconds a cell may run (default 120)"
    )
    parser.set_defaults(func=_run)
