"""The one door to nbgrader's API: its configuration for this course, and its failures.

nbgrader's step names are renamed so that ``source`` is ``solutions`` and ``release`` is
``notebooks`` (``layout``). Every command that asks nbgrader to do something (release,
defining an assignment for grading, feedback) goes through ``nbgrader_api`` and turns a
failed result into a ``CourseError`` with nbgrader's log (``require_success``).
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from dl_course.gradebook import default_db_url
from dl_course.layout import RELEASE_DIR, SOURCE_DIR, CourseError, venv_bin_on_path


def nbgrader_config(course_root: Path, *, db_url: str | None = None) -> dict:
    """The nbgrader settings every course command shares, as a traitlets config dict.

    ``course_root`` is the nbgrader course folder (``CourseDirectory.root``).
    """
    config: dict = {
        "CourseDirectory": {
            "root": str(course_root),
            "source_directory": SOURCE_DIR,
            "release_directory": RELEASE_DIR,
        },
        # Hidden-test markers and solution markers as CONTRIBUTING.md documents them.
        "ClearSolutions": {
            "code_stub": {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
        },
    }
    if db_url:
        config["CourseDirectory"]["db_url"] = db_url
    return config


def nbgrader_api(course_root: Path, *, db_url: str | None = None, extra: dict | None = None):
    """An ``NbGraderAPI`` for the course folder ``course_root`` (SQLite gradebook inside it
    unless ``db_url`` is given); ``extra`` merges further traitlets settings."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    venv_bin_on_path()
    settings = nbgrader_config(course_root, db_url=db_url or default_db_url(course_root))
    for section, values in (extra or {}).items():
        settings.setdefault(section, {}).update(values)
    config = Config(settings)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def require_success(result: dict, what: str) -> None:
    """Raise ``CourseError("nbgrader could not <what>: <its log>")`` unless an
    ``NbGraderAPI`` call's ``result`` says it succeeded."""
    if not result["success"]:
        raise CourseError(
            f"nbgrader could not {what}:\n{result.get('log', '')}{result.get('error', '')}"
        )
