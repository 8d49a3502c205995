"""autograde -> grades -> feedback on the tiny fixture assignment (a few submissions).

Slow-ish (about a minute): each test grades a handful of submissions with nbgrader.
"""

from __future__ import annotations

import csv
import json
import os
import zipfile

import nbformat
import pytest

from dl_course.cli import main
from dl_course.phases import TIMING_MARK
from tests.grading_fixtures import HIDDEN_PROBES, TINY, make_repo
from tests.sandbox_tool import planted_canaries, require_bwrap, sandbox_flags

pytestmark = pytest.mark.slow


def _answered(repo, relu_source: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.read(repo / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    for cell in nb.cells:  # hidden tests stay in: OverwriteCells restores them anyway
        if relu_source and cell.metadata.get("nbgrader", {}).get("grade_id") == "relu":
            cell.source = relu_source
    return nb


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A repository with the tiny assignment and three submissions; cwd is the repository."""
    repo = make_repo(tmp_path / "repo")
    subs = tmp_path / "subs"
    for student, relu in [
        ("alice", None),
        ("bob", "def relu(x):\n    return x"),
        ("carol", "import warnings, sys\nwarnings.warn('careful')\n"
                  "def relu(x):\n    print('working...', file=sys.stderr)\n"
                  "    warnings.warn('slow')\n    return np.maximum(x, 0.0)"),
    ]:  # fmt: skip
        (subs / student).mkdir(parents=True)
        nbformat.write(_answered(repo, relu), subs / student / f"{TINY}.ipynb")
    monkeypatch.chdir(repo)
    return repo, subs


def _grade(subs, *extra: str) -> int:
    # no sandbox only on a laptop without bubblewrap; in CI that fails (sandbox_tool)
    return main(["autograde", TINY, str(subs), "--cell-timeout", "20", *sandbox_flags(), *extra])


def _rows(capsys) -> dict:
    capsys.readouterr()
    assert main(["grades", "--json"]) == 0
    return {row["student"]: row for row in json.loads(capsys.readouterr().out)}


def test_autograde_grades_feedback(course, capsys):
    repo, subs = course
    assert _grade(subs, "--jobs", "2") == 0
    rows = _rows(capsys)
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == {
        "alice": (5.0, "graded"),
        "bob": (2.0, "graded"),
        "carol": (5.0, "graded"),  # stderr from correct code costs nothing
    }
    assert rows["bob"]["exercises"] == {"test_square": 2.0, "test_relu": 0.0}
    assert rows["alice"]["max_score"] == 5.0
    for student in rows:  # each was graded in the kernel its worker started ahead of its turn
        log = (repo / "course" / "logs" / TINY / f"{student}.log").read_text()
        phases = json.loads(log.split(TIMING_MARK, 1)[1].splitlines()[0])
        assert "waiting for the turn and the warm kernel" in phases and "kernel start" not in phases

    assert main(["grades", "--csv", "grades.csv"]) == 0
    with open(repo / "grades.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["student"] for r in table] == ["alice", "bob", "carol"]
    assert table[1]["test_relu"] == "0.0" and table[1]["status"] == "graded"

    assert main(["feedback", TINY]) == 0
    html = (repo / "course" / "feedback" / "bob" / TINY / f"{TINY}.html").read_text()
    assert "visible square test passed" in html  # visible test output is shown
    assert "relu must clip negatives to 0" in html  # the hidden test's message is shown...
    for probe in HIDDEN_PROBES:  # ...but never the hidden test code
        assert probe not in html
    assert "BEGIN HIDDEN TESTS" not in html
    assert "test_relu" in html and "Your score: 2 / 5" in html


def test_rerun_is_idempotent_and_newer_submission_replaces(course, capsys):
    repo, subs = course
    assert _grade(subs) == 0
    first = _rows(capsys)
    assert _grade(subs) == 0
    out = capsys.readouterr().out
    assert "unchanged (skipped) 3" in out
    assert _rows(capsys) == first

    # bob resubmits a fixed notebook, newer than the graded one
    fixed = subs / "bob" / f"{TINY}.ipynb"
    nbformat.write(_answered(repo), fixed)
    os.utime(fixed, (fixed.stat().st_mtime + 60,) * 2)
    assert _grade(subs) == 0
    rows = _rows(capsys)
    assert rows["bob"]["score"] == 5.0 and rows["alice"] == first["alice"]


def test_lms_zip_and_failures_do_not_stop_the_batch(course, tmp_path, capsys):
    repo, _ = course
    crashing = _answered(repo)
    crashing.cells[1].source = "import os\nos._exit(1)"  # the setup cell
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"dora_11_21_{TINY}.ipynb", nbformat.writes(_answered(repo)))
        zf.writestr(f"emil_12_22_{TINY}.ipynb", "{ not json")
        zf.writestr(f"finn_13_23_{TINY}.ipynb", nbformat.writes(crashing))
    assert _grade(archive, "--jobs", "2") == 0
    out = capsys.readouterr().out
    assert "failed emil" in out.replace("  ", " ")
    rows = _rows(capsys)
    assert rows["dora"]["status"] == "graded" and rows["dora"]["score"] == 5.0
    assert rows["emil"]["status"].startswith("failed: notebook is not valid notebook JSON")
    assert rows["finn"]["status"].startswith("failed: kernel died")
    assert rows["finn"]["score"] == 0.0


def test_refuses_without_sandbox_tool(course, monkeypatch, capsys):
    _, subs = course
    monkeypatch.setattr("dl_course.sandbox.bwrap_path", lambda: None)
    assert main(["autograde", TINY, str(subs)]) == 2
    assert "--unsafe-no-sandbox" in capsys.readouterr().err


def test_submission_cannot_print_the_grading_machine_into_its_feedback(course, capsys):
    # The kernel's root is an allow-list: files beside the checkout, in the grader's home and
    # in shared folders do not exist for it, so they cannot reach the student's feedback.
    require_bwrap()
    repo, subs = course
    with planted_canaries() as folders:
        snoop = (
            "import os\n"
            f"for folder in {[str(f) for f in folders]!r}:\n"
            "    for name in (os.listdir(folder) if os.path.isdir(folder) else []):\n"
            "        print(open(os.path.join(folder, name)).read())\n"
            "    print(folder, 'exists' if os.path.exists(folder) else 'absent')\n"
            "def relu(x):\n    return np.maximum(x, 0.0)"
        )
        (subs / "mallory").mkdir()
        nbformat.write(_answered(repo, snoop), subs / "mallory" / f"{TINY}.ipynb")
        assert _grade(subs) == 0
        assert main(["feedback", TINY]) == 0
    html = (repo / "course" / "feedback" / "mallory" / TINY / f"{TINY}.html").read_text()
    assert "CANARY" not in html
    assert all(f"{folder} absent" in html for folder in folders), "the probe did not run"
    assert _rows(capsys)["mallory"]["score"] == 5.0


def test_tampering_that_fools_the_kernel_scores_nothing_and_is_flagged(course, tmp_path, capsys):
    # np.allclose patched: the in-kernel tests pass whatever relu returns; the grader's own
    # check of the values (outside the kernel) and its probes are not fooled
    repo, _ = course
    cheat = (
        "np.allclose = lambda *args, **kwargs: True\n"
        "def relu(x):\n    return np.asarray(x, dtype=float) * 0 - 1"
    )
    subs = tmp_path / "one"
    (subs / "mallory").mkdir(parents=True)
    nbformat.write(_answered(repo, cheat), subs / "mallory" / f"{TINY}.ipynb")
    assert _grade(subs) == 0
    row = _rows(capsys)["mallory"]
    assert row["exercises"] == {"test_square": 2.0, "test_relu": 0.0}
    assert row["status"].startswith("flagged: tampering detected: numpy.allclose")
    assert "static" not in row["status"] and "assigns to an attribute" in row["status"]
    assert row["notes"]["test_relu"].startswith("0/3: on the grader's own inputs")
