"""``dl-course feedback ASSIGNMENT``: one HTML report per student, without the hidden tests.

nbgrader's ``GenerateFeedback`` renders ``course/autograded/<student>/<assignment>/`` into
``course/feedback/<student>/<assignment>/<notebook>.html``. Its default shows hidden tests;
ours runs, in order:

- ``ScrubHiddenTracebacks``: in test cells with hidden tests, a traceback would quote the
  failing hidden line, so error outputs keep only ``Error: message`` (the message is written
  for students);
- ``ClearHiddenTests``: removes the hidden-test source;
- ``GetGrades`` and ``ScoreTable``: the scores, and a table of points per test at the top
  (with the grader's note where it withheld a test's points: its own check of the values
  disagreed);
- ``CSSHTMLHeaderPreprocessor``: nbgrader's styling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor

from dl_course import gradebook
from dl_course.layout import CourseError
from dl_course.release import nbgrader_api
from dl_course.verify import NOTE_KEY

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


class ScrubHiddenTracebacks(NbGraderPreprocessor):
    """Reduce error outputs of cells with hidden tests to ``ename: evalue``."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


def _cell_text(text: str) -> str:
    """``text`` safe inside a markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


class ScoreTable(NbGraderPreprocessor):
    """Insert a markdown table of points per autograded test at the top of the notebook."""

    def preprocess(self, nb, resources):
        rows = [
            (c.metadata.nbgrader["grade_id"], c.metadata.nbgrader.get("score"),
             c.metadata.nbgrader.get("points"), c.metadata.get(NOTE_KEY, ""))
            for c in nb.cells
            if _is_test_cell(c)
        ]  # fmt: skip
        total = resources.get("nbgrader", {})
        lines = [
            f"## Your score: {total.get('score', 0):g} / {total.get('max_score', 0):g}",
            "",
            "| test | points | out of | note |",
            "| --- | ---: | ---: | --- |",
        ]
        lines += [
            f"| `{gid}` | {score or 0:g} | {points or 0:g} | {_cell_text(note)} |"
            for gid, score, points, note in rows
        ]
        nb.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
        return nb, resources


def generate_feedback(assignment: str, course_dir: Path, db_url: str | None = None) -> list[Path]:
    """Write the feedback of every graded student of ``assignment``; return the HTML files.

    Raises ``CourseError`` with nbgrader's log when generation fails.
    """
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

    course_dir = course_dir.resolve()
    preprocessors = [
        ScrubHiddenTracebacks, ClearHiddenTests, GetGrades, ScoreTable, CSSHTMLHeaderPreprocessor,
    ]  # fmt: skip
    api = nbgrader_api(
        course_dir,
        db_url=db_url or gradebook.default_db_url(course_dir),
        extra={"GenerateFeedback": {"preprocessors": preprocessors}},
    )
    if not any((course_dir / "autograded").glob(f"*/{assignment}")):
        raise CourseError(f"nothing graded for {assignment} in {course_dir}: run autograde first")
    result = api.generate_feedback(assignment, force=True)
    if not result["success"]:
        raise CourseError(
            f"nbgrader could not generate feedback:\n{result.get('log', '')}"
            f"{result.get('error', '')}"
        )
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
    gradebook.add_course_options(parser)
    parser.set_defaults(func=_run)
