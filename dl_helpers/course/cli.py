"""``dl-course``: the one command line for students and instructors.

Each command lives in its own module exposing ``register(subparsers)``, which adds an
``argparse`` sub-parser and sets ``func`` (``args -> exit code``). Adding a command means
writing that module and naming it in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from dl_helpers.course.layout import CourseError

# Student commands first, then instructor commands, in the order --help lists them.
COMMAND_MODULES = ("validate", "release", "autograde", "feedback", "grades")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dl-course",
        description="Deep Learning Concepts: validate your work (students); release, "
        "check and grade assignments (instructors).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"dl_helpers.course.{name}").register(commands)
    return parser


def _venv_bin_on_path() -> None:
    """nbgrader shells out to ``alembic`` and kernels start from ``jupyter``: both live beside
    this interpreter, which is not on ``PATH`` when ``.venv/bin/dl-course`` is run directly."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir


def main(argv: list[str] | None = None) -> int:
    _venv_bin_on_path()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CourseError as error:
        print(f"dl-course {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
