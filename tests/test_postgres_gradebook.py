"""The shared gradebook under concurrent graders, on a real PostgreSQL server (fast: no grading).

Several processes start at one barrier and write at once, as graders on several machines do:
the database's locks and constraints must leave exactly one complete result per submission.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from nbgrader import api

from dl_course import gradebook
from dl_course.layout import Assignment, venv_bin_on_path
from dl_course.template import define_assignment
from tests.grading_fixtures import TINY, make_repo
from tests.pg_server import postgres_server  # noqa: F401

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POINTS = {"test_square": 2.0, "test_relu": 3.0}  # the tiny assignment's grade cells


@pytest.fixture(scope="module")
def defined(postgres_server, tmp_path_factory):  # noqa: F811
    """A database holding the tiny assignment's definition, to copy for each test."""
    venv_bin_on_path()  # nbgrader runs alembic, as `dl-course` makes sure it can
    repo = make_repo(tmp_path_factory.mktemp("repo"))
    url = postgres_server.create_database("tiny_defined")
    gradebook.ensure_schema(url)  # as autograde does before it defines the assignment
    define_assignment(Assignment(repo, TINY), repo / "course", url)
    sa.create_engine(url).dispose()
    return postgres_server


_COPIES = iter(range(10**6))


@pytest.fixture
def db(defined):
    """A fresh gradebook in which the tiny assignment is defined and nothing is graded."""
    return defined.create_database(f"graded_{next(_COPIES)}", template="tiny_defined")


def _status(kind: str = "graded", at: datetime = T0) -> gradebook.Status:
    reason = "kernel died" if kind == "failed" else None
    flags = ("tampering detected: x",) if kind == "flagged" else ()
    return gradebook.Status(kind, reason, flags, at, f"digest-{kind}-{at:%H%M}")


def _snapshot(url: str) -> dict:
    """Everything a result writes: per (student, assignment) the submission rows, the grades
    ``{cell: (auto_score, needs_manual_grade)}`` and the status, with row counts."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        submissions = conn.execute(
            sa.text(
                "SELECT s.student_id, a.name, s.timestamp FROM submitted_assignment s "
                "JOIN assignment a ON a.id = s.assignment_id"
            )
        ).all()
        grades = conn.execute(
            sa.text(
                "SELECT s.student_id, c.name, g.auto_score, g.needs_manual_grade "
                "FROM grade g JOIN base_cell c ON c.id = g.cell_id "
                "JOIN submitted_notebook n ON n.id = g.notebook_id "
                "JOIN submitted_assignment s ON s.id = n.assignment_id"
            )
        ).all()
        statuses = conn.execute(
            sa.text("SELECT student_id, assignment_id, status, digest FROM dl_grading_status")
        ).all()
        students = conn.execute(sa.text("SELECT id FROM student")).scalars().all()
    engine.dispose()
    out: dict = {"students": sorted(students), "rows": {}}
    for student, assignment, stamp in submissions:
        entry = out["rows"].setdefault((student, assignment), {"submissions": 0, "grades": {}})
        entry["submissions"] += 1
        entry["timestamp"] = stamp
    for student, cell, score, review in grades:
        cells = out["rows"][(student, TINY)]["grades"]
        assert cell not in cells, f"two grade rows for {student} {cell}"
        cells[cell] = (score, review)
    for student, assignment, status, digest in statuses:
        entry = out["rows"].setdefault((student, assignment), {"submissions": 0, "grades": {}})
        assert "status" not in entry, f"two status rows for {student}"
        entry["status"] = (status, digest)
    return out


def test_a_result_is_written_whole(db):
    assert gradebook.record(db, TINY, "ana", _status("flagged"), {"test_square": 2.0})
    row = _snapshot(db)["rows"][("ana", TINY)]
    assert row == {
        "submissions": 1,
        "timestamp": T0.replace(tzinfo=None),
        "grades": {"test_square": (2.0, True), "test_relu": (0.0, True)},  # review: flagged
        "status": ("flagged", "digest-flagged-1200"),
    }
    rows = {r["student"]: r for r in _grade_rows(db)}
    assert rows["ana"]["score"] == 2.0 and rows["ana"]["status"] == "flagged: tampering detected: x"


def _grade_rows(url: str) -> list[dict]:
    from dl_course.grades import grade_rows

    return grade_rows(url)


def test_a_failed_write_leaves_nothing(db, monkeypatch):
    """The status is written last: when it fails, the grades written before it roll back."""

    def broken(*args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(gradebook, "_write_status", broken)
    with pytest.raises(RuntimeError, match="connection lost"):
        gradebook.record(db, TINY, "ben", _status(), POINTS)
    assert _snapshot(db) == {"students": [], "rows": {}}


def test_an_older_result_never_replaces_a_newer_one(db):
    assert gradebook.record(db, TINY, "cleo", _status("graded", T0), POINTS)
    late = T0 - timedelta(minutes=5)
    assert not gradebook.record(db, TINY, "cleo", _status("failed", late), {})
    row = _snapshot(db)["rows"][("cleo", TINY)]
    assert row["status"] == ("graded", "digest-graded-1200") and row["timestamp"] == T0.replace(
        tzinfo=None
    )
    assert row["grades"] == {"test_square": (2.0, False), "test_relu": (3.0, False)}
    newer = T0 + timedelta(minutes=5)
    assert gradebook.record(db, TINY, "cleo", _status("failed", newer), {"test_square": 2.0})
    row = _snapshot(db)["rows"][("cleo", TINY)]
    assert row["status"] == ("failed", "digest-failed-1205")
    assert row["grades"] == {"test_square": (2.0, True), "test_relu": (0.0, True)}


def _writer(url, queue, student, kind, minutes, scores):
    """One grader process: record one result; report what ``record`` returned or raised."""
    try:
        status = _status(kind, T0 + timedelta(minutes=minutes))
        stored = gradebook.record(url, TINY, student, status, scores)
        queue.put((student, minutes, stored))
    except BaseException as error:  # reported to the test, which fails on it
        queue.put((student, minutes, f"{type(error).__name__}: {error}"))


def _race(url: str, writers: list[tuple]) -> list[tuple]:
    """One process per writer ``(student, kind, minutes, scores)``, all mid-write at once.

    Not left to timing: the test holds the assignment's row lock (``FOR UPDATE``), which every
    new submission row needs (its foreign key takes ``FOR KEY SHARE``), until every writer
    waits on a lock inside its transaction; then it lets them all go. Forked: the test
    process has imported everything already (no engine is open here)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    engine = sa.create_engine(url)
    with engine.connect() as hold:
        hold.execute(sa.text("SELECT id FROM assignment FOR UPDATE"))
        mine = hold.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        procs = [ctx.Process(target=_writer, args=(url, queue, *w)) for w in writers]
        for proc in procs:
            proc.start()
        deadline = time.monotonic() + 120
        waiting = 0
        while waiting < len(writers) and time.monotonic() < deadline:
            time.sleep(0.05)
            hold.execute(sa.text("SELECT pg_stat_clear_snapshot()"))  # fresh activity view
            waiting = hold.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database() AND pid <> :me"), {"me": mine},
            ).scalar()  # fmt: skip
        assert waiting == len(writers), f"only {waiting} writers reached the lock"
        hold.commit()
    engine.dispose()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    return sorted(results, key=str)


def test_graders_writing_one_submission_at_once_leave_one_result(db):
    # The same submission graded by four shards by mistake (same time, same scores)
    results = _race(db, [("dora", "graded", 0, POINTS)] * 4)
    assert results == [("dora", 0, True)] * 4
    snapshot = _snapshot(db)
    assert snapshot["students"] == ["dora"]
    assert snapshot["rows"][("dora", TINY)] == {
        "submissions": 1,
        "timestamp": T0.replace(tzinfo=None),
        "grades": {"test_square": (2.0, False), "test_relu": (3.0, False)},
        "status": ("graded", "digest-graded-1200"),
    }


def test_graders_racing_on_one_student_keep_the_newest_submission(db):
    results = _race(db, [("emil", "failed", m, {}) for m in (0, 1, 2)] +
                    [("emil", "graded", 3, POINTS)])  # fmt: skip
    assert all(isinstance(stored, bool) for _, _, stored in results), results
    row = _snapshot(db)["rows"][("emil", TINY)]
    assert row["submissions"] == 1 and row["status"] == ("graded", "digest-graded-1203")
    assert row["grades"] == {"test_square": (2.0, False), "test_relu": (3.0, False)}


def test_graders_writing_different_students_at_once_lose_nothing(db):
    names = [f"s{i}" for i in range(6)]
    results = _race(db, [(n, "graded", 0, {"test_square": float(i % 3)}) for i, n in
                         enumerate(names)])  # fmt: skip
    assert results == sorted([(n, 0, True) for n in names], key=str)
    snapshot = _snapshot(db)
    assert snapshot["students"] == names
    assert {s: r["grades"]["test_square"][0] for (s, _), r in snapshot["rows"].items()} == {
        n: float(i % 3) for i, n in enumerate(names)
    }


def _create_schema(url, barrier, queue):
    try:
        barrier.wait(timeout=60)
        gradebook.ensure_schema(url)
        queue.put("ok")
    except BaseException as error:
        queue.put(f"{type(error).__name__}: {error}")


def test_three_graders_creating_the_gradebook_at_once(postgres_server):  # noqa: F811
    for attempt in range(2):  # a race: two fresh databases
        url = postgres_server.create_database(f"fresh_{next(_COPIES)}")
        ctx = multiprocessing.get_context("fork")
        barrier, queue = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_create_schema, args=(url, barrier, queue)) for _ in range(3)]
        for proc in procs:
            proc.start()
        assert [queue.get(timeout=120) for _ in procs] == ["ok"] * 3, f"attempt {attempt}"
        for proc in procs:
            proc.join(timeout=60)
        engine = sa.create_engine(url)
        tables = set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            courses = conn.execute(sa.select(api.Course.id)).scalars().all()
        engine.dispose()
        assert {"dl_grading_status", "submitted_assignment", "grade", "alembic_version"} <= tables
        assert sorted(courses) == ["", "default_course"]  # "": the course nbgrader files under
