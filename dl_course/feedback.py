"""``dl-course feedback ASSIGNMENT``: one HTML report per student, without the hidden tests.

nbgrader's ``GenerateFeedback`` renders ``course/autograded/<student>/<assignment>/`` into
``course/feedback/<student>/<assignment>/<notebook>.html``. Its default shows hidden tests;
ours runs ``preprocessors.feedback_steps()``: tracebacks of cells with hidden tests reduced to
``Error: message``, the hidden tests removed, and a table of points per test at the top (with
the grader's note where it withheld a test's points), in nbgrader's styling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dl_course import gradebook
from dl_course.cli import add_course_options
from dl_course.layout import CourseError
from dl_course.nbgrader_api import nbgrader_api, require_success
from dl_course.preprocessors import feedback_steps


def generate_feedback(assignment: str, course_dir: Path, db_url: str | None = None) -> list[Path]:
    """Write the feedback of every graded student of ``assignment``; return the HTML files.

    Raises ``CourseError`` with nbgrader's log when generation fails.
    """
    course_dir = course_dir.resolve()
    api = nbgrader_api(
        course_dir,
        db_url=db_url or gradebook.default_db_url(course_dir),
        extra={"GenerateFeedback": {"preprocessors": feedback_steps()}},
    )
    if not any((course_dir / "autograded").glob(f"*/{assignment}")):
        raise CourseError(f"nothing graded for {assignment} in {course_dir}: run autograde first")
    require_success(api.generate_feedback(assignment, force=True), "generate feedback")
    return sorted((course_dir / "feedback").glob(f"*/{assignment}/*.html"))


def _run(args: argparse.Namespace) -> int:
    written = generate_feedback(args.assignment, Path(args.course_dir), args.db)
    print(f"wrote {len(written)} feedback file(s) under {Path(args.course_dir) / 'feedback'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "feedback",
        help="write one HTML feedback file per student (instructors)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("assignment", help="assignment name, e.g. 01_activation_functions")
    add_course_options(parser)
    parser.set_defaults(func=_run)
