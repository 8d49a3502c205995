"""The parent's side of grading, fast: no kernel runs (the worker and the expected values are
stubbed), so these tests take seconds and check what the parent decides and records.

- the re-grade sequence: a status row and digest updated on a re-grade, an unchanged run that
  grades nothing, an older submission ignored with the newer grade kept;
- ``needs_manual_grade`` in nbgrader's gradebook for failed and flagged submissions only;
- a shadow module beside the notebook flagged, its points kept; tampering flagged and, with
  the values not verified, its points withheld;
- the course folder's caches: the expected values and their seed computed once per source
  (again when the source changes or the cache is unreadable, never cached when they fail),
  and a new SQLite gradebook defined by copying the template instead of running nbgrader.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from dl_course import expected, gradebook, grades, template
from dl_course.autograde import Grader, autograde
from dl_course.jobs import Job, WorkerResult
from dl_course.layout import Assignment, CourseError
from tests.grading_fixtures import TINY, make_repo

FULL = {"test_square": [2.0, 2.0], "test_relu": [3.0, 3.0]}
VERIFIED = {"test_square": None, "test_relu": None}


class FakeWorkers:
    """Stands in for ``processes.start_worker`` and ``run_worker``: the result scripted for
    each student."""

    def __init__(self) -> None:
        self.results: dict[str, WorkerResult] = {}
        self.graded: list[str] = []

        self.expected: list[tuple[int, str]] = []  # (seed, expected values) each job saw

    def start(self, context, job: Job, log_path: Path) -> SimpleNamespace:
        return SimpleNamespace(job=job, discard=lambda: None)

    def run(self, started, timeout: int) -> WorkerResult:
        job = started.job
        self.graded.append(job.student_id)
        self.expected.append((job.verify.seed, Path(job.verify.expected).read_text()))
        result = self.results.get(job.student_id)
        if result is None:  # a full score, with a graded notebook as a worker leaves one
            graded = Path(job.out_dir) / f"{TINY}.ipynb"
            graded.write_text(f"graded {job.student_id} {job.timestamp}")
            result = WorkerResult(dict(FULL), verified=VERIFIED, autograded=str(graded))
        return result


@pytest.fixture
def run(tmp_path, monkeypatch):
    """``run(**results)`` grades ``tmp_path/subs`` into ``tmp_path/course`` with the workers
    scripted by ``results`` and returns the summary and the students graded."""
    repo = make_repo(tmp_path / "repo")
    assignment = Assignment(repo, TINY)
    workers = FakeWorkers()
    monkeypatch.setattr("dl_course.processes.start_worker", workers.start)
    monkeypatch.setattr("dl_course.processes.run_worker", workers.run)
    monkeypatch.setattr(Grader, "compute_expected", fake_expected)
    (tmp_path / "subs").mkdir()

    def grade(**results: WorkerResult):
        workers.results, workers.graded, workers.expected = results, [], []
        summary = autograde(
            assignment, tmp_path / "subs", tmp_path / "course", unsafe=True, progress=False
        )
        grade.expected = workers.expected
        return summary, sorted(workers.graded)

    return grade


COMPUTED: list[int] = []  # the seeds fake_expected computed values for


def fake_expected(grader: Grader) -> None:
    """Stands in for ``Grader.compute_expected`` (a kernel): values that name the seed."""
    COMPUTED.append(grader.seed)
    grader._write_expected(f'{{"seed": "{grader.seed}"}}')


def _submit(tmp_path: Path, student: str, when: int, *, text: str = "", extra: dict | None = None):
    """A submission of ``student`` made at ``when`` (seconds since 2026-01-01), its answer
    cell ending in ``text`` (so different texts differ in content)."""
    repo = tmp_path / "repo"
    nb = nbformat.read(repo / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    nb.cells[3].source += f"\n# {text}"
    folder = tmp_path / "subs" / student
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{TINY}.ipynb"
    nbformat.write(nb, path)
    stamp = 1767225600 + when
    os.utime(path, (stamp, stamp))
    for name, content in (extra or {}).items():
        (folder / name).write_text(content)
    return path


def _statuses(tmp_path: Path) -> dict[str, gradebook.Status]:
    db = gradebook.default_db_url(tmp_path / "course")
    return {student: s for (student, _), s in gradebook.read_statuses(db).items()}


def _rows(tmp_path: Path) -> dict[str, dict]:
    return {
        r["student"]: r for r in grades.grade_rows(gradebook.default_db_url(tmp_path / "course"))
    }


def _manual(tmp_path: Path) -> dict[str, bool]:
    """``{student: needs_manual_grade}`` (any grade cell of the submission)."""
    from nbgrader.api import Gradebook

    with Gradebook(gradebook.default_db_url(tmp_path / "course")) as gb:
        return {
            s.student.id: any(g.needs_manual_grade for n in s.notebooks for g in n.grades)
            for s in gb.find_assignment(TINY).submissions
        }


def _digest(tmp_path: Path, notebook: Path) -> str:
    source = tmp_path / "repo" / "solutions" / TINY / f"{TINY}.ipynb"
    return hashlib.sha256(source.read_bytes() + notebook.read_bytes()).hexdigest()


def test_the_regrade_sequence(tmp_path, run):
    alice = _submit(tmp_path, "alice", 0, text="first")
    bob = _submit(tmp_path, "bob", 100, text="first")
    wrong = WorkerResult({"test_square": [2.0, 2.0], "test_relu": [0.0, 3.0]}, verified=VERIFIED)
    summary, graded = run(alice=wrong)
    assert graded == ["alice", "bob"] and sorted(summary.graded) == ["alice", "bob"]
    assert {s: r["score"] for s, r in _rows(tmp_path).items()} == {"alice": 2.0, "bob": 5.0}
    assert _statuses(tmp_path)["alice"].digest == _digest(tmp_path, alice)
    bob_digest = _digest(tmp_path, bob)

    # alice resubmits, newer: graded again, her row and digest replaced
    alice = _submit(tmp_path, "alice", 200, text="second")
    summary, graded = run()
    assert graded == ["alice"] and summary.unchanged == ["bob (unchanged)"]
    assert _rows(tmp_path)["alice"]["score"] == 5.0
    status = _statuses(tmp_path)["alice"]
    assert status.digest == _digest(tmp_path, alice)
    assert status.submitted_at.timestamp() == 1767225600 + 200

    # an unchanged third run grades nothing and changes nothing
    before = _rows(tmp_path)
    summary, graded = run()
    assert graded == [] and len(summary.unchanged) == 2
    assert _rows(tmp_path) == before

    # bob's other copy, older than the one graded: ignored, his newer grade kept
    _submit(tmp_path, "bob", 50, text="an older draft")
    summary, graded = run(bob=WorkerResult.failure("must not be graded"))
    assert graded == []
    assert summary.unchanged == [
        "alice (unchanged)",
        "bob (older than the submission already graded)",
    ]
    assert _rows(tmp_path)["bob"]["score"] == 5.0 and _rows(tmp_path)["bob"]["status"] == "graded"
    assert _statuses(tmp_path)["bob"].digest == bob_digest


def test_failed_and_flagged_need_a_manual_grade_graded_does_not(tmp_path, run):
    for student in ("ann", "carl", "dora"):
        _submit(tmp_path, student, 0)
    tampered = WorkerResult(dict(FULL), verified=VERIFIED, tampering=["numpy.allclose replaced"])
    summary, _ = run(carl=WorkerResult.failure("kernel died (os._exit)"), dora=tampered)
    assert _manual(tmp_path) == {"ann": False, "carl": True, "dora": True}
    rows = _rows(tmp_path)
    assert rows["carl"]["status"] == "failed: kernel died (os._exit)"
    assert rows["dora"]["status"].startswith("flagged: tampering detected: numpy.allclose")
    assert [s for s, _ in summary.failed] == ["carl"] and [s for s, _ in summary.flagged] == [
        "dora"
    ]

    # carl resubmits and is graded cleanly: status row replaced, no manual grade any more
    _submit(tmp_path, "carl", 10, text="fixed")
    run()
    assert _rows(tmp_path)["carl"]["status"] == "graded" and not _manual(tmp_path)["carl"]


def test_a_shadow_module_is_flagged_and_keeps_its_points(tmp_path, run):
    _submit(tmp_path, "eve", 0, extra={"numpy.py": "def allclose(*a, **k):\n    return True\n"})
    run()
    row = _rows(tmp_path)["eve"]
    assert row["score"] == 5.0
    assert row["status"].startswith("flagged: possible shadow module(s) beside the notebook")
    assert "numpy.py" in row["status"]


def test_tampering_that_fooled_the_kernel_scores_nothing(tmp_path, run):
    # nbgrader's in-kernel tests passed (np.allclose patched), the grader's own check of the
    # values did not: the points are withheld, and the tampering flagged
    _submit(tmp_path, "mallory", 0)
    wrong = "on the grader's own inputs your code gave wrong values: item 0: ..."
    cheat = WorkerResult(
        dict(FULL),
        verified={"test_square": wrong, "test_relu": wrong},
        tampering=["numpy.allclose replaced (first seen after test_square)"],
    )
    run(mallory=cheat)
    row = _rows(tmp_path)["mallory"]
    assert row["score"] == 0.0 and row["exercises"] == {"test_square": 0.0, "test_relu": 0.0}
    assert row["status"].startswith("flagged: tampering detected: numpy.allclose replaced")
    assert set(row["notes"]) == {"test_square", "test_relu"}
    assert _manual(tmp_path)["mallory"]


def test_recorded_files_follow_the_latest_result(tmp_path, run):
    notebook = _submit(tmp_path, "ann", 0, text="first")
    run()
    course = tmp_path / "course"
    submitted = course / "submitted" / "ann" / TINY
    graded = course / "autograded" / "ann" / TINY / f"{TINY}.ipynb"
    assert (submitted / f"{TINY}.ipynb").read_bytes() == notebook.read_bytes()
    assert (submitted / "timestamp.txt").read_text() == "2026-01-01T00:00:00+00:00"
    assert graded.read_text() == "graded ann 2026-01-01T00:00:00+00:00"
    # a newer submission that could not be graded: no older graded notebook is left behind
    _submit(tmp_path, "ann", 60, text="broken")
    run(ann=WorkerResult.failure("kernel died"))
    assert not graded.exists()
    assert (submitted / "timestamp.txt").read_text() == "2026-01-01T00:01:00+00:00"


def test_points_withheld_by_the_verification_flag_the_submission(tmp_path, run):
    _submit(tmp_path, "otto", 0)
    withheld = WorkerResult(
        dict(FULL), verified={"test_square": None, "test_relu": "the grader received no values"}
    )
    run(otto=withheld)
    row = _rows(tmp_path)["otto"]
    assert row["exercises"] == {"test_square": 2.0, "test_relu": 0.0}
    assert row["status"] == (
        "flagged: values not verified: 1 test cell(s) passed in the kernel but not the "
        "grader's check of their values (test_relu)"
    )
    assert row["notes"] == {"test_relu": "0/3: the grader received no values"}
    assert _manual(tmp_path)["otto"]


def test_expected_values_are_computed_once_per_source_and_cached_with_their_seed(
    tmp_path, run, monkeypatch
):
    COMPUTED.clear()
    _submit(tmp_path, "ann", 0)
    run()
    (seed,) = COMPUTED
    assert run.expected == [(seed, f'{{"seed": "{seed}"}}')]
    (cache,) = (tmp_path / "course" / ".cache").glob(f"{TINY}-expected-*.json")
    assert cache.stat().st_mode & 0o777 == 0o600  # the seed is secret
    assert expected.load(cache) == (seed, f'{{"seed": "{seed}"}}')

    # another run on the same source: no computation, the same seed and values
    _submit(tmp_path, "ben", 10)
    run()
    assert COMPUTED == [seed] and run.expected == [(seed, f'{{"seed": "{seed}"}}')]

    # an unreadable cache is computed anew, with a new seed
    cache.write_text('{"seed": "1", "values": "{not json"}')
    _submit(tmp_path, "cy", 20)
    run()
    assert len(COMPUTED) == 2 and COMPUTED[1] != seed
    assert run.expected == [(COMPUTED[1], f'{{"seed": "{COMPUTED[1]}"}}')]

    # an edited source gets its own key
    source = tmp_path / "repo" / "solutions" / TINY / f"{TINY}.ipynb"
    source.write_text(source.read_text().replace("square", "square ", 1))
    _submit(tmp_path, "dee", 30)
    run()
    assert len(COMPUTED) == 3
    assert len(list((tmp_path / "course" / ".cache").glob(f"{TINY}-expected-*.json"))) == 2

    # values that could not be computed are not cached: the run stops, the next one tries again
    def failing(grader):
        raise CourseError("graded_values gives no values on the solution")

    monkeypatch.setattr(Grader, "compute_expected", failing)
    source.write_text(source.read_text().replace("square ", "square  ", 1))
    _submit(tmp_path, "eli", 40)
    with pytest.raises(CourseError, match="no values on the solution"):
        run()
    assert len(list((tmp_path / "course" / ".cache").glob(f"{TINY}-expected-*.json"))) == 2


def test_the_expected_values_key_covers_source_files_and_environment(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "repo")
    assignment = Assignment(repo, TINY)
    course = tmp_path / "course"
    key = expected.cache_path(assignment, course)
    assert key == expected.cache_path(assignment, course)  # stable
    assert key.parent == course / ".cache" and key.name.startswith(f"{TINY}-expected-")
    data = repo / "solutions" / TINY / "data.csv"
    data.write_text("1,2\n")  # a file the notebook may load
    with_data = expected.cache_path(assignment, course)
    data.write_text("1,3\n")
    current = expected.cache_path(assignment, course)
    assert len({key, with_data, current}) == 3
    monkeypatch.setattr(expected, "_environment", lambda: b"another torch, or another CPU")
    assert expected.cache_path(assignment, course) != current  # the same files elsewhere


def test_a_new_sqlite_gradebook_is_the_templates_and_an_existing_one_is_defined_again(
    tmp_path, run, monkeypatch
):
    from nbgrader.api import Gradebook

    defined: list[Path] = []
    real = template.define_assignment

    def counting(assignment, course_dir, db_url):
        defined.append(course_dir)
        real(assignment, course_dir, db_url)

    monkeypatch.setattr(template, "define_assignment", counting)
    _submit(tmp_path, "ann", 0)
    run()
    course = tmp_path / "course"
    assert len(defined) == 1 and defined[0] != course  # the template only
    for step in ("solutions", "notebooks"):
        assert (course / step / TINY / f"{TINY}.ipynb").is_file()
    with Gradebook(gradebook.default_db_url(course)) as gb:
        (notebook,) = gb.find_assignment(TINY).notebooks
        assert sorted(c.name for c in notebook.grade_cells) == ["test_relu", "test_square"]
        assert gb.find_submission(TINY, "ann").score == 5.0
    _submit(tmp_path, "ben", 10)
    run()
    assert defined[1:] == [course]  # the existing gradebook: nbgrader defines it again
