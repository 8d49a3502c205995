"""The files of a recorded submission in the course folder: ``submitted/`` (what the student
handed in) and ``autograded/`` (the graded notebook, for ``dl-course feedback``), each as
``<step>/<student>/<assignment>/<assignment>.ipynb`` with nbgrader's ``timestamp.txt``."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path


def store_files(
    course_dir: Path,
    assignment: str,
    student_id: str,
    timestamp: datetime,
    submitted: Path | None,
    autograded: str | Path | None,
) -> None:
    """Replace the submission's files in ``course_dir``; a step with no file (``None``) is
    removed, so no older graded notebook outlives a submission that produced none."""
    name = f"{assignment}.ipynb"
    for step, path in (("submitted", submitted), ("autograded", autograded)):
        folder = course_dir / step / student_id / assignment
        if not path:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        # Each file replaced whole: a grader sharing the course folder may write it too
        for target, write in ((folder / name, lambda t, p=path: shutil.copy(p, t)),
                              (folder / "timestamp.txt",
                               lambda t: t.write_text(timestamp.isoformat()))):  # fmt: skip
            staged = target.with_name(f".{target.name}.{os.getpid()}")
            write(staged)
            staged.replace(target)
