"""``dl-course grades``: the grade table, one row per student and assignment, or per student.

Each row: ``student``, ``assignment``, ``score``, ``max_score``, ``status`` (``graded``,
``failed: <reason>`` or ``flagged: <reasons>``), ``exercises`` (``{grade_id: score}`` for
every autograded test cell) and ``notes`` (``{grade_id: note}`` for every test cell whose
in-kernel points the grader withheld because it could not verify the values). Printed as a
table, as JSON (``--json``) or written as CSV (``--csv FILE``, exercises as one column each,
notes in one column).

``--by-student``: the whole course, one row per student: the score of every assignment in
the gradebook (empty where nothing was graded), ``total`` (a missing assignment counts 0) and
``max_total``. ``--lms canvas|moodle --csv FILE`` writes that table as the LMS's grade
import reads it (columns in ``lms_csv``); ``--roster FILE``, the LMS's own grade export,
gives each student's LMS identity. ``--assignment`` (repeatable) narrows every form.
"""

from __future__ import annotations

import argparse
import csv
import json
import unicodedata
from pathlib import Path

from dl_course import gradebook
from dl_course.cli import add_course_options
from dl_course.layout import CourseError


def grade_rows(db_url: str, assignments: list[str] | None = None) -> list[dict]:
    """All rows of the grade table (of ``assignments`` only, when given), sorted by
    assignment then student."""
    from nbgrader.api import Gradebook

    statuses = gradebook.read_statuses(db_url)
    rows = []
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            if assignments and assignment.name not in assignments:
                continue
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


def max_scores(db_url: str, assignments: list[str] | None = None) -> dict[str, float]:
    """``{assignment: max_score}`` for every assignment in the gradebook (or ``assignments``),
    graded or not, in name order. ``CourseError`` for a requested one that is not there."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        found = {a.name: float(a.max_score) for a in gb.assignments}
    unknown = sorted(set(assignments or ()) - set(found))
    if unknown:
        raise CourseError(
            f"no assignment {', '.join(unknown)} in the gradebook (it has: "
            f"{', '.join(sorted(found)) or 'none'})"
        )
    return {name: found[name] for name in sorted(found) if not assignments or name in assignments}


def by_student(rows: list[dict], maxima: dict[str, float]) -> list[dict]:
    """One row per student: ``scores`` ``{assignment: score or None}`` over every assignment
    of ``maxima``, ``total`` (``None`` counts 0) and ``max_total``; sorted by student.

    Example::

        >>> by_student([{"student": "ana", "assignment": "01_a", "score": 4.0}],
        ...            {"01_a": 5.0, "02_b": 3.0})
        [{'student': 'ana', 'scores': {'01_a': 4.0, '02_b': None}, 'total': 4.0, 'max_total': 8.0}]
    """
    scores: dict[str, dict[str, float]] = {}
    for row in rows:
        scores.setdefault(row["student"], {})[row["assignment"]] = row["score"]
    return [
        {
            "student": student,
            "scores": {name: scores[student].get(name) for name in maxima},
            "total": sum(scores[student].get(name) or 0.0 for name in maxima),
            "max_total": sum(maxima.values()),
        }
        for student in sorted(scores)
    ]


def format_by_student(table: list[dict], maxima: dict[str, float]) -> str:
    """The per-student table for the terminal: one column per assignment, then the total."""
    width = max([len(name) for name in maxima] + [5])
    lines = [" ".join([f"{'student':<20}", *(f"{n:>{width}}" for n in maxima), "total"])]
    for row in table:
        cells = ["-" if v is None else f"{v:g}" for v in row["scores"].values()]
        lines.append(" ".join([f"{row['student']:<20}", *(f"{c:>{width}}" for c in cells),
                               f"{row['total']:g}/{row['max_total']:g}"]))  # fmt: skip
    return "\n".join(lines)


def write_by_student_csv(table: list[dict], maxima: dict[str, float], path: Path) -> None:
    """``student``, one column per assignment (empty: nothing graded), ``total``, ``max_total``."""
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student", *maxima, "total", "max_total"])
        for row in table:
            cells = ["" if v is None else f"{v:g}" for v in row["scores"].values()]
            writer.writerow([row["student"], *cells, f"{row['total']:g}", f"{row['max_total']:g}"])


# What each LMS's grade import reads. Canvas (Grades > Import): the identity columns of its
# own export, then one column per assignment, matched by the "(id)" its export appends to
# the name and otherwise created as a new assignment. Moodle (Grade administration > Import
# > CSV file): any identifier column, mapped on import to a user field (username, ID number
# or email address), and one column per grade item, each mapped to an item.
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Username", "Email address"]


def _key(text: str) -> str:
    """ASCII letters and digits only, lower case, accents dropped (as ``intake`` cleans
    student ids): how a name from an LMS's submission file names (Canvas ``lastfirst``,
    Moodle ``First Last``) compares with the name in its roster."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _roster_keys(lms: str, entry: dict[str, str]) -> set[str]:
    """What a student id may be for one roster entry: its login, ids, email, or its name."""
    if lms == "canvas":
        ids = [entry.get(c, "") for c in ("ID", "SIS User ID", "SIS Login ID")]
        name = entry.get("Student", "")  # "Last, First": _key makes it lastfirst
    else:
        ids = [entry.get(c, "") for c in ("ID number", "Username", "Email address")]
        first, last = entry.get("First name", ""), entry.get("Last name", "")
        name = first + last
        ids.append(_key(last + first))  # either order
    return {i.strip().lower() for i in ids if i.strip()} | ({_key(name)} - {""})


def read_roster(path: Path) -> list[dict[str, str]]:
    """The rows of an LMS grade export (CSV, with or without a byte-order mark; a row such
    as Canvas's "Points Possible" matches no student and is never used)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def lms_identities(lms: str, students: list[str], roster: list[dict] | None) -> dict[str, dict]:
    """Each student's identity columns for ``lms``. Without a roster the student id is taken
    to be the LMS login (Canvas ``SIS Login ID``, Moodle ``Username``); with one, the roster
    entry whose id, login, email or name is the student id. ``CourseError`` naming the
    students that match no entry or several."""
    columns = CANVAS_IDENTITY if lms == "canvas" else MOODLE_IDENTITY
    login = "SIS Login ID" if lms == "canvas" else "Username"
    if roster is None:
        blank = dict.fromkeys(columns, "")
        return {s: {**blank, login: s, **({"Student": s} if lms == "canvas" else {})}
                for s in students}  # fmt: skip
    keys = [_roster_keys(lms, entry) for entry in roster]
    found, problems = {}, []
    for student in students:
        hits = [e for e, k in zip(roster, keys, strict=True)
                if student.lower() in k or _key(student) in k]  # fmt: skip
        if len(hits) == 1:
            found[student] = {c: hits[0].get(c, "") for c in columns}
        else:
            problems.append(f"{student} ({'no' if not hits else len(hits)} roster entries)")
    if problems:
        raise CourseError("students not matched one-to-one in the roster: " + ", ".join(problems))
    return found


def lms_csv(
    lms: str,
    table: list[dict],
    maxima: dict[str, float],
    path: Path,
    roster: list[dict] | None = None,
) -> None:
    """Write the per-student table as ``lms`` imports it: the identity columns
    (``CANVAS_IDENTITY`` or ``MOODLE_IDENTITY``), then one column per assignment holding its
    score (empty where nothing was graded). Canvas columns take the name of the roster's
    column for that assignment (``01_activation_functions (1234)``) when there is one. No
    total column: Canvas would make it an assignment."""
    identities = lms_identities(lms, [row["student"] for row in table], roster)
    headers = dict(zip(maxima, maxima, strict=True))
    if roster and lms == "canvas":
        for column in roster[0]:
            name = column.rsplit(" (", 1)[0]
            if name in headers and column.endswith(")"):
                headers[name] = column
    columns = CANVAS_IDENTITY if lms == "canvas" else MOODLE_IDENTITY
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*columns, *headers.values()])
        for row in table:
            identity = identities[row["student"]]
            cells = ["" if v is None else f"{v:g}" for v in row["scores"].values()]
            writer.writerow([*(identity[c] for c in columns), *cells])


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
    if args.lms and not args.csv:
        raise CourseError("--lms writes a file: give it with --csv FILE")
    if args.roster and not args.lms:
        raise CourseError("--roster is for --lms canvas|moodle")
    db_url = args.db or gradebook.default_db_url(course_dir)
    if args.by_student or args.lms:
        maxima = max_scores(db_url, args.assignment)
        table = by_student(grade_rows(db_url, args.assignment), maxima)
        if args.lms:
            roster = read_roster(Path(args.roster)) if args.roster else None
            lms_csv(args.lms, table, maxima, Path(args.csv), roster)
        elif args.csv:
            write_by_student_csv(table, maxima, Path(args.csv))
        if args.json:
            print(json.dumps(table, indent=2))
        elif not args.csv:
            print(format_by_student(table, maxima))
        return 0
    if args.assignment:
        max_scores(db_url, args.assignment)  # an unknown name is an error, not an empty table
    rows = grade_rows(db_url, args.assignment)
    if args.csv:
        write_csv(rows, Path(args.csv))
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not args.csv:
        print(format_table(rows))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "grades",
        help="print or export the grade table (instructors)",
        description=__doc__.split("\n\n")[0],
    )
    add_course_options(parser)
    parser.add_argument("--csv", metavar="FILE", help="write the table as CSV to FILE")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    parser.add_argument(
        "--assignment", action="append", metavar="NAME", help="only this assignment (repeatable)"
    )
    parser.add_argument(
        "--by-student",
        action="store_true",
        help="one row per student: every assignment's score and the total",
    )
    parser.add_argument(
        "--lms",
        choices=("canvas", "moodle"),
        help="with --csv: the per-student table as this LMS's grade import reads it",
    )
    parser.add_argument(
        "--roster",
        metavar="FILE",
        help="with --lms: the LMS's grade export (CSV), for each student's LMS identity",
    )
    parser.set_defaults(func=_run)
