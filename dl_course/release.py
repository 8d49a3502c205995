"""``dl-course release`` and ``dl-course check-release``: make ``notebooks/`` from ``solutions/``.

Release runs nbgrader's ``generate_assignment`` in a scratch course folder (so no gradebook
is left in the repository), then copies the student version into ``notebooks/``. nbgrader
clears outputs, replaces answers by stubs that raise ``NotImplementedError`` and removes
hidden tests. One step is ours: cells that *will* raise in the blank student version (test
cells, and answer stubs whose ``raise`` is at top level) are tagged ``raises-exception``.
JupyterLab's *Run All* and nbval both honour that tag, so a student can run every
experiment before finishing the exercises, and the CI gate knows which cells must fail.

Release is deterministic: running it twice gives byte-identical notebooks, which is what
``check-release`` relies on to prove ``notebooks/`` is current.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import tempfile
from pathlib import Path

import nbformat

from dl_course.layout import (
    EXPECTED_FAILURE_TAG,
    RELEASE_DIR,
    SOURCE_DIR,
    Assignment,
    CourseError,
    assignments,
    find_root,
)
from dl_course.nbgrader_api import nbgrader_api, require_success
from dl_course.notebooks import is_answer_cell, is_test_cell

STUB_RAISE = "raise NotImplementedError()"


def tag_expected_failures(nb: nbformat.NotebookNode) -> int:
    """Tag the cells of a *released* notebook that raise until the student answers.

    Returns how many cells were tagged. A stub inside a function body only raises when the
    function is called, so the answer cell itself runs; only a top-level stub raises.
    """
    tagged = 0
    for cell in nb.cells:
        top_level_stub = is_answer_cell(cell) and any(
            line == STUB_RAISE for line in cell.source.splitlines()
        )
        if is_test_cell(cell) or top_level_stub:
            cell_tags = cell.metadata.setdefault("tags", [])
            if EXPECTED_FAILURE_TAG not in cell_tags:
                cell_tags.append(EXPECTED_FAILURE_TAG)
            tagged += 1
    return tagged


def generate_release(assignment: Assignment, scratch: Path) -> Path:
    """Generate the student version of ``assignment`` in course folder ``scratch``.

    Returns the released assignment folder (``scratch/notebooks/<name>``). Raises
    ``CourseError`` with nbgrader's log when generation fails (e.g. bad cell metadata).
    """
    shutil.copytree(assignment.source_dir, scratch / SOURCE_DIR / assignment.name)
    result = nbgrader_api(scratch).generate_assignment(assignment.name, force=True)
    require_success(result, f"release {assignment.name}")
    released = scratch / RELEASE_DIR / assignment.name
    notebook = released / f"{assignment.name}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    tag_expected_failures(nb)
    nbformat.write(nb, notebook)
    return released


def release(root: Path, names: list[str] | None = None, *, dest: Path | None = None) -> list[Path]:
    """Release assignments of repository ``root`` into ``dest`` (default ``root/notebooks``),
    replacing each assignment folder there. Returns the folders written."""
    dest = dest or root / RELEASE_DIR
    written = []
    for assignment in _assignments(root, names):
        with tempfile.TemporaryDirectory(prefix="dl-course-release-") as scratch:
            released = generate_release(assignment, Path(scratch))
            target = dest / assignment.name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(released, target)
            written.append(target)
    return written


def stale_files(root: Path, names: list[str] | None = None) -> list[str]:
    """Paths (relative to ``root``) where ``notebooks/`` differs from a fresh release:
    differing, missing or unexpected files, and released folders with no source."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dl-course-check-") as fresh:
        fresh_root = Path(fresh)
        release(root, names, dest=fresh_root)
        for assignment in _assignments(root, names):
            problems += _compare_trees(
                fresh_root / assignment.name, assignment.release_dir, root
            )
    if not names:
        known = {a.name for a in assignments(root)}
        release_root = root / RELEASE_DIR
        if release_root.is_dir():
            problems += [
                f"{RELEASE_DIR}/{p.name}/ (no {SOURCE_DIR}/{p.name})"
                for p in sorted(release_root.iterdir())
                if p.is_dir() and p.name not in known and not p.name.startswith(".")
            ]
    return problems


def _compare_trees(expected: Path, actual: Path, root: Path) -> list[str]:
    want = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    have = (
        {
            p.relative_to(actual)
            for p in actual.rglob("*")
            if p.is_file() and ".ipynb_checkpoints" not in p.parts
        }
        if actual.is_dir()
        else set()
    )
    rel = actual.relative_to(root)
    problems = [f"{rel / p} (missing)" for p in sorted(want - have)]
    problems += [f"{rel / p} (not made by release)" for p in sorted(have - want)]
    problems += [
        f"{rel / p} (differs)"
        for p in sorted(want & have)
        if not filecmp.cmp(expected / p, actual / p, shallow=False)
    ]
    return problems


def _assignments(root: Path, names: list[str] | None) -> list[Assignment]:
    try:
        return assignments(root, names)
    except ValueError as error:
        raise CourseError(str(error)) from None


def _run_release(args: argparse.Namespace) -> int:
    root = find_root()
    for folder in release(root, args.assignments or None):
        print(f"released {folder.relative_to(root)}")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    root = find_root()
    problems = stale_files(root, args.assignments or None)
    if problems:
        print(f"{RELEASE_DIR}/ is not what `dl-course release` makes from {SOURCE_DIR}/:")
        for problem in problems:
            print(f"  {problem}")
        print("Run `dl-course release` and commit the result.")
        return 1
    print(f"{RELEASE_DIR}/ is current.")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    rel = commands.add_parser(
        "release",
        help="regenerate notebooks/ from solutions/ (instructors)",
        description="Regenerate the student notebooks from the instructor sources: outputs "
        "cleared, answers replaced by stubs, hidden tests removed.",
    )
    rel.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    rel.set_defaults(func=_run_release)
    check = commands.add_parser(
        "check-release",
        help="fail if notebooks/ is not exactly what release makes (instructors, CI)",
    )
    check.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    check.set_defaults(func=_run_check)
