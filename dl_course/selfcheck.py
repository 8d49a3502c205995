"""*Check my work* from inside a notebook: the report of ``dl-course validate``, as a table.

The last cell of every course notebook is::

    from dl_helpers.selfcheck import check_my_work
    check_my_work()

which imports this module only when a person runs the cell (:mod:`dl_helpers.selfcheck`:
notebooks never import ``dl_course``, which the grader's sandbox hides). It finds the
notebook file being run, validates the **saved** file in a fresh kernel with
:func:`dl_course.validate.validate` (the code path of ``dl-course validate``), and shows one
row per autograded test cell: exercise, test, status (passed / failed / not attempted /
not run), points earned of points possible, and the first line of the error. The table is
HTML where the front end renders HTML (JupyterLab, the Notebook, VS Code, Colab) and plain
text elsewhere (a terminal IPython, ``print``). ``check_my_work(all=True)`` shows the
progress across every notebook of the course instead (``dl-course progress``).

Which file is "the notebook being run":

1. the ``path`` argument, when given;
2. VS Code: its Jupyter extension sets ``__vsc_ipynb_file__`` in the user namespace;
3. JupyterLab, the Notebook and JupyterHub: jupyter_server (2.x) starts every kernel with
   ``JPY_SESSION_NAME`` set to the notebook's path;
4. the only ``NN_slug.ipynb`` in the working folder (the kernel starts in the notebook's folder);

otherwise it says so and asks for the path.

When a program rather than a person runs the notebook (``dl-course validate`` itself,
nbgrader, nbconvert, nbval) the cell only prints a note
(:func:`dl_helpers.selfcheck.run_by_a_program`): otherwise validating would run the cell
again, and every graded run would execute the notebook twice.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dl_course.layout import ASSIGNMENT_PATTERN, CourseError
from dl_course.notebooks import is_answer_cell, is_test_cell, nbgrader_meta
from dl_course.validate import FAILED, NOT_RUN, PASSED, Outcome, validate
from dl_helpers.selfcheck import SKIPPED, run_by_a_program

COLUMNS = ("Exercise", "Test", "Status", "Points", "First line of the error")
SAVE_FIRST = "Unsaved edits are not checked: save first (Ctrl+S / Cmd+S, or File > Save)."
ALL_PASS = "All visible tests pass. Hidden tests run when your work is graded."
# Status colours of the HTML table (green, red, grey, amber): readable on light and dark themes.
COLOURS = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_RUN: "#9a6700"}
NEUTRAL = "#6e7781"


@dataclass(frozen=True)
class Row:
    """One autograded test cell: the answer cell it grades and how it went."""

    exercise: str
    test: str
    status: str
    earned: float
    points: float
    error: str

    def cells(self) -> tuple[str, str, str, str, str]:
        """The row's text under :data:`COLUMNS`."""
        return (
            self.exercise,
            self.test,
            self.status,
            f"{self.earned:g} / {self.points:g}",
            self.error,
        )


@dataclass(frozen=True)
class SelfCheck:
    """The validation of one saved notebook, ready to render."""

    notebook: Path
    rows: list[Row]
    problems: list[str]

    @property
    def earned(self) -> float:
        return sum(r.earned for r in self.rows)

    @property
    def total(self) -> float:
        return sum(r.points for r in self.rows)

    @property
    def all_pass(self) -> bool:
        return bool(self.rows) and all(r.status == PASSED for r in self.rows) and not self.problems

    def summary(self) -> str:
        return (
            f"{self.notebook.name}: {self.earned:g} / {self.total:g} points from the visible tests"
        )

    def text(self) -> str:
        """Plain-text table (terminals, front ends without HTML)."""
        body = [r.cells() for r in self.rows]
        total = ("Total", "", "", f"{self.earned:g} / {self.total:g}", "")
        return "\n".join([self.summary(), _text_table([COLUMNS, *body, total]), *self._notes()])

    def html(self) -> str:
        """An HTML ``<table>`` (class ``dl-course-selfcheck``, with ``data-earned`` and
        ``data-total``) and the notes below it."""
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in COLUMNS)
        body = "".join(_html_row(r) for r in self.rows)
        total = (
            "<tr style='font-weight:bold'><td>Total</td><td></td><td></td>"
            f"<td>{self.earned:g} / {self.total:g}</td><td></td></tr>"
        )
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self._notes())
        return (
            f"<table class='dl-course-selfcheck' data-earned='{self.earned:g}' "
            f"data-total='{self.total:g}'><caption style='text-align:left'>"
            f"{html.escape(self.summary())}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}{total}</tbody></table>{notes}"
        )

    def _notes(self) -> list[str]:
        notes = [f"Problem: {p}" for p in self.problems]
        if self.all_pass:
            notes.append(ALL_PASS)
        return notes


def _text_table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in rows
    )


def _html_row(row: Row) -> str:
    colour = COLOURS.get(row.status, NEUTRAL)
    cells = [html.escape(c) for c in row.cells()]
    cells[2] = f"<span style='color:{colour};font-weight:bold'>{cells[2]}</span>"
    return (
        f"<tr data-status='{html.escape(row.status)}'>"
        + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells)
        + "</tr>"
    )


def exercise_of_tests(nb: nbformat.NotebookNode) -> dict[str, str]:
    """``{test grade_id: grade_id of the answer cell above it}`` (``""`` before any answer)."""
    owner, exercise = {}, ""
    for cell in nb.cells:
        if is_answer_cell(cell):
            exercise = nbgrader_meta(cell).get("grade_id", "")
        elif is_test_cell(cell):
            owner[nbgrader_meta(cell).get("grade_id", "?")] = exercise
    return owner


def rows_of(outcomes: list[Outcome], owners: dict[str, str]) -> list[Row]:
    return [
        Row(
            exercise=owners.get(o.grade_id, ""),
            test=o.grade_id,
            status=o.status,
            earned=o.points if o.status == PASSED else 0.0,
            points=o.points,
            error=o.detail if o.status in (FAILED, NOT_RUN) else "",
        )
        for o in outcomes
    ]


def self_check(path: Path, *, cell_timeout: int = 120) -> SelfCheck:
    """Validate the saved notebook at ``path`` in a fresh kernel (``dl-course validate``).

    Raises ``CourseError`` when ``path`` is missing, unreadable or has no test cells.
    """
    path = Path(path)
    outcomes, problems = validate(path, cell_timeout=cell_timeout)
    if not outcomes:
        raise CourseError(f"{path} has no autograded test cells")
    owners = exercise_of_tests(nbformat.read(path, as_version=4))
    return SelfCheck(path, rows_of(outcomes, owners), problems)


def find_notebook(path: str | os.PathLike | None = None, *, cwd: Path | None = None) -> Path:
    """The notebook file this kernel runs (see the module docstring for the order).

    Raises ``CourseError`` asking for the path when none is found.
    """
    if path is not None:
        return Path(path).expanduser().resolve()
    cwd = cwd or Path.cwd()
    candidates = [_user_namespace().get("__vsc_ipynb_file__"), os.environ.get("JPY_SESSION_NAME")]
    for candidate in filter(None, candidates):
        found = Path(candidate).expanduser()
        # JPY_SESSION_NAME may be relative to the server's root, which the kernel does not
        # know; the kernel starts in the notebook's folder, so its name is enough there.
        for option in (found, cwd / found.name) if not found.is_absolute() else (found,):
            if option.suffix == ".ipynb" and option.is_file():
                return option.resolve()
    course = sorted(
        p for p in cwd.glob("*.ipynb") if p.is_file() and ASSIGNMENT_PATTERN.match(p.stem)
    )
    if len(course) == 1:
        return course[0].resolve()
    raise CourseError(
        "could not tell which notebook this is"
        + (f" ({len(course)} course notebooks in {cwd})" if course else "")
        + ": pass its path, e.g. check_my_work('01_activation_functions.ipynb')"
    )


def _user_namespace() -> dict:
    shell = _ipython()
    return shell.user_ns if shell is not None else {}


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython: no namespace, no display
        return None
    return get_ipython()


def show(result) -> None:
    """Display ``result`` (anything with ``html()`` and ``text()``) as HTML in a notebook,
    as text in a terminal IPython or plain Python."""
    shell = _ipython()
    if shell is None:
        print(result.text())
        return
    from IPython.display import display

    display({"text/html": result.html(), "text/plain": result.text()}, raw=True)


def saved_note(path: Path, *, now: float | None = None) -> str:
    """``"Checking the saved file X (saved at 10:04:05, 12 s ago). <save first>"``."""
    mtime = path.stat().st_mtime
    age = max(0, round((now if now is not None else time.time()) - mtime))
    ago = f"{age} s" if age < 120 else f"{age // 60} min"
    stamp = time.strftime("%H:%M:%S", time.localtime(mtime))
    return f"Checking the saved file {path} (saved at {stamp}, {ago} ago). {SAVE_FIRST}"


def check_my_work(
    path: str | os.PathLike | None = None, *, all: bool = False, cell_timeout: int = 120
) -> None:
    """Validate this notebook's saved file in a fresh kernel and show the table.

    Args:
        path: the notebook; found automatically in JupyterLab, the Notebook, JupyterHub and
            VS Code (see the module docstring).
        all: show the progress across every notebook of the course instead
            (``dl-course progress``, next to this notebook's ``notebooks/`` folder).
        cell_timeout: seconds a cell may run in the fresh kernel.

    Example::

        >>> check_my_work()  # doctest: +SKIP
        Checking the saved file /home/me/course/notebooks/01_x/01_x.ipynb (saved at ...).
        01_x.ipynb: 5 / 22 points from the visible tests  (a table follows)
    """
    if run_by_a_program():
        print(SKIPPED)
        return
    try:
        notebook = find_notebook(path)
        if all:
            from dl_course.progress import course_progress, student_folder

            folder = student_folder(notebook)
            print(
                f"Checking every saved notebook in {folder} (a fresh kernel each) ...", flush=True
            )
            show(course_progress(folder, cell_timeout=cell_timeout))
            return
        print(saved_note(notebook), flush=True)
        print("Running every cell in a fresh kernel (about as long as Run All) ...", flush=True)
        show(self_check(notebook, cell_timeout=cell_timeout))
    except CourseError as error:
        print(f"check_my_work: {error}")
