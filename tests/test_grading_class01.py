"""SLOW (about 4 minutes on 2 cores): a sample class of 29 submissions for notebook 01.

The class is built into ``tmp_path`` from the current solution and release by
``tests/class01/make_class.py`` (full, blank, partial, wrong, one submission per attack or
breakage, and five attacks on the grader's verification of values), graded with
``dl-course autograde --jobs 2``, and every student's score and status is checked, together
with what must not change: the submissions, the repository's ``solutions/`` and ``tests/`` (a
snapshot of them, graded from), and nothing outside the course folder. Points withheld by
the verification reach the grade table's notes, the summary and the student's feedback.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dl_course.cli import main
from dl_course.layout import find_root
from tests.class01.make_class import build
from tests.sandbox_tool import require_bwrap

ASSIGNMENT = "01_activation_functions"
ROOT = find_root(Path(__file__))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists(),
        reason=f"{ASSIGNMENT} not written yet",
    ),
]


def _tree_hash(*folders: Path) -> str:
    sha = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            sha.update(str(path).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def _snapshot_repository(dest: Path) -> Path:
    """A course repository at ``dest`` with this assignment, ``pyproject.toml`` and a
    ``tests/`` folder: graded from there, the check that grading writes nothing into the
    repository does not see other people's edits of the working tree."""
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, dest / "solutions" / ASSIGNMENT)
    shutil.copytree(ROOT / "tests" / "grading_fixtures", dest / "tests" / "grading_fixtures")
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_sample_class(tmp_path, monkeypatch, capsys):
    require_bwrap()  # skip on a laptop without it, fail in CI
    repo = _snapshot_repository(tmp_path / "repo")
    expected = build(tmp_path, repo, ASSIGNMENT)
    subs, course = tmp_path / "submissions", tmp_path / "course"
    before = _tree_hash(subs, repo / "solutions", repo / "tests")
    monkeypatch.chdir(repo)
    args = ["autograde", ASSIGNMENT, str(subs), "--course-dir", str(course)]
    # The setup cell (torch, matplotlib) took over 10 s on a 2-core machine busy with the rest
    # of the suite; 30 s still ends the infinite loop (s05) well before the 90 s limit (s06)
    limits = ["--jobs", "2", "--timeout", "90", "--cell-timeout", "30"]
    assert main(args + limits) == 0
    summary = capsys.readouterr().out

    assert main(["grades", "--course-dir", str(course), "--json"]) == 0
    rows = {r["student"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(expected), summary
    wrong = {
        student: (rows[student]["score"], rows[student]["status"][:160], want)
        for student, want in expected.items()
        if rows[student]["score"] != pytest.approx(want["score"])
        or not rows[student]["status"].startswith(want["status"])
    }
    assert not wrong, json.dumps(wrong, indent=1)
    # the in-kernel tests of the dictionary attack passed; the grader's own check did not
    attack = "s25_checks_dict_and_report"
    assert rows[attack]["notes"] and "withheld " + attack in summary
    assert all(note.startswith("0/") for note in rows[attack]["notes"].values())
    assert not rows["s01_full"]["notes"]

    assert _tree_hash(subs, repo / "solutions", repo / "tests") == before
    marker = "pwned"
    for path in course.rglob("*"):
        if path.is_file() and path.suffix in {".db", ".ipynb", ".txt"}:
            assert marker.encode() not in path.read_bytes().replace(b"'pwned'", b""), path

    # grading again changes nothing and grades nothing
    gradebook = (course / "gradebook.db").read_bytes()
    assert main(args + limits) == 0
    assert f"unchanged (skipped) {len(expected)}" in capsys.readouterr().out
    assert main(["grades", "--course-dir", str(course), "--json"]) == 0
    assert {r["student"]: r for r in json.loads(capsys.readouterr().out)} == rows
    assert len((course / "gradebook.db").read_bytes()) >= len(gradebook) // 2

    assert main(["feedback", ASSIGNMENT, "--course-dir", str(course)]) == 0
    flood = course / "feedback" / "s10_output_flood" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert flood.exists() and flood.stat().st_size < 5_000_000
    html = (course / "feedback" / attack / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "Grader: 0/2: " in html and "graded_values" not in html
