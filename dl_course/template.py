"""The assignment template: a course folder in which nbgrader has defined the assignment, with
its own SQLite gradebook. Every worker grades in a private copy of it, so workers never touch
the main gradebook.

Templates are cached in ``<course folder>/.cache/<assignment>-<key>`` (``cache``), keyed by
the assignment's source folder: an edited assignment gets a new template.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from dl_course import cache
from dl_course.gradebook import default_db_url
from dl_course.layout import SOURCE_DIR, Assignment
from dl_course.nbgrader_api import nbgrader_api, require_success


def digest(*paths: Path) -> str:
    """SHA-256 of the contents of ``paths``, in order."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def define_assignment(assignment: Assignment, course_dir: Path, db_url: str) -> None:
    """Copy the assignment's source into ``course_dir/solutions`` and run ``generate_assignment``
    against ``db_url``. Raises ``CourseError`` with nbgrader's log when that fails."""
    target = course_dir / SOURCE_DIR / assignment.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(assignment.source_dir, target)
    result = nbgrader_api(course_dir, db_url=db_url).generate_assignment(assignment.name)
    require_success(result, f"define {assignment.name} in {course_dir}")


def cached_template(assignment: Assignment, course_dir: Path, scratch: Path) -> Path:
    """The template of ``assignment`` in ``course_dir``'s cache, built (in ``scratch``) when
    missing."""
    template = cache.folder(course_dir) / f"{assignment.name}-{cache.source_key(assignment)}"
    if not template.exists():
        building = scratch / "template"
        building.mkdir()
        define_assignment(assignment, building, default_db_url(building))
        cache.put_in_place(building, template)
    return template
