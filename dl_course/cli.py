"""``dl-course``: the one command line for students and instructors.

Each command lives in its own module exposing ``register(subparsers)``, which adds an
``argparse`` sub-parser and sets ``func`` (``args -> exit code``). Adding a command means
writing that module and naming it in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dl_course import forkserver
from dl_course.layout import CourseError, venv_bin_on_path

# Student commands first, then instructor commands, in the order --help lists them.
COMMAND_MODULES = ("validate", "progress", "release", "autograde", "feedback", "grades")


def add_course_options(parser: argparse.ArgumentParser) -> None:
    """``--course-dir`` and ``--db``, shared by every instructor command that reads or
    writes the gradebook."""
    parser.add_argument("--course-dir", default="course", help="course working folder (./course)")
    parser.add_argument(
        "--db",
        help="gradebook SQLAlchemy URL (default: SQLite in the course folder); "
        "postgresql://user@host/db for graders on several machines",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dl-course",
        description="Deep Learning Concepts: validate your work (students); release, "
        "check and grade assignments (instructors).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"dl_course.{name}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    venv_bin_on_path()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["autograde"]:  # the grading workers' server imports while we do (below)
        forkserver.start()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CourseError as error:
        print(f"dl-course {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
