"""The course folder's cache, ``<course folder>/.cache``: what graders keep between runs.

It holds the assignment template (``template``), the solution's expected values with their
seed (``expected``) and matplotlib's font list for the kernels (``fonts``), each keyed by what
it depends on, so an edited source or another environment gets an entry of its own. Entries
are put in place whole (``put_in_place``): graders sharing a course folder may build the same
one at once, and none ever reads half of one.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from dl_course.layout import Assignment


def folder(course_dir: Path) -> Path:
    return course_dir / ".cache"


def source_key(assignment: Assignment) -> str:
    """SHA-256 (16 hex digits) of the assignment's source folder: every file's path in it
    and its contents."""
    sha = hashlib.sha256()
    root = assignment.source_dir
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:16]


def put_in_place(built: Path, target: Path) -> None:
    """Copy the folder ``built`` to ``target``, whole or not at all: staged beside it, then
    renamed. If another grader's copy is in place first, it is kept (it is the same)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".staged-", dir=target.parent))
    shutil.copytree(built, staged, dirs_exist_ok=True)
    staged.chmod(0o755)
    try:
        staged.rename(target)
    except OSError:  # already there
        shutil.rmtree(staged, ignore_errors=True)
