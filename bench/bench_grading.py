"""Grading throughput and the cost of the sandbox.

    python bench/bench_grading.py [--assignment 01_activation_functions] [--students 6]

Builds a class of correct submissions (trimmed to setup, answer and test cells, as the
sample class is), then measures, in one run on one machine:

- the floor: a plain nbclient execution of one submission (no nbgrader, no sandbox), with
  nbclient's default graceful kernel shutdown (~3 s of waiting) and with the kernel killed at
  the end (``shutdown_kernel = "immediate"``, as the grader does);
- the first run of a course: one submission into a new course folder, which builds the
  course folder's cache (the assignment template, the expected values with their secret
  seed, matplotlib's font list for the kernels);
- one submission through ``dl-course autograde`` (``--jobs 1``) into a new course folder
  whose cache is warm, as every later run of a course finds it: the latency an instructor
  waits for one notebook. It includes each run's own set-up (the gradebook, the worker's
  folders and kernels), but not the forkserver's start, which this process has paid once
  (about 1 s of CPU, beside the set-up, in a fresh ``dl-course`` process);
- the same single submission as an instructor runs it: ``dl-course autograde`` as a new
  process (its imports and its forkserver included), against a plain nbclient run in a new
  process (its imports included);
- the class at ``--jobs 1`` and ``--jobs 2``; the time per further submission at
  ``--jobs 1`` is ``(T(class) - T(one)) / (students - 1)``: the per-submission cost once the
  run is under way, where each worker starts its kernels while the previous submission is
  graded (``processes.Ahead``). Each submission's grading is sandboxed, probed for tampering,
  run by nbgrader and verified by a second sandboxed kernel; the overhead is that cost over
  the floor;
- the class on one PostgreSQL gradebook: one grader against three graders
  (``--shard 0/3``, ``1/3``, ``2/3``) started at once, as three machines would run them (here
  they share this machine's cores); skipped with a note when PostgreSQL is not installed;
- the phases of the single-submission run, as its worker logged them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
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


PLAIN_COMMAND = """import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120,
               shutdown_kernel="immediate").execute()
"""


def command_seconds(command: list[str], cwd: Path) -> float:
    """Wall time of ``command`` as a new process (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return elapsed


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
    which the first run of a course does, and keeps in the course folder's cache."""
    grader = Grader.open(assignment, course, "sqlite://", Limits(), masked=[course])
    try:
        start = time.perf_counter()
        grader.compute_expected()
        return time.perf_counter() - start
    finally:
        grader.close()


def _warm(course: Path, cache: Path) -> Path:
    """A new course folder with the warm ``cache``."""
    shutil.copytree(cache, course / ".cache")
    return course


def graded_seconds(assignment, subs: Path, course: Path, jobs: int, cache: Path) -> float:
    """Wall time of one autograde run into a new course folder with a warm cache."""
    _warm(course, cache)
    start = time.perf_counter()
    summary = autograde(assignment, subs, course, jobs=jobs, limits=Limits(), progress=False)
    elapsed = time.perf_counter() - start
    assert not summary.failed, summary.lines()
    return elapsed


def shard_seconds(root: Path, name: str, subs: Path, course: Path, url: str, shards: int) -> float:
    """Wall time of ``shards`` graders (``dl-course autograde --shard k/shards``) started at
    once on the PostgreSQL gradebook ``url``, until the last one ends."""
    dl_course = Path(sys.executable).with_name("dl-course")
    start = time.perf_counter()
    graders = [
        subprocess.Popen(
            [str(dl_course), "autograde", name, str(subs), "--shard", f"{k}/{shards}", "--db",
             url, "--course-dir", str(course), "--jobs", "1"],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        for k in range(shards)
    ]
    outputs = [g.communicate()[0] for g in graders]
    elapsed = time.perf_counter() - start
    for grader, out in zip(graders, outputs, strict=True):
        assert grader.returncode == 0, out[-3000:]
    return elapsed


def postgres_rows(root: Path, name: str, subs: Path, tmp_path: Path) -> list[tuple[str, float]]:
    """One grader vs three shards at once on one PostgreSQL (a fresh database each)."""
    try:
        from tests.pg_server import PostgresServer, ServerMissing
    except ImportError as error:  # pragma: no cover - the checkout always has tests/
        return [(f"PostgreSQL runs skipped: {error}", float("nan"))]
    rows = []
    try:
        with PostgresServer() as server:
            for shards in (1, 3):
                url = server.create_database(f"bench{shards}")
                seconds = shard_seconds(root, name, subs, tmp_path / f"pg-{shards}", url, shards)
                rows.append((f"PostgreSQL, {shards} grader(s) at once (s)", seconds))
    except ServerMissing as error:
        return [(f"PostgreSQL runs skipped: {error}", float("nan"))]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="01_activation_functions")
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2, help="runs per timing (best kept)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the shard runs")
    args = parser.parse_args()
    root = find_root(Path(__file__))
    (assignment,) = assignments(root, [args.assignment])
    n = args.students
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp_path = Path(tmp)
        subs = make_class(root, args.assignment, tmp_path, n)
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
        plain_command = min(
            command_seconds([sys.executable, "-c", PLAIN_COMMAND, str(first)], first.parent)
            for _ in range(args.repeats)
        )
        dl_course = str(Path(sys.executable).with_name("dl-course"))
        single_command = min(
            command_seconds([dl_course, "autograde", args.assignment, str(one), "--course-dir",
                             str(_warm(tmp_path / f"cmd-{i}", cache)), "--jobs", "1"], root)
            for i in range(args.repeats)
        )  # fmt: skip
        runs = {jobs: graded_seconds(assignment, subs, tmp_path / f"c-{jobs}", jobs, cache)
                for jobs in (1, 2)}  # fmt: skip
        expected = min(expected_seconds(assignment, tmp_path / f"e-{i}") for i in range(2))
        pg = [] if args.no_postgres else postgres_rows(root, args.assignment, subs, tmp_path)
    further = (runs[1] - single) / (n - 1)
    rows = [
        ("plain nbclient execution, graceful shutdown (s)", plain),
        ("plain, kernel killed at the end: the floor (s)", plain_kill),
        ("first run of a course: one submission, cache built (s)", setup_and_one),
        ("autograde, one submission, --jobs 1 (s)", single),
        ("  overhead over the floor (%)", (single - plain_kill) / plain_kill * 100),
        ("  expected values, once per course (cached) (s)", expected),
        ("plain nbclient run as a new process (s)", plain_command),
        ("dl-course autograde, one submission, a new process (s)", single_command),
        ("  overhead over the plain new process (%)",
         (single_command - plain_command) / plain_command * 100),
        (f"class of {n}, --jobs 1 (s)", runs[1]),
        ("  each further submission, --jobs 1 (s)", further),
        ("  overhead over the floor (%)", (further - plain_kill) / plain_kill * 100),
        (f"class of {n}, --jobs 1 (submissions/min)", n / runs[1] * 60),
        (f"class of {n}, --jobs 2 (submissions/min)", n / runs[2] * 60),
        *pg,
    ]
    print(f"{'measure':<58} {'value':>10}")
    for label, value in rows:
        print(f"{label:<58} {value:>10.2f}")
    print("phases of the fastest single-submission run (s):")
    for name, seconds in phases.items():
        print(f"  {name:<56} {seconds:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
