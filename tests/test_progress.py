"""``dl-course progress`` and ``check_my_work(all=True)``: every notebook of a course.

The course is the tiny fixture three times over (``00_tiny``, ``01_more``, ``02_later``);
the student solved the first, got relu wrong in the second and has not started the third.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from dl_course.cli import main
from dl_course.progress import COLUMNS, NO_NOTEBOOK, CourseProgress, NotebookProgress
from dl_course.release import release
from dl_course.selfcheck import check_my_work
from tests.grading_fixtures import TINY, make_repo

pytestmark = pytest.mark.slow

EXPECTED_TEXT = [
    "Notebook  Passed  Failed  Not attempted  Points  Note",
    "00_tiny        2       0              0   5 / 5",
    "01_more        0       1              1   0 / 5",
    f"02_later       0       0              2   0 / 5  {NO_NOTEBOOK}",
    "Total          2       1              3  5 / 15",
]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    repo = make_repo(tmp_path_factory.mktemp("progress") / "repo")
    for name in ("01_more", "02_later"):
        shutil.copytree(repo / "solutions" / TINY, repo / "solutions" / name)
        (repo / "solutions" / name / f"{TINY}.ipynb").rename(
            repo / "solutions" / name / f"{name}.ipynb"
        )
    release(repo, [TINY, "01_more"])
    solved = nbformat.read(repo / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    nbformat.write(solved, repo / "notebooks" / TINY / f"{TINY}.ipynb")
    wrong = repo / "notebooks" / "01_more" / "01_more.ipynb"
    nb = nbformat.read(wrong, as_version=4)
    (relu,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "relu"]
    relu.source = "def relu(x):\n    return x + 1.0"
    nbformat.write(nb, wrong)
    return repo


def test_progress_table(course, monkeypatch, capsys):
    monkeypatch.chdir(course)
    assert main(["progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Progress in {course / 'notebooks'}: 5 / 15 points from the visible tests",
        *EXPECTED_TEXT,
    ]


def test_progress_json_of_a_flat_folder(course, tmp_path, monkeypatch, capsys):
    """A folder given, holding the notebooks side by side (as downloaded from a hub); the
    solved notebook lost its relu test cell, which then counts as not attempted."""
    shutil.copy(course / "notebooks" / "01_more" / "01_more.ipynb", tmp_path)
    solved = nbformat.read(course / "notebooks" / TINY / f"{TINY}.ipynb", as_version=4)
    solved.cells = [
        c for c in solved.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_relu"
    ]
    nbformat.write(solved, tmp_path / f"{TINY}.ipynb")
    monkeypatch.chdir(course)
    assert main(["progress", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "folder": str(tmp_path),
        "notebooks": [
            {
                "name": TINY,
                "notebook": str(tmp_path / f"{TINY}.ipynb"),
                "passed": 1,
                "failed": 0,
                "not_attempted": 1,
                "earned": 2.0,
                "total": 5.0,
                "problems": [],
            },
            {
                "name": "01_more",
                "notebook": str(tmp_path / "01_more.ipynb"),
                "passed": 0,
                "failed": 1,
                "not_attempted": 1,
                "earned": 0.0,
                "total": 5.0,
                "problems": [],
            },
            {
                "name": "02_later",
                "notebook": "",
                "passed": 0,
                "failed": 0,
                "not_attempted": 2,
                "earned": 0.0,
                "total": 5.0,
                "problems": [NO_NOTEBOOK],
            },
        ],
        "total": {
            "passed": 1,
            "failed": 1,
            "not_attempted": 4,
            "earned": 2.0,
            "total": 15.0,
        },
    }


def test_check_my_work_all_from_a_notebook(course, capsys):
    """In a notebook: the folder is the one holding this notebook's assignment folder."""
    check_my_work(course / "notebooks" / "01_more" / "01_more.ipynb", all=True)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Checking every saved notebook in {course / 'notebooks'} (a fresh kernel each) ...",
        f"Progress in {course / 'notebooks'}: 5 / 15 points from the visible tests",
        *EXPECTED_TEXT,
    ]


def test_progress_outside_a_course(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["progress"]) == 2
    assert "no course repository" in capsys.readouterr().err


def test_progress_html_has_the_columns_and_escapes():
    progress = CourseProgress(
        Path("notebooks"),
        [
            NotebookProgress("00_a", "a.ipynb", 1, 1, 0, 2.0, 5.0, ["cell 3 raised KeyError: <x>"]),
            NotebookProgress("01_b", "", 0, 0, 2, 0.0, 4.0, [NO_NOTEBOOK]),
        ],
    )
    page = progress.html()
    assert page.startswith("<table class='dl-course-progress' data-earned='2' data-total='9'>")
    header = page.split("<thead><tr>")[1].split("</tr></thead>")[0]
    assert header == "".join(f"<th>{c}</th>" for c in COLUMNS)
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("</tr><tr>")
    assert rows[0] == (
        "<tr><td>00_a</td><td>1</td><td>1</td><td>0</td><td>2 / 5</td>"
        "<td>cell 3 raised KeyError: &lt;x&gt;</td>"
    )
    assert rows[2] == (
        "<td><b>Total</b></td><td><b>1</b></td><td><b>1</b></td><td><b>2</b></td>"
        "<td><b>2 / 9</b></td><td><b></b></td></tr>"
    )
