"""The main gradebook: nbgrader's tables plus our ``dl_grading_status`` table.

``--db`` takes any SQLAlchemy URL; the status table lives in the same database, so a
PostgreSQL gradebook carries the statuses too. Within one grader only the trusted parent
process writes, one submission at a time. Several graders (``--shard K/N`` on many
machines) may share one PostgreSQL gradebook; the database keeps them apart:

- one result is one transaction (``record``): the student, the submission, every grade and
  the status are committed together or not at all, so a grader killed mid-write leaves
  nothing half-written;
- writers of the same student queue on a transaction-scoped advisory lock
  (``pg_advisory_xact_lock``), so two graders never both create the student or the
  submission, and a submission graded twice by mistake ends as one result (the later write);
- the status row is locked (``SELECT ... FOR UPDATE``) and compared before anything is
  written: a result for a submission older than the one recorded is dropped;
- creating the tables and defining an assignment happen under a session advisory lock
  (``exclusive``), one grader at a time: nbgrader creates tables and rows with
  check-then-insert, which fails when three graders start at once.

SQLite has no such locks; it is safe for one grader (any ``--jobs``) at a time.

A status is ``graded``, ``failed`` (with the reason) or ``flagged`` (with the reasons); a
failed or flagged submission's grades are marked ``needs_manual_grade`` in nbgrader. Its
``notes`` say, per test cell whose in-kernel points the grader withheld, why (``verify``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

STATUS_TABLE = sa.Table(
    "dl_grading_status",
    sa.MetaData(),
    sa.Column("student_id", sa.String(128), primary_key=True),
    sa.Column("assignment_id", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("flags", sa.Text, nullable=False, default="[]"),
    sa.Column("submitted_at", sa.DateTime, nullable=True),
    sa.Column("digest", sa.String(64), nullable=True),
    sa.Column("graded_at", sa.DateTime, nullable=False),
    sa.Column("notes", sa.Text, nullable=True),  # JSON {grade_id: note}; added later
)

# Advisory lock keys (PostgreSQL's two-int form): (SCHEMA_LOCK, 0) guards table creation and
# assignment definitions; (STUDENT_LOCK, hash of the id) one student's results.
SCHEMA_LOCK = 0x646C63  # "dlc"
STUDENT_LOCK = 0x646C64


def default_db_url(course_dir: Path) -> str:
    """SQLite in the course folder."""
    return f"sqlite:///{course_dir.resolve() / 'gradebook.db'}"


@dataclass(frozen=True)
class Status:
    """The outcome of grading one submission."""

    state: str  # graded | failed | flagged
    reason: str | None = None
    flags: tuple[str, ...] = ()
    submitted_at: datetime | None = None
    digest: str | None = None
    notes: tuple[tuple[str, str], ...] = ()  # (grade_id, why its points were withheld)

    @property
    def label(self) -> str:
        """``graded``, ``failed: <reason>`` or ``flagged: <reasons>``."""
        if self.state == "failed":
            return f"failed: {self.reason}"
        if self.state == "flagged":
            return f"flagged: {'; '.join(self.flags)}"
        return "graded"


def _is_postgres(bind: sa.Engine | sa.Connection) -> bool:
    return bind.dialect.name == "postgresql"


def _student_key(student_id: str) -> int:
    """A stable signed 32-bit key for ``student_id`` (the second int of its advisory lock)."""
    return int.from_bytes(hashlib.sha256(student_id.encode()).digest()[:4], "big", signed=True)


@contextlib.contextmanager
def exclusive(db_url: str) -> Iterator[None]:
    """Hold the gradebook's schema lock: one grader at a time creates tables or defines an
    assignment (PostgreSQL: a session advisory lock, released when the block ends or the
    grader's connection drops; other databases: no lock, one grader at a time)."""
    engine = sa.create_engine(db_url)
    try:
        if not _is_postgres(engine):
            yield
            return
        with engine.connect() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(SCHEMA_LOCK, 0)))
            conn.commit()  # the session lock outlives the transaction; no snapshot held open
            try:
                yield
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(SCHEMA_LOCK, 0)))
                conn.commit()
    finally:
        engine.dispose()


_SCHEMA_READY: set[str] = set()  # gradebooks this process has created or checked


def ensure_schema(db_url: str) -> None:
    """Create nbgrader's tables and the status table if missing, one grader at a time."""
    from nbgrader import api
    from nbgrader.api import Gradebook

    if db_url in _SCHEMA_READY:
        return
    with exclusive(db_url), _quiet(), Gradebook(db_url) as gb:  # nbgrader's tables, its course
        # nbgrader files assignments under its CourseDirectory.course_id, empty here, but
        # creates only "default_course": PostgreSQL enforces the foreign key, SQLite does not
        if gb.db.get(api.Course, "") is None:
            gb.db.add(api.Course(id=""))
            gb.db.commit()
        STATUS_TABLE.metadata.create_all(gb.engine)
        columns = {c["name"] for c in sa.inspect(gb.engine).get_columns(STATUS_TABLE.name)}
        if "notes" not in columns:  # a gradebook made before notes existed
            with gb.engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE {STATUS_TABLE.name} ADD COLUMN notes TEXT"))
    _SCHEMA_READY.add(db_url)


def _status(row: sa.RowMapping) -> Status:
    return Status(
        row["status"],
        row["reason"],
        tuple(json.loads(row["flags"])),
        row["submitted_at"].replace(tzinfo=UTC) if row["submitted_at"] else None,
        row["digest"],
        tuple(json.loads(row["notes"] or "{}").items()),
    )


def read_statuses(db_url: str) -> dict[tuple[str, str], Status]:
    """All stored statuses, keyed by ``(student_id, assignment_id)`` (none: ``{}``)."""
    engine = sa.create_engine(db_url)
    try:
        if not sa.inspect(engine).has_table(STATUS_TABLE.name):
            return {}
        with engine.connect() as conn:
            rows = conn.execute(sa.select(STATUS_TABLE)).mappings().all()
    finally:
        engine.dispose()
    return {(r["student_id"], r["assignment_id"]): _status(r) for r in rows}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """nbgrader 0.9.6 triggers harmless SQLAlchemy 2 autoflush warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        yield


def record(
    db_url: str,
    assignment: str,
    student_id: str,
    status: Status,
    scores: dict[str, float],
) -> bool:
    """Write one graded submission into the gradebook in one transaction: the student, the
    submission with its time, an auto score for every grade cell (0 for cells without a
    score) and the status. Returns ``False``, writing nothing, when the gradebook already
    holds the result of a newer submission of that student (another grader got there)."""
    from nbgrader.api import Gradebook

    ensure_schema(db_url)
    stamp = (
        status.submitted_at.astimezone(UTC).replace(tzinfo=None) if status.submitted_at else None
    )
    with _quiet(), Gradebook(db_url) as gb:
        session = gb.db
        try:
            if _is_postgres(session.connection()):
                session.execute(
                    sa.select(sa.func.pg_advisory_xact_lock(STUDENT_LOCK, _student_key(student_id)))
                )
            key = (STATUS_TABLE.c.student_id == student_id) & (
                STATUS_TABLE.c.assignment_id == assignment
            )
            stored = session.execute(
                sa.select(STATUS_TABLE.c.submitted_at).where(key).with_for_update()
            ).first()
            if stored and stored.submitted_at and stamp and stamp < stored.submitted_at:
                session.rollback()
                return False
            _write_grades(session, assignment, student_id, stamp, scores, status.state != "graded")
            _write_status(session, assignment, student_id, status, stamp)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return True


def _write_grades(session, assignment: str, student_id: str, stamp, scores, review: bool) -> None:
    """The student, the submission (created with every notebook and grade row of the
    assignment, as nbgrader's ``add_submission`` does) and its auto scores; not committed."""
    from nbgrader import api

    student = session.get(api.Student, student_id)
    if student is None:
        student = api.Student(id=student_id)
        session.add(student)
    definition = session.execute(
        sa.select(api.Assignment).where(api.Assignment.name == assignment)
    ).scalar_one()
    submission = session.execute(
        sa.select(api.SubmittedAssignment).where(
            api.SubmittedAssignment.assignment_id == definition.id,
            api.SubmittedAssignment.student_id == student_id,
        )
    ).scalar_one_or_none()
    if submission is None:
        submission = api.SubmittedAssignment(assignment=definition, student=student)
        for notebook in definition.notebooks:
            submitted = api.SubmittedNotebook(notebook=notebook, assignment=submission)
            for cell in notebook.grade_cells:
                api.Grade(cell_id=cell.id, notebook=submitted)
            for cell in notebook.solution_cells:
                api.Comment(cell_id=cell.id, notebook=submitted)
            for cell in notebook.task_cells:
                api.Comment(cell_id=cell.id, notebook=submitted)
                api.Grade(cell_id=cell.id, notebook=submitted)
        session.add(submission)
    submission.timestamp = stamp
    session.flush()
    for submitted in submission.notebooks:
        if submitted.notebook.name != assignment:
            continue  # one notebook per assignment, named after it
        for grade in submitted.grades:
            grade.auto_score = float(scores.get(grade.name, 0.0))
            grade.needs_manual_grade = review


def _write_status(session, assignment: str, student_id: str, status: Status, stamp) -> None:
    """Insert or replace the status row (``INSERT ... ON CONFLICT DO UPDATE``); not committed."""
    values = {
        "status": status.state,
        "reason": status.reason,
        "flags": json.dumps(list(status.flags)),
        "submitted_at": stamp,
        "digest": status.digest,
        "graded_at": datetime.now(UTC).replace(tzinfo=None),
        "notes": json.dumps(dict(status.notes)),
    }
    dialect = session.connection().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(STATUS_TABLE).values(
            student_id=student_id, assignment_id=assignment, **values
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[STATUS_TABLE.c.student_id, STATUS_TABLE.c.assignment_id],
                set_=values,
            )
        )
        return
    key = (STATUS_TABLE.c.student_id == student_id) & (STATUS_TABLE.c.assignment_id == assignment)
    if session.execute(sa.select(STATUS_TABLE.c.status).where(key)).first():
        session.execute(sa.update(STATUS_TABLE).where(key).values(**values))
    else:
        row = {"student_id": student_id, "assignment_id": assignment, **values}
        session.execute(sa.insert(STATUS_TABLE).values(**row))
