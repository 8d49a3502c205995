"""Repository-wide pytest hooks for the notebook gates (nbval runs on solutions/ and notebooks/).

- Only course notebooks are collected by nbval: ``solutions/`` (outputs compared) and
  ``notebooks/`` (released, no outputs, so cells are executed but not compared). Notebooks
  under ``tests/`` are fixtures for the grading tests, not course material.
- In a released notebook, cells tagged ``raises-exception`` (added by ``dl-course release``)
  are the blank exercises. nbval lets them raise; we also require that they raise
  ``NotImplementedError`` -- any other error means the blank release itself is broken
  (e.g. a test cell that fails before it ever calls the student's code).
"""

from __future__ import annotations

from pathlib import Path

import pytest

# layout only: importing nbformat here would slow the start of every pytest run.
from dl_course.layout import EXPECTED_FAILURE_TAG, RELEASE_DIR, SOURCE_DIR

ROOT = Path(__file__).parent
COURSE_FOLDERS = (ROOT / SOURCE_DIR, ROOT / RELEASE_DIR)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.suffix != ".ipynb":
        return None
    if ".ipynb_checkpoints" in collection_path.parts:
        return True
    return not any(collection_path.is_relative_to(folder) for folder in COURSE_FOLDERS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    cell = getattr(item, "cell", None)  # nbval's IPyNbCell items carry their cell
    if cell is None or not item.path.is_relative_to(ROOT / RELEASE_DIR):
        return result
    if EXPECTED_FAILURE_TAG in cell.get("metadata", {}).get("tags", []):
        errors = [o for o in (item.test_outputs or []) if o.get("output_type") == "error"]
        names = [e.get("ename") for e in errors]
        if names != ["NotImplementedError"]:
            raise AssertionError(
                "a blank exercise cell of the released notebook must raise NotImplementedError "
                f"(the student's stub), but it raised {names or 'nothing'}"
            )
    return result
