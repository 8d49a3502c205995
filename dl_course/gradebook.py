"""The main gradebook: nbgrader's tables plus our ``dl_grading_status`` table.

Only the trusted parent process writes here, one submission at a time, so any number of
parallel graders never contend for the database (SQLite included). ``--db`` takes any
SQLAlchemy URL; the status table lives in the same database so a PostgreSQL gradebook
carries the statuses too.

A status is ``graded``, ``failed`` (with the reason) or ``flagged`` (with the reasons); a
failed or flagged submission's grades are marked ``needs_manual_grade`` in nbgrader. Its
``notes`` say, per test cell whose in-kernel points the grader withheld, why (``verify``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

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


def default_db_url(course_dir: Path) -> str:
    """SQLite in the course folder."""
    return f"sqlite:///{course_dir.resolve() / 'gradebook.db'}"


@dataclass(frozen=True)
class Status:
    """The outcome of grading one submission."""

    status: str  # graded | failed | flagged
    reason: str | None = None
    flags: tuple[str, ...] = ()
    submitted_at: datetime | None = None
    digest: str | None = None
    notes: tuple[tuple[str, str], ...] = ()  # (grade_id, why its points were withheld)

    @property
    def label(self) -> str:
        """``graded``, ``failed: <reason>`` or ``flagged: <reasons>``."""
        if self.status == "failed":
            return f"failed: {self.reason}"
        if self.status == "flagged":
            return f"flagged: {'; '.join(self.flags)}"
        return "graded"


def _engine(db_url: str) -> sa.Engine:
    engine = sa.create_engine(db_url)
    STATUS_TABLE.metadata.create_all(engine)
    columns = {c["name"] for c in sa.inspect(engine).get_columns(STATUS_TABLE.name)}
    if "notes" not in columns:  # a gradebook made before notes existed
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {STATUS_TABLE.name} ADD COLUMN notes TEXT"))
    return engine


def read_statuses(db_url: str) -> dict[tuple[str, str], Status]:
    """All stored statuses, keyed by ``(student_id, assignment_id)``."""
    engine = _engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(STATUS_TABLE)).mappings().all()
    engine.dispose()
    return {
        (r["student_id"], r["assignment_id"]): Status(
            r["status"],
            r["reason"],
            tuple(json.loads(r["flags"])),
            r["submitted_at"].replace(tzinfo=UTC) if r["submitted_at"] else None,
            r["digest"],
            tuple(json.loads(r["notes"] or "{}").items()),
        )
        for r in rows
    }


def record(
    db_url: str,
    assignment: str,
    student_id: str,
    status: Status,
    scores: dict[str, float],
) -> None:
    """Write one graded submission into the gradebook: the student, the submission with its
    time, an auto score for every grade cell (0 for cells without a score) and the status."""
    from nbgrader.api import Gradebook

    stamp = (
        status.submitted_at.astimezone(UTC).replace(tzinfo=None) if status.submitted_at else None
    )
    review = status.status != "graded"
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        # nbgrader 0.9.6 triggers harmless SQLAlchemy 2 autoflush warnings here.
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        gb.update_or_create_student(student_id)
        gb.update_or_create_submission(assignment, student_id, timestamp=stamp)
        notebook = gb.find_submission_notebook(assignment, assignment, student_id)
        for grade in notebook.grades:
            grade.auto_score = float(scores.get(grade.name, 0.0))
            grade.needs_manual_grade = review
        gb.db.commit()
    engine = _engine(db_url)
    values = {
        "status": status.status,
        "reason": status.reason,
        "flags": json.dumps(list(status.flags)),
        "submitted_at": stamp,
        "digest": status.digest,
        "graded_at": datetime.now(UTC).replace(tzinfo=None),
        "notes": json.dumps(dict(status.notes)),
    }
    key = (STATUS_TABLE.c.student_id == student_id) & (STATUS_TABLE.c.assignment_id == assignment)
    with engine.begin() as conn:
        if conn.execute(sa.select(STATUS_TABLE.c.status).where(key)).first():
            conn.execute(sa.update(STATUS_TABLE).where(key).values(**values))
        else:
            conn.execute(
                sa.insert(STATUS_TABLE).values(
                    student_id=student_id, assignment_id=assignment, **values
                )
            )
    engine.dispose()
