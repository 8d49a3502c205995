"""Grading throughput and the cost of the sandbox.

    python bench/bench_grading.py [--assignment 01_activation_functions] [--students 6]

Builds a class of correct submissions (trimmed to setup, answer and test cells, as the
sample class is), then measures

- a plain nbclient execution of one submission (no nbgrader, no sandbox): the floor;
- one submission through ``dl-course autograde`` (sandbox, probes, nbgrader, and the
  verification run: a second sandboxed kernel that recomputes every scored test cell's values
  for the grader to compare), ``--jobs 1``;
- the whole class at ``--jobs 1`` and ``--jobs 2`` (submissions per minute).

The sandbox overhead is the per-submission autograde time over the plain execution time;
it includes nbgrader's own work (sanitizing, gradebook writes), which any grading pays.
The plain execution is also timed with the kernel killed at the end (``shutdown_kernel =
"immediate"``, as the grader does) instead of nbclient's default graceful shutdown (~3 s).
The course set-up (gradebook creation, once per course) is timed separately; every run also
computes the expected values once (one verification kernel on the solution), inside its
``autograde`` wall time. Last, the phases of the fastest single-submission run, as its worker
logged them (``verification (all)`` is the second kernel).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dl_course.autograde import Grader, Limits, autograde
from dl_course.layout import assignments, find_root
from dl_course.phases import TIMING_MARK
from dl_course.release import release

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.class01.make_class import ClassBuilder  # noqa: E402


def make_class(root: Path, name: str, dest: Path, students: int) -> Path:
    """``students`` copies of a correct, trimmed submission under ``dest/submissions``."""
    (assignment,) = assignments(root, [name])
    with tempfile.TemporaryDirectory() as tmp:
        released = release(root, [name], dest=Path(tmp))[0] / f"{name}.ipynb"
        blank = nbformat.read(released, as_version=4)
    source = nbformat.read(assignment.source_notebook, as_version=4)
    nb = ClassBuilder(source, blank, trim=True).answered()
    for i in range(students):
        (dest / "submissions" / f"student{i:02d}").mkdir(parents=True)
        nbformat.write(nb, dest / "submissions" / f"student{i:02d}" / f"{name}.ipynb")
    return dest / "submissions"


def plain_seconds(notebook: Path, shutdown: str = "graceful") -> float:
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, kernel_name="python3", allow_errors=True, timeout=120, shutdown_kernel=shutdown
    ).execute(cwd=str(notebook.parent))
    return time.perf_counter() - start


def logged_phases(course: Path) -> dict[str, float]:
    """The phase timings the workers of the run into ``course`` logged (summed)."""
    phases: dict[str, float] = {}
    for log in course.glob("logs/*/*.log"):
        for line in log.read_text().splitlines():
            if TIMING_MARK in line:
                for name, seconds in json.loads(line.split(TIMING_MARK, 1)[1]).items():
                    phases[name] = phases.get(name, 0.0) + seconds
    return phases


def expected_seconds(assignment, course: Path) -> float:
    """Wall time of computing the expected values (one verification kernel on the solution),
    which every autograde run does once before its first comparison."""
    grader = Grader.open(assignment, course, "sqlite://", Limits(), masked=[course])
    try:
        start = time.perf_counter()
        grader.compute_expected()
        return time.perf_counter() - start
    finally:
        grader.close()


def graded_seconds(assignment, subs: Path, course: Path, jobs: int, cache: Path) -> float:
    """Wall time of one autograde run into a new course folder with a warm template cache."""
    shutil.copytree(cache, course / ".cache")
    start = time.perf_counter()
    summary = autograde(assignment, subs, course, jobs=jobs, limits=Limits(), progress=False)
    elapsed = time.perf_counter() - start
    assert not summary.failed, summary.lines()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="01_activation_functions")
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2, help="runs per timing (best kept)")
    args = parser.parse_args()
    root = find_root(Path(__file__))
    (assignment,) = assignments(root, [args.assignment])
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp_path = Path(tmp)
        subs = make_class(root, args.assignment, tmp_path, args.students)
        one = tmp_path / "one"
        one.mkdir()
        shutil.copytree(subs / "student00", one / "student00")
        first = next((subs / "student00").glob("*.ipynb"))
        plain_seconds(first)  # warm the file cache and the imports
        plain = min(plain_seconds(first) for _ in range(args.repeats))
        plain_kill = min(plain_seconds(first, "immediate") for _ in range(args.repeats))
        course = tmp_path / "course-setup"
        start = time.perf_counter()
        autograde(assignment, one, course, limits=Limits(), progress=False)
        setup_and_one = time.perf_counter() - start
        cache = course / ".cache"
        singles = {
            graded_seconds(assignment, one, tmp_path / f"c1-{i}", 1, cache): i
            for i in range(args.repeats)
        }
        single = min(singles)
        phases = logged_phases(tmp_path / f"c1-{singles[single]}")
        runs = {
            jobs: graded_seconds(assignment, subs, tmp_path / f"c-{jobs}", jobs, cache)
            for jobs in (1, 2)
        }
        expected = min(expected_seconds(assignment, tmp_path / f"e-{i}") for i in range(2))
    print(f"{'measure':<44} {'value':>12}")
    print(f"{'plain nbclient execution (s)':<44} {plain:>12.2f}")
    print(f"{'autograde, one submission, --jobs 1 (s)':<44} {single:>12.2f}")
    print(f"{'first run incl. gradebook set-up (s)':<44} {setup_and_one:>12.2f}")
    print(f"{'  of which expected values, once per run (s)':<44} {expected:>12.2f}")
    overhead = (single - plain) / plain * 100
    print(f"{'sandboxed grading overhead (%)':<44} {overhead:>12.1f}")
    print(f"{'plain, kernel killed at the end (s)':<44} {plain_kill:>12.2f}")
    overhead_kill = (single - plain_kill) / plain_kill * 100
    print(f"{'overhead over that (%)':<44} {overhead_kill:>12.1f}")
    for jobs, seconds in runs.items():
        rate = args.students / seconds * 60
        label = f"class of {args.students}, --jobs {jobs} (submissions/min)"
        print(f"{label:<44} {rate:>12.1f}")
    print("phases of the fastest single-submission run (s):")
    for name, seconds in phases.items():
        print(f"  {name:<42} {seconds:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
