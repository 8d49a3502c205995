"""``dl-course grades``: the grade table, one row per student and assignment.

Each row: ``student``, ``assignment``, ``score``, ``max_score``, ``status`` (``graded``,
``failed: <reason>`` or ``flagged: <reasons>``), ``exercises`` (``{grade_id: score}`` for
every autograded test cell) and ``notes`` (``{grade_id: note}`` for every test cell whose
in-kernel points the grader withheld because it could not verify the values). Printed as a
table, as JSON (``--json``) or written as CSV (``--csv FILE``, exercises as one column each,
notes in one column).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from dl_course import gradebook
from dl_course.cli import add_course_options
from dl_course.layout import CourseError


def grade_rows(db_url: str) -> list[dict]:
    """All rows of the grade table, sorted by assignment then student."""
    from nbgrader.api import Gradebook

    statuses = gradebook.read_statuses(db_url)
    rows = []
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                student = submission.student.id
                exercises = {
                    grade.name: float(grade.score or 0.0)
                    for notebook in submission.notebooks
                    for grade in notebook.grades
                }
                status = statuses.get((student, assignment.name))
                rows.append(
                    {
                        "student": student,
                        "assignment": assignment.name,
                        "score": float(submission.score),
                        "max_score": float(submission.max_score),
                        "status": status.label if status else "graded",
                        "exercises": exercises,
                        "notes": dict(status.notes) if status else {},
                    }
                )
    return sorted(rows, key=lambda r: (r["assignment"], r["student"]))


def write_csv(rows: list[dict], path: Path) -> None:
    """CSV with the fixed columns, then one column per exercise (empty where not graded)."""
    exercises = list(dict.fromkeys(k for row in rows for k in row["exercises"]))
    fields = ["student", "assignment", "score", "max_score", "status", *exercises, "notes"]
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            flat = {k: v for k, v in row.items() if k not in ("exercises", "notes")}
            notes = "; ".join(f"{gid}: {note}" for gid, note in row.get("notes", {}).items())
            writer.writerow({**flat, **row["exercises"], "notes": notes})


def format_table(rows: list[dict]) -> str:
    """A plain-text table for the terminal."""
    lines = [f"{'student':<20} {'assignment':<28} {'score':>11}  status"]
    for row in rows:
        score = f"{row['score']:g}/{row['max_score']:g}"
        lines.append(f"{row['student']:<20} {row['assignment']:<28} {score:>11}  {row['status']}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    course_dir = Path(args.course_dir)
    if args.db is None and not (course_dir / "gradebook.db").exists():
        raise CourseError(f"no gradebook in {course_dir}: run `dl-course autograde` first")
    rows = grade_rows(args.db or gradebook.default_db_url(course_dir))
    if args.csv:
        write_csv(rows, Path(args.csv))
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not args.csv:
        print(format_table(rows))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "grades", help="print or export the grade table (instructors)", description=__doc__
    )
    add_course_options(parser)
    parser.add_argument("--csv", metavar="FILE", help="write the table as CSV to FILE")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    parser.set_defaults(func=_run)
