"""``check_my_work()``: the notebook's own self-check, on the tiny fixture and notebook 01.

Every notebook here ends with the check-my-work cell, so each validation also proves that
the cell, run by the validating kernel (a program, not a person), prints a note instead of
validating the notebook again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from dl_course import selfcheck
from dl_course.cli import main
from dl_course.layout import CourseError
from dl_course.release import release
from dl_course.selfcheck import (
    COLUMNS,
    SKIPPED,
    Row,
    SelfCheck,
    check_my_work,
    find_notebook,
    saved_note,
    self_check,
)
from dl_helpers import selfcheck as helpers_selfcheck
from tests.grading_fixtures import TINY, make_repo
from tests.sandbox_tool import require_bwrap

ROOT = Path(__file__).resolve().parents[1]
NB01 = "01_activation_functions"
CHECK_CELL = "from dl_helpers.selfcheck import check_my_work\ncheck_my_work()"

pytestmark = pytest.mark.slow


def _with_check_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
    return nb


def _answer(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    cell.source = source
    return nb


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """The tiny assignment released by nbgrader, as ``blank``, ``solution`` and ``wrong``
    (square not attempted, relu wrong), each ending with the check-my-work cell."""
    base = tmp_path_factory.mktemp("selfcheck")
    repo = make_repo(base / "repo")
    (released,) = release(repo, dest=base / "released")
    blank = nbformat.read(released / f"{TINY}.ipynb", as_version=4)
    solution = nbformat.read(repo / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    variants = {
        "blank": blank,
        "solution": solution,
        "wrong": _answer(nbformat.from_dict(blank), "relu", "def relu(x):\n    return x + 1.0"),
    }
    paths = {}
    for name, nb in variants.items():
        (base / name).mkdir()
        paths[name] = base / name / f"{TINY}.ipynb"
        nbformat.write(_with_check_cell(nb), paths[name])
    return paths


def _statuses(result: SelfCheck) -> list[tuple[str, str, str, float, float, str]]:
    return [(r.exercise, r.test, r.status, r.earned, r.points, r.error) for r in result.rows]


def test_blank_is_not_attempted(tiny):
    result = self_check(tiny["blank"])
    assert _statuses(result) == [
        ("square", "test_square", "not attempted", 0.0, 2.0, ""),
        ("relu", "test_relu", "not attempted", 0.0, 3.0, ""),
    ]
    assert (result.earned, result.total, result.problems) == (0.0, 5.0, [])


def test_solution_earns_every_point(tiny):
    result = self_check(tiny["solution"])
    assert [r.status for r in result.rows] == ["passed", "passed"]
    assert (result.earned, result.total, result.all_pass) == (5.0, 5.0, True)


def test_failed_row_names_the_first_error_line(tiny):
    result = self_check(tiny["wrong"])
    assert _statuses(result) == [
        ("square", "test_square", "not attempted", 0.0, 2.0, ""),
        ("relu", "test_relu", "failed", 0.0, 3.0, "AssertionError: relu(2) should be 2"),
    ]
    assert result.text().splitlines() == [
        f"{TINY}.ipynb: 0 / 5 points from the visible tests",
        "Exercise  Test         Status         Points  First line of the error",
        "square    test_square  not attempted  0 / 2",
        "relu      test_relu    failed         0 / 3   AssertionError: relu(2) should be 2",
        "Total                                 0 / 5",
    ]


def test_text_rendering_of_a_full_score():
    result = SelfCheck(Path("01_x.ipynb"), [Row("tanh", "test_tanh_grad", "passed", 1, 1, "")], [])
    assert result.text().splitlines() == [
        "01_x.ipynb: 1 / 1 points from the visible tests",
        "Exercise  Test            Status  Points  First line of the error",
        "tanh      test_tanh_grad  passed  1 / 1",
        "Total                             1 / 1",
        "All visible tests pass. Hidden tests run when your work is graded.",
    ]


def test_html_rendering_has_the_columns_and_escapes():
    rows = [
        Row("relu", "test_relu", "failed", 0, 3, "AssertionError: x < 0 & y"),
        Row("square", "test_square", "passed", 2, 2, ""),
    ]
    page = SelfCheck(Path("01_x.ipynb"), rows, ["cell 4 raised KeyError: 'a'"]).html()
    assert page.startswith("<table class='dl-course-selfcheck' data-earned='2' data-total='5'>")
    header = page.split("<thead><tr>")[1].split("</tr></thead>")[0]
    assert header == "".join(f"<th style='text-align:left'>{c}</th>" for c in COLUMNS)
    failed = page.split("<tr data-status='failed'>")[1].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in failed.split("<td style='text-align:left'>")[1:]]
    assert cells == [
        "relu",
        "test_relu",
        "<span style='color:#cf222e;font-weight:bold'>failed</span>",
        "0 / 3",
        "AssertionError: x &lt; 0 &amp; y",
    ]
    assert "<td>0 / 5</td>" not in page and "<td>2 / 5</td>" in page
    assert page.endswith("<p>Problem: cell 4 raised KeyError: &#x27;a&#x27;</p>")


def test_check_my_work_prints_the_table_outside_a_kernel(tiny, capsys):
    check_my_work(tiny["wrong"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Checking the saved file {tiny['wrong']} (saved at ")
    assert out[0].endswith(selfcheck.SAVE_FIRST)
    assert out[2:] == [
        f"{TINY}.ipynb: 0 / 5 points from the visible tests",
        "Exercise  Test         Status         Points  First line of the error",
        "square    test_square  not attempted  0 / 2",
        "relu      test_relu    failed         0 / 3   AssertionError: relu(2) should be 2",
        "Total                                 0 / 5",
    ]


class _Kernel:  # ipykernel's Kernel: _allow_stdin is the current request's allow_stdin
    def __init__(self, allow_stdin: bool):
        self._allow_stdin = allow_stdin


class _Shell:
    def __init__(self, allow_stdin: bool = True, **user_ns):
        self.kernel, self.user_ns = _Kernel(allow_stdin), user_ns


@pytest.mark.parametrize("entry", [helpers_selfcheck.check_my_work, check_my_work])
def test_a_program_running_the_notebook_only_gets_a_note(entry, tiny, monkeypatch, capsys):
    monkeypatch.setattr("IPython.get_ipython", lambda: _Shell(allow_stdin=False))
    monkeypatch.setattr(selfcheck, "validate", lambda *a, **k: pytest.fail("validated"))
    entry(tiny["blank"])
    assert capsys.readouterr().out == SKIPPED + "\n"


def test_the_notebook_cell_imports_no_grading_code():
    """The grader's sandbox hides dl_course: importing the cell's module must not need it."""
    code = "import sys, dl_helpers.selfcheck; print([m for m in sys.modules if 'dl_course' in m])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "[]\n"


def test_the_cell_in_a_sandboxed_autograde_prints_the_note(tmp_path, monkeypatch):
    """nbgrader's autograde, in the sandbox that hides dl_course, runs the cell quietly."""
    require_bwrap()
    repo = make_repo(tmp_path / "repo")
    source = repo / "solutions" / TINY / f"{TINY}.ipynb"
    nbformat.write(_with_check_cell(nbformat.read(source, as_version=4)), source)
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    shutil.copy(source, tmp_path / "subs" / "alice")
    monkeypatch.chdir(repo)
    assert main(["autograde", TINY, str(tmp_path / "subs"), "--cell-timeout", "30"]) == 0
    graded = repo / "course" / "autograded" / "alice" / TINY / f"{TINY}.ipynb"
    last = nbformat.read(graded, as_version=4).cells[-1]
    assert last.source == CHECK_CELL
    assert [(o.output_type, o.get("text")) for o in last.outputs] == [("stream", SKIPPED + "\n")]


def test_find_notebook_in_each_front_end(tmp_path, monkeypatch):
    first, second = tmp_path / "01_a.ipynb", tmp_path / "sub" / "02_b.ipynb"
    second.parent.mkdir()
    for path in (first, second):
        path.write_text("{}")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr(selfcheck, "_ipython", lambda: None)
    # no front end: the one course notebook in the working folder
    assert find_notebook(cwd=tmp_path) == first
    # JupyterLab / Notebook 7: absolute path, or relative to the server root (name in cwd)
    monkeypatch.setenv("JPY_SESSION_NAME", str(second))
    assert find_notebook(cwd=tmp_path) == second
    monkeypatch.setenv("JPY_SESSION_NAME", "course/notebooks/02_b.ipynb")
    assert find_notebook(cwd=second.parent) == second
    # a notebook renamed after its kernel started: the stale name is skipped
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "gone.ipynb"))
    assert find_notebook(cwd=tmp_path) == first
    # VS Code wins over the server's variable (a remote kernel has both)
    monkeypatch.setenv("JPY_SESSION_NAME", str(first))
    monkeypatch.setattr(selfcheck, "_ipython", lambda: _Shell(__vsc_ipynb_file__=str(second)))
    assert find_notebook(cwd=tmp_path) == second
    # an explicit path wins over everything
    assert find_notebook("01_a.ipynb") == Path("01_a.ipynb").resolve()


def test_find_notebook_asks_for_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr(selfcheck, "_ipython", lambda: None)
    (tmp_path / "scratch.ipynb").write_text("{}")  # not a course notebook
    with pytest.raises(CourseError, match=r"^could not tell which notebook this is: pass its"):
        find_notebook(cwd=tmp_path)
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(CourseError, match=rf"\(2 course notebooks in {tmp_path}\): pass its"):
        find_notebook(cwd=tmp_path)


def test_saved_note(tmp_path):
    path = tmp_path / "01_a.ipynb"
    path.write_text("{}")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    stamp = time.strftime("%H:%M:%S", time.localtime(1_000_000_000))
    assert saved_note(path, now=1_000_000_012) == (
        f"Checking the saved file {path} (saved at {stamp}, 12 s ago). {selfcheck.SAVE_FIRST}"
    )
    assert "(saved at " + stamp + ", 3 min ago)" in saved_note(path, now=1_000_000_200)


@pytest.mark.parametrize("copy", ["released", "solution"])
def test_notebook_01(copy, tmp_path):
    """Notebook 01 as the student gets it (nothing attempted) and as the instructor wrote it
    (full points); a temporary copy, so the check-my-work cell can be appended."""
    source = ROOT / ("notebooks" if copy == "released" else "solutions") / NB01 / f"{NB01}.ipynb"
    nb = nbformat.read(source, as_version=4)
    if CHECK_CELL not in nb.cells[-1].source:
        _with_check_cell(nb)
    path = tmp_path / f"{NB01}.ipynb"
    nbformat.write(nb, path)
    result = self_check(path)
    tests = [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    ]
    possible = sum(c.metadata["nbgrader"]["points"] for c in tests)
    assert [r.test for r in result.rows] == [c.metadata["nbgrader"]["grade_id"] for c in tests]
    assert result.total == possible and result.problems == []
    if copy == "released":
        assert {r.status for r in result.rows} == {"not attempted"} and result.earned == 0
    else:
        assert {r.status for r in result.rows} == {"passed"} and result.earned == possible
