"""``dl-course grades`` over a whole course: per-student totals and the LMS import files.

A two-assignment course (the tiny assignment and a copy of it) is defined once in a SQLite
gradebook and results are recorded directly (no grading), so the exact columns and values of
every form are checked in seconds.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from dl_course import gradebook
from dl_course.cli import main
from dl_course.layout import Assignment, venv_bin_on_path
from dl_course.template import define_assignment
from tests.grading_fixtures import TINY, make_repo

OTHER = "01_other"
STAMP = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def defined(tmp_path_factory):
    """A course folder whose gradebook defines 00_tiny and 01_other (5 points each)."""
    venv_bin_on_path()
    repo = make_repo(tmp_path_factory.mktemp("course") / "repo")
    other = repo / "solutions" / OTHER
    shutil.copytree(repo / "solutions" / TINY, other)
    (other / f"{TINY}.ipynb").rename(other / f"{OTHER}.ipynb")
    course = repo / "course"
    db = gradebook.default_db_url(course)
    course.mkdir()
    gradebook.ensure_schema(db)
    for name in (TINY, OTHER):
        define_assignment(Assignment(repo, name), course, db)
    return repo


@pytest.fixture
def course(defined, tmp_path, monkeypatch):
    """A copy of the defined course with ana (both assignments), ben (00_tiny only) and
    Ana Lopez as a Moodle export names her (01_other only); cwd is the repository."""
    repo = shutil.copytree(defined, tmp_path / "repo")
    db = gradebook.default_db_url(repo / "course")
    for assignment, student, scores, kind in [
        (TINY, "lopezana", {"test_square": 2.0, "test_relu": 3.0}, "graded"),
        (OTHER, "lopezana", {"test_square": 2.0}, "flagged"),
        (TINY, "bsmith", {"test_relu": 1.5}, "failed"),
    ]:  # fmt: skip
        status = gradebook.Status(kind, "kernel died" if kind == "failed" else None,
                                  ("x",) if kind == "flagged" else (), STAMP)  # fmt: skip
        assert gradebook.record(db, assignment, student, status, scores)
    monkeypatch.chdir(repo)
    return repo


def _out(capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["grades", *args]) == 0
    return capsys.readouterr().out


def test_by_student_totals_every_assignment(course, capsys):
    table = json.loads(_out(capsys, "--by-student", "--json"))
    assert table == [
        {"student": "bsmith", "scores": {TINY: 1.5, OTHER: None}, "total": 1.5, "max_total": 10.0},
        {"student": "lopezana", "scores": {TINY: 5.0, OTHER: 2.0}, "total": 7.0,
         "max_total": 10.0},
    ]  # fmt: skip
    assert _out(capsys, "--by-student").splitlines() == [
        "student               00_tiny 01_other total",
        "bsmith                    1.5        - 1.5/10",
        "lopezana                    5        2 7/10",
    ]
    assert main(["grades", "--by-student", "--csv", "totals.csv"]) == 0
    assert (course / "totals.csv").read_bytes().decode() == (
        "student,00_tiny,01_other,total,max_total\r\n"
        "bsmith,1.5,,1.5,10\r\n"
        "lopezana,5,2,7,10\r\n"
    )


def test_assignment_narrows_every_form(course, capsys):
    table = json.loads(_out(capsys, "--by-student", "--json", "--assignment", OTHER))
    assert table == [
        {"student": "lopezana", "scores": {OTHER: 2.0}, "total": 2.0, "max_total": 5.0}
    ]
    rows = json.loads(_out(capsys, "--json", "--assignment", TINY))
    assert [(r["student"], r["assignment"], r["score"]) for r in rows] == [
        ("bsmith", TINY, 1.5), ("lopezana", TINY, 5.0)
    ]  # fmt: skip
    capsys.readouterr()
    assert main(["grades", "--assignment", "02_missing"]) == 2
    assert "no assignment 02_missing in the gradebook" in capsys.readouterr().err


def test_canvas_csv_without_a_roster_uses_the_id_as_login(course):
    assert main(["grades", "--lms", "canvas", "--csv", "canvas.csv"]) == 0
    assert (course / "canvas.csv").read_bytes().decode() == (
        "Student,ID,SIS User ID,SIS Login ID,Section,00_tiny,01_other\r\n"
        "bsmith,,,bsmith,,1.5,\r\n"
        "lopezana,,,lopezana,,5,2\r\n"
    )


CANVAS_EXPORT = (
    "Student,ID,SIS User ID,SIS Login ID,Section,00_tiny (101),01_other (102),Current Score\n"
    "    Points Possible,,,,,5,5,(read only)\n"
    '"Lopez, Ana",7,S-7,alopez,Sec A,,,\n'
    '"Smith, Ben",8,S-8,bsmith,Sec B,,,\n'
    '"Test, Student",9,,,Sec A,,,\n'
)


def test_canvas_csv_takes_identities_and_columns_from_canvas_export(course):
    (course / "export.csv").write_text(CANVAS_EXPORT)
    assert main(["grades", "--lms", "canvas", "--csv", "c.csv", "--roster", "export.csv"]) == 0
    # lopezana (Canvas's submission file name) is "Lopez, Ana"; bsmith is a login
    assert (course / "c.csv").read_bytes().decode() == (
        "Student,ID,SIS User ID,SIS Login ID,Section,00_tiny (101),01_other (102)\r\n"
        "\"Smith, Ben\",8,S-8,bsmith,Sec B,1.5,\r\n"
        "\"Lopez, Ana\",7,S-7,alopez,Sec A,5,2\r\n"
    )


def test_moodle_csv_takes_identities_from_moodle_export(course):
    (course / "export.csv").write_text(
        "First name,Last name,ID number,Institution,Department,Email address\n"
        "Ana,López,1001,,,ana@uni.example\n"  # lopezana: her name, last name first
        "Ben,Smith,bsmith,,,ben@uni.example\n"  # bsmith: his ID number
    )
    assert main(["grades", "--lms", "moodle", "--csv", "m.csv", "--roster", "export.csv"]) == 0
    assert (course / "m.csv").read_bytes().decode() == (
        "First name,Last name,ID number,Username,Email address,00_tiny,01_other\r\n"
        "Ben,Smith,bsmith,,ben@uni.example,1.5,\r\n"
        "Ana,López,1001,,ana@uni.example,5,2\r\n"
    )
    assert main(["grades", "--lms", "moodle", "--csv", "plain.csv"]) == 0
    # no roster: the student id is the Moodle username
    assert (course / "plain.csv").read_text().splitlines()[1] == ",,,bsmith,,1.5,"


def test_a_student_missing_from_the_roster_is_an_error(course, capsys):
    (course / "export.csv").write_text(CANVAS_EXPORT.replace("bsmith", "ben.smith"))
    assert main(["grades", "--lms", "canvas", "--csv", "c.csv", "--roster", "export.csv"]) == 2
    assert "bsmith (no roster entries)" in capsys.readouterr().err
    assert not (course / "c.csv").exists()
