"""``dl-course autograde ASSIGNMENT SUBMISSIONS``: grade a class, each submission sandboxed.

The parent process (this module) is the only one that writes the gradebook. It

1. defines the assignment in a private template course folder (``template``, cached) that
   every worker copies, and in the course folder (``./course`` unless ``--course-dir``): a
   new SQLite gradebook is a copy of the template's, an existing gradebook gets nbgrader
   ``generate_assignment`` in the background while the first submissions are graded;
2. reads the submissions (``intake``: a folder, a zip of folders or an LMS zip);
3. skips submissions already graded from identical content, and any older than the one
   graded (``policy.skip_reason``);
4. grades ``--jobs`` submissions at a time, each in a worker process (``processes``,
   ``worker``) whose kernels run in a bubblewrap sandbox (``sandbox``); one more worker is
   started ahead and starts its kernels while the others are graded (``processes.Ahead``);
5. once the assignment is defined and the expected values exist, records each result as it
   arrives: the status it gets (``policy.status_of``), scores and
   status in the gradebook (``gradebook``), the submitted and graded notebooks (``archive``),
   a log under ``course/logs/``; then prints a summary of graded, failed and flagged
   submissions.

``Grader`` holds one run: the source's probes, the secret seed, the expected values (the
solution's values on the same secret inputs: computed in the background and cached in the
course folder with their seed, ``expected``) and the
``jobs.Job`` of each submission. Points and flags are ``policy``'s: a test cell keeps its
in-kernel points only where the grader's own check of its values agreed; flags only mark a
submission for review.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from dl_course import (
    archive,
    cache,
    expected,
    fonts,
    forkserver,
    gradebook,
    intake,
    integrity,
    policy,
    processes,
    sandbox,
    template,
    verify,
)
from dl_course.cli import add_course_options
from dl_course.jobs import Job, Limits, TamperPlan, VerifyPlan, WorkerResult
from dl_course.layout import (
    RELEASE_DIR,
    SOURCE_DIR,
    Assignment,
    CourseError,
    assignments,
    find_root,
)
from dl_course.notebooks import is_test_cell
from dl_course.shard import Shard


@dataclass
class Summary:
    """What a run did, for the final report."""

    graded: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    flagged: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    withheld: list[tuple[str, str]] = field(default_factory=list)
    shard: str | None = None  # "shard K/N: M of T submissions"

    def lines(self) -> list[str]:
        out = [self.shard] if self.shard else []
        out += [
            f"graded {len(self.graded) + len(self.flagged)}, failed {len(self.failed)}, "
            f"flagged {len(self.flagged)}, unchanged (skipped) {len(self.unchanged)}"
        ]
        out += [f"  failed  {student}: {reason}" for student, reason in self.failed]
        out += [f"  flagged {student}: {reason}" for student, reason in self.flagged]
        out += [f"  withheld {student}: {what}" for student, what in self.withheld]
        out += [f"  ignored {entry}" for entry in self.ignored]
        return out


class Grader:
    """One autograde run of one assignment (see the module docstring). ``Grader.open``
    reads the source and makes the run's scratch folder; ``__init__`` only derives the run's
    plan from them (no I/O)."""

    def __init__(
        self,
        assignment: Assignment,
        course_dir: Path,
        db_url: str,
        limits: Limits,
        *,
        source: nbformat.NotebookNode,
        scratch: Path,
        masked: list[Path],
        packages: dict[str, list[str]],
        unsafe: bool = False,
    ) -> None:
        self.assignment = assignment
        self.course_dir = course_dir
        self.db_url = db_url
        self.limits = limits
        self.unsafe = unsafe
        self.source = source
        try:  # a notebook without graded_values cannot be graded
            self.probes = verify.extract_probes(source)
        except verify.ProbeError as error:
            raise CourseError(f"{assignment.name}: {error} (see CONTRIBUTING.md)") from None
        self.scratch = scratch
        self.masked = [*masked, scratch]
        self.context = forkserver.context()
        code = [c.source for c in source.cells if c.cell_type == "code"]
        aliases, modules = integrity.notebook_imports(code)
        always = integrity.trusted_origins(list(integrity.ALWAYS_WATCHED))
        present = [m for m, origin in always.items() if origin or m == "builtins"]
        watched = sorted(set(modules) | set(present))
        self.tamper = TamperPlan(watched, aliases, integrity.trusted_origins(watched))
        self.test_ids = [
            c.metadata["nbgrader"]["grade_id"] for c in source.cells if is_test_cell(c)
        ]
        self.answer_ids = verify.answer_ids(source)
        self.preamble = verify.setup_preamble(source)
        # The secret the probes' inputs derive from: new for each source, or the one the
        # course's cached expected values were made with (``prepare``). It lives in this
        # process, in job files in the scratch folder and in the course folder's cache, all
        # masked by every sandbox.
        self.seed = secrets.randbits(128)
        self.blocker = scratch / "blocker" / "__init__.py"
        self.expected = scratch / "expected.json"
        self.packages = packages  # blocked when verifying
        self.font_list: Path | None = None  # for the kernels, once built (``fonts``)
        self._background: ThreadPoolExecutor | None = None
        self._ready: list = []

    @classmethod
    def open(
        cls,
        assignment: Assignment,
        course_dir: Path,
        db_url: str,
        limits: Limits,
        *,
        masked: list[Path],
        unsafe: bool = False,
    ) -> Grader:
        """A grader for ``assignment``: its source read, a private scratch folder made (with
        the blocker of the verification runs), the forkserver starting. ``close`` it."""
        # Start the server first (if the command line has not): its imports (a second of
        # CPU) overlap all the set-up below.
        forkserver.start()
        source = nbformat.read(assignment.source_notebook, as_version=4)
        packages = verify.package_dirs(verify.BLOCKED_PACKAGES)
        scratch = Path(tempfile.mkdtemp(prefix="dl-course-grade-"))
        try:
            grader = cls(assignment, course_dir, db_url, limits, source=source, scratch=scratch,
                         masked=masked, packages=packages, unsafe=unsafe)  # fmt: skip
        except CourseError:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        grader.blocker.parent.mkdir()
        grader.blocker.write_text(verify.BLOCKER_SOURCE)
        grader.blocker.chmod(0o644)
        return grader

    def close(self) -> None:
        if self._background is not None:
            self._background.shutdown(wait=True)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def prepare(self) -> None:
        """Make the worker template, and have the assignment defined in the course folder and
        the expected values ready, made in the background where needed (``wait_until_ready``).

        The template (a course folder with its own SQLite gradebook) is cached in
        ``course/.cache`` by the digest of the assignment's source folder. A new SQLite main
        gradebook starts as a copy of the template's, with the template's copies of the
        source and the release: that is all nbgrader's definition of the assignment would make.
        The expected values come from the course's cache when it has them (``expected``).
        """
        self.template = template.cached_template(self.assignment, self.course_dir, self.scratch)
        main_db = self.course_dir / "gradebook.db"
        defined = False
        if self.db_url == gradebook.default_db_url(self.course_dir) and not main_db.exists():
            for step in (SOURCE_DIR, RELEASE_DIR):
                shutil.copytree(self.template / step / self.assignment.name,
                                self.course_dir / step / self.assignment.name,
                                dirs_exist_ok=True)  # fmt: skip
            shutil.copy(self.template / "gradebook.db", main_db)
            defined = True
        gradebook.ensure_schema(self.db_url)
        # Workers need only the template: nbgrader's definition of the assignment in the main
        # gradebook (seconds) and the expected values (a sandboxed kernel) are made while the
        # first submissions are graded; nothing is recorded before both are done.
        self._background = ThreadPoolExecutor(max_workers=3)
        if not self.unsafe:  # without a sandbox, a kernel sees all fonts: it scans them
            self.font_list = fonts.find(cache.folder(self.course_dir))
            if self.font_list is None:  # workers started before it is built go without
                self._background.submit(self._build_font_list)
        self._ready = [self._expected_values()]
        if not defined:
            self._ready.append(self._background.submit(self._define_assignment))

    def _build_font_list(self) -> None:
        self.font_list = fonts.build(cache.folder(self.course_dir), self.scratch)

    def _expected_values(self) -> Future:
        """The expected values in ``self.expected``: from the course's cache, with the seed that
        made them (``self.seed`` becomes it), or computed in the background and then cached."""
        cache = expected.cache_path(self.assignment, self.course_dir)
        cached = expected.load(cache)
        if cached is None:
            return self._background.submit(self._compute_and_cache, cache)
        self.seed, values = cached
        self._write_expected(values)
        done: Future = Future()
        done.set_result(None)
        return done

    def _compute_and_cache(self, cache: Path) -> None:
        self.compute_expected()
        expected.store(cache, self.seed, self.expected.read_text())

    def _define_assignment(self) -> None:
        with gradebook.exclusive(self.db_url):  # graders sharing a gradebook: one at a time
            template.define_assignment(self.assignment, self.course_dir, self.db_url)

    def wait_until_ready(self) -> None:
        """Return once the assignment is defined in the main gradebook and the expected values
        exist; ``CourseError`` if either failed (then no result of this run may be
        recorded)."""
        for future in self._ready:
            future.result()

    def verify_settings(self, folder: Path) -> verify.Settings:
        """Where and with which limits a verification kernel runs."""
        return verify.Settings(
            work_dir=folder / "work",
            ipc_dir=folder / "ipc",
            masked=[str(p) for p in self.masked],
            blocker=self.blocker,
            memory_mb=self.limits.memory_mb,
            cpu_seconds=self.limits.timeout,
            unsafe=self.unsafe,
            cell_timeout=self.limits.cell_timeout,
            budget=float(self.limits.timeout),
            files_from=self.assignment.source_dir,
            quiet=True,  # the kernel's start-up banner must not reach the instructor's terminal
            packages=self.packages,
            font_list=self.font_list,
        )

    def compute_expected(self) -> None:
        """The expected values of every test cell: the solution's answers through the same
        verification run as a submission, with this run's seed. Raises ``CourseError`` when
        a test cell's ``graded_values`` gives no values on the solution."""
        folder = self.scratch / "expected"
        answers = verify.answer_sources(self.source, self.answer_ids)
        outcomes = verify.run_verification(
            self.preamble, answers, list(self.probes.values()), self.seed,
            secrets.token_hex(16), self.verify_settings(folder),
        )  # fmt: skip
        broken = {
            gid: outcome.problem or (outcome.payload or {}).get("error")
            for gid, outcome in outcomes.items()
            if outcome.problem or "values" not in (outcome.payload or {})
        }
        missing = set(self.probes) - set(outcomes)
        if broken or missing:
            self.expected.with_suffix(".failed").touch()  # workers stop waiting for them
            raise CourseError(
                f"{self.assignment.name}: graded_values gives no values on the solution: "
                + "; ".join(f"{gid}: {why}" for gid, why in broken.items())
                + (f" (no outcome for {sorted(missing)})" if missing else "")
            )
        self._write_expected(verify.encode_outcomes(outcomes))

    def _write_expected(self, values: str) -> None:
        partial = self.expected.with_suffix(".partial")
        partial.write_text(values)
        partial.replace(self.expected)  # whole or absent, for the workers that wait for it

    def job(self, sub: intake.Submission, index: int) -> Job:
        """The worker's job for submission ``sub`` (its folders made in the scratch folder)."""
        root = self.scratch / f"job{index:04d}"
        (root / "out").mkdir(parents=True)
        return Job(
            assignment=self.assignment.name,
            student_id=sub.student_id,
            notebook=str(sub.notebook),
            timestamp=sub.timestamp.isoformat(),
            template=str(self.template),
            work_root=str(root / "run"),
            out_dir=str(root / "out"),
            result_path=str(root / "result.json"),
            limits=self.limits,
            masked=[str(p) for p in self.masked],
            unsafe=self.unsafe,
            test_ids=self.test_ids,
            tamper=self.tamper,
            verify=VerifyPlan(
                seed=self.seed,
                nonce=secrets.token_hex(16),
                expected=str(self.expected),
                probes=list(self.probes.values()),
                answer_ids=self.answer_ids,
                preamble=self.preamble,
                blocker=str(self.blocker),
                packages=self.packages,
            ),
            font_list=str(self.font_list) if self.font_list else None,
        )

    def start_worker(self, job: Job, log_path: Path) -> processes.Started:
        """Start the worker process of ``job``: it prepares, then waits for its turn before
        any student code runs."""
        return processes.start_worker(self.context, job, log_path)

    def run_worker(self, started: processes.Started) -> WorkerResult:
        """Grade in the ``started`` worker, within the submission's time limit."""
        return processes.run_worker(started, self.limits.timeout)

    def store(
        self, sub: intake.Submission, result: WorkerResult, status: gradebook.Status, scores
    ) -> bool:
        """Record a result: gradebook rows, and the submitted and graded notebooks. ``False``
        (nothing stored) when another grader has recorded a newer submission meanwhile."""
        if not gradebook.record(self.db_url, self.assignment.name, sub.student_id, status, scores):
            return False
        archive.store_files(self.course_dir, self.assignment.name, sub.student_id,
                            sub.timestamp, sub.notebook, result.autograded)  # fmt: skip
        return True


def autograde(
    assignment: Assignment,
    submissions: Path,
    course_dir: Path,
    *,
    db_url: str | None = None,
    jobs: int = 1,
    limits: Limits | None = None,
    patterns: list[str] | None = None,
    unsafe: bool = False,
    progress: bool = True,
    shard: Shard | None = None,
) -> Summary:
    """Grade every submission in ``submissions`` (those of ``shard`` only, when given); see
    the module docstring."""
    if not unsafe and sandbox.bwrap_path() is None:
        raise CourseError(sandbox.INSTALL_HINT)
    course_dir = course_dir.resolve()
    course_dir.mkdir(parents=True, exist_ok=True)
    db_url = db_url or gradebook.default_db_url(course_dir)
    root = assignment.root
    masked = [course_dir, submissions.resolve(), root / SOURCE_DIR, root / "tests", root / ".git"]
    grader = Grader.open(
        assignment, course_dir, db_url, limits or Limits(), masked=masked, unsafe=unsafe
    )
    summary = Summary()
    try:
        grader.prepare()
        found = intake.collect(submissions, assignment.name, grader.scratch / "intake", patterns)
        summary.ignored = found.ignored
        subs = found.submissions
        if shard is not None:
            subs = [sub for sub in subs if shard.owns(sub.student_id)]
            summary.shard = f"shard {shard}: {len(subs)} of {len(found.submissions)} submissions"
        _grade_all(grader, subs, jobs, summary, progress)
    finally:
        grader.close()
    return summary


def _grade_all(grader: Grader, subs, jobs: int, summary: Summary, progress: bool) -> None:
    from tqdm import tqdm

    previous = gradebook.read_statuses(grader.db_url)
    source = grader.assignment.source_notebook
    pending = []
    for index, sub in enumerate(subs):
        digest = template.digest(source, sub.notebook) if sub.notebook else None
        recorded = previous.get((sub.student_id, grader.assignment.name))
        skip = policy.skip_reason(sub, recorded, digest)
        if skip:
            summary.unchanged.append(f"{sub.student_id} ({skip})")
        else:
            pending.append((sub, digest, index))
    logs = grader.course_dir / "logs" / grader.assignment.name
    lock = threading.Lock()  # results are recorded one at a time, by this process only
    by_index = {index: sub for sub, _, index in pending if sub.notebook is not None}

    def start(index):
        sub = by_index[index]
        return grader.start_worker(grader.job(sub, index), logs / f"{sub.student_id}.log")

    ahead = processes.Ahead(start, list(by_index))

    def grade_one(sub, index):
        if sub.notebook is None:
            return WorkerResult.failure(sub.problem)
        return grader.run_worker(ahead.take(index))

    # The pool's threads all finish before the worker still waiting ahead (if any) is killed.
    with contextlib.closing(ahead), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_one, sub, i): (sub, digest) for sub, digest, i in pending}
        bar = tqdm(total=len(futures), unit="submission", disable=not progress, file=sys.stderr)
        for future in as_completed(futures):
            try:  # nothing is recorded before the assignment and its expected values exist
                grader.wait_until_ready()
            except CourseError:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            sub, digest = futures[future]
            result = future.result()
            status, scores = policy.status_of(sub, result, digest)
            with lock:
                stored = grader.store(sub, result, status, scores)
            bar.set_postfix_str(sub.student_id)
            bar.update()
            if not stored:  # another grader recorded a newer submission of this student
                summary.unchanged.append(f"{sub.student_id} (a newer submission was recorded)")
                continue
            if status.notes:
                gids = ", ".join(gid for gid, _ in status.notes)
                summary.withheld.append((sub.student_id, f"{gids} -- {status.notes[0][1][:200]}"))
            if status.state == "failed":
                summary.failed.append((sub.student_id, status.reason or ""))
            elif status.state == "flagged":
                summary.flagged.append((sub.student_id, "; ".join(status.flags)))
            else:
                summary.graded.append(sub.student_id)
        bar.close()


def _run(args: argparse.Namespace) -> int:
    try:
        root = find_root()
        (assignment,) = assignments(root, [args.assignment])
    except (FileNotFoundError, ValueError) as error:
        raise CourseError(str(error)) from None
    limits = Limits(timeout=args.timeout, cell_timeout=args.cell_timeout, memory_mb=args.memory_mb)
    summary = autograde(
        assignment,
        Path(args.submissions),
        Path(args.course_dir),
        db_url=args.db,
        jobs=args.jobs,
        limits=limits,
        patterns=args.pattern,
        unsafe=args.unsafe_no_sandbox,
        shard=args.shard,
    )
    print("\n".join(summary.lines()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "autograde",
        help="grade submissions with hidden tests, each in a sandbox (instructors)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("assignment", help="assignment name, e.g. 01_activation_functions")
    parser.add_argument(
        "submissions",
        help="folder with one folder per student, a zip of that, or an LMS export zip",
    )
    add_course_options(parser)
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (1)")
    parser.add_argument(
        "--shard",
        type=Shard.parse,
        metavar="K/N",
        help="grade only shard K of N (0 <= K < N), a stable share by student id: N graders "
        "on N machines, one --db PostgreSQL gradebook",
    )
    parser.add_argument(
        "--timeout", type=int, default=300, help="seconds allowed per submission (300)"
    )
    parser.add_argument("--cell-timeout", type=int, default=30, help="seconds per cell (30)")
    parser.add_argument(
        "--memory-mb", type=int, default=2048, help="memory cap per kernel process, MiB (2048)"
    )
    parser.add_argument(
        "--pattern",
        action="append",
        help="regex with a (?P<student_id>...) group for LMS file or folder names "
        "(repeatable; default: Canvas, then Moodle naming)",
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade without bubblewrap: student code runs unisolated as you",
    )
    parser.set_defaults(func=_run)
