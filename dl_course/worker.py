"""Grading one submission, in a worker process (``run_job``).

The parent (``autograde``) starts one worker process per submission (``processes``) and
hands it a ``Job`` (``jobs``). The worker never touches the main gradebook: it copies the
assignment template (a course folder with its own SQLite gradebook made by
``generate_assignment``) into a private folder, runs nbgrader's ``Autograde`` converter there
with this course's preprocessors (``preprocessors.autograde_steps``: the sandboxed kernel,
the integrity probes, output caps, kernel death), runs the grader's own check of the values
(``verify``) in a second sandboxed kernel, and writes a ``WorkerResult`` for the parent.

A worker is started ahead of its turn (``processes.Ahead``): ``prepare`` copies the template
and starts both kernels with trusted code only (``warmup``); ``grade`` reads the submission and
runs nbgrader's first steps (reading, sanitizing: no student code), then waits for the
parent to give it its ``Turn`` before any student code runs, in either kernel. The time limit
starts with the turn, and a result is written only in it.

``scores`` are nbgrader's in-kernel scores; ``verified`` says, per test cell that scored in
the kernel, whether the grader's own comparison of its values agreed (``None``) or why not.
The final score of a cell is its in-kernel score only if verified (``verify.apply``); the
autograded notebook carries a note on every cell whose points were withheld, for the
feedback. The worker logs the seconds spent in each phase (``phases``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from traitlets.config import Config

from dl_course import integrity, verify, warmup
from dl_course.jobs import ExecutionReport, Job, WorkerResult
from dl_course.layout import SOURCE_DIR
from dl_course.nbgrader_api import nbgrader_config
from dl_course.notebooks import is_test_cell, nbgrader_meta
from dl_course.phases import PHASES, TIMING_MARK, phase
from dl_course.preprocessors import autograde_steps
from dl_course.sandbox import prepare_dirs

__all__ = ["TIMING_MARK", "annotate", "grade", "run_job"]


def autograde_config(job: Job, course: Path, work_dir: Path, ipc_dir: Path) -> Config:
    """The traitlets config for nbgrader's ``Autograde`` in the private course folder."""
    settings = nbgrader_config(course, db_url=f"sqlite:///{course / 'gradebook.db'}")
    settings["CourseDirectory"].update(assignment_id=job.assignment, student_id=job.student_id)
    settings["Autograde"] = {"create_student": True, "force": True, **autograde_steps()}
    settings["OverwriteCells"] = {"add_missing_cells": True}
    settings["LimitOutput"] = {"max_lines": 200, "max_traceback": 60}
    settings["GuardedExecute"] = {
        "timeout": job.limits.cell_timeout,
        # nbgrader fails the whole notebook when output lags 4 s behind a cell's reply, which
        # happens on a busy machine; a cell that ignores interrupts ends at --timeout instead.
        "raise_on_iopub_timeout": False,
        "iopub_timeout": 10,
        # Every cell's outputs have arrived when the last cell has finished: kill the kernel
        # at once (a graceful shutdown request costs ~3 s: ipykernel does not exit before
        # jupyter_client's SIGTERM, half its shutdown_wait_time later).
        "shutdown_kernel": "immediate",
        "probe_modules": job.tamper.modules,
        "probe_aliases": job.tamper.aliases,
        "report_path": str(course / "execution.json"),
    }
    settings["SandboxedKernelManager"] = {
        "work_dir": str(work_dir),
        "ipc_dir": str(ipc_dir),
        "masked_paths": job.masked,
        "memory_mb": job.limits.memory_mb,
        "cpu_seconds": job.limits.timeout,
        "unsafe": job.unsafe,
        "font_list": job.font_list or "",
    }
    return Config(settings)


class _ErrorLog(logging.Handler):
    """Keeps nbgrader's error messages, to name the cause when a conversion fails."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def reason(self) -> str:
        """The last line of the first traceback nbgrader logged, else its first error."""
        for message in self.messages:
            if message.startswith("Traceback"):
                return message.strip().splitlines()[-1]
        return self.messages[0] if self.messages else "unknown error (see the log)"


def _read_notebook(path: Path) -> tuple[NotebookNode | None, str | None]:
    try:
        nb = nbformat.read(path, as_version=4)
    except (ValueError, UnicodeDecodeError, OSError) as error:  # JSONDecodeError is a ValueError
        return None, f"notebook is not valid notebook JSON ({type(error).__name__}: {error})"
    except Exception as error:  # nbformat raises assorted errors for odd structures
        return None, f"notebook could not be read ({type(error).__name__}: {error})"
    if not isinstance(nb.get("cells"), list):
        return None, "notebook has no list of cells"
    return nb, None


def _student_sources(nb: NotebookNode, test_ids: list[str]) -> list[str]:
    """Code the student wrote: every code cell that is not one of the (restored) test cells."""
    return [
        c.source
        for c in nb.cells
        if c.get("cell_type") == "code"
        and nbgrader_meta(c).get("grade_id") not in test_ids
        and isinstance(c.get("source"), str)
    ]


def _scores(course: Path, assignment: str, student: str) -> dict[str, list[float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: [g.auto_score or 0.0, g.max_score] for g in nb.grades}


@dataclass
class Prepared:
    """What a worker sets up before its turn (trusted work only: no submission code runs):
    the private course folder (a copy of the template), the kernel's work folders and the
    verification kernels (``None`` if they could not start). The grading kernel, if it
    started, waits in ``warmup``."""

    course: Path
    work_dir: Path
    ipc_dir: Path
    verifier: verify.Verifier | None


def prepare(job: Job) -> Prepared:
    """Copy the template and the assignment's files, and start both kernels: the
    verification kernels run the trusted preamble, the grading kernel imports its modules."""
    root = Path(job.work_root)
    course = root / "course"
    with phase("copy template and work folder"):
        shutil.copytree(job.template, course)
        work_dir, ipc_dir = root / "work", root / "ipc"
        shutil.copytree(
            course / SOURCE_DIR / job.assignment, work_dir, ignore=shutil.ignore_patterns("*.ipynb")
        )
        prepare_dirs(work_dir, ipc_dir)
    verifier = _start_verifier(job, root)  # both in background threads
    warmup.start(autograde_config(job, course, work_dir, ipc_dir),
                 warmup.modules_of(job.verify.preamble))  # fmt: skip
    return Prepared(course, work_dir, ipc_dir, verifier)


class Turn:
    """The submission's turn, given by the parent with a word on ``conn`` (``None``: now).
    ``wait`` returns once it has come (at once after the first time) with its start time."""

    def __init__(self, conn: Connection | None) -> None:
        self._conn = conn
        self._started: float | None = None

    def wait(self) -> float:
        if self._started is None:
            if self._conn is not None:
                with phase("waiting for its turn"):
                    try:
                        self._conn.recv()
                    except EOFError:  # the parent is gone: nobody will give this worker a turn
                        os.killpg(0, signal.SIGKILL)  # its kernels too
            self._started = time.time()
        return self._started


def grade(job: Job, prepared: Prepared, turn: Turn) -> WorkerResult:
    """Grade the submission described by ``job`` (see the module docstring) in the folders
    and kernels ``prepared``; student code runs, and the time limit counts, from ``turn``."""
    warmup.hand_over_at(turn.wait)
    with phase("worker total"):
        try:
            result = _grade(job, prepared, turn)
        finally:
            _stop_kernels(prepared)
    log = logging.getLogger("dl-course.worker")
    log.info(TIMING_MARK + json.dumps({k: round(v, 3) for k, v in PHASES.items()}))
    return result


def _stop_kernels(prepared: Prepared) -> None:
    """Kill what ``prepare`` started (the grading kernel, if the grading did not use it)."""
    if prepared.verifier is not None:
        with phase("verification kernel shutdown"):
            prepared.verifier.close()
    warmup.discard()  # still there when the submission could not be read


def _grade(job: Job, prepared: Prepared, turn: Turn) -> WorkerResult:
    nb, problem = _read_notebook(Path(job.notebook))
    if nb is None:
        return WorkerResult.failure(problem)
    result = WorkerResult(flags=integrity.scan_source(_student_sources(nb, job.test_ids)))
    course = prepared.course
    submitted = course / "submitted" / job.student_id / job.assignment
    submitted.mkdir(parents=True)
    nbformat.write(nb, submitted / f"{job.assignment}.ipynb")
    timestamp = datetime.fromisoformat(job.timestamp).isoformat()
    (submitted / "timestamp.txt").write_text(timestamp)
    _autograde(job, course, prepared.work_dir, prepared.ipc_dir, result)
    with phase("verification (all)"):
        result.verified = _verify(job, nb, result.scores, prepared.verifier, turn.wait())
    if result.autograded:
        _, notes = verify.apply(result.scores, result.verified)
        annotate(Path(result.autograded), notes)
    return result


def _autograde(job: Job, course: Path, work_dir: Path, ipc_dir: Path, result: WorkerResult):
    """nbgrader's run: in-kernel scores, failure, tampering probes and the graded notebook
    into ``result``."""
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    assignment, student = job.assignment, job.student_id
    config = autograde_config(job, course, work_dir, ipc_dir)
    errors = _ErrorLog()
    log = logging.getLogger("dl-course.worker")
    log.addHandler(errors)
    try:
        with phase("nbgrader autograde (all)"):
            Autograde(coursedir=CourseDirectory(config=config), config=config, log=log).start()
    except Exception:  # nbgrader reports every per-submission failure this way
        result.failed = f"nbgrader could not grade it: {errors.reason()}"
    report_path = course / "execution.json"
    report = ExecutionReport.from_json(report_path.read_text()) if report_path.exists() else None
    if report is not None and (report.died or report.error):
        result.failed = report.died or f"execution failed: {report.error}"
    graded = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    if graded.exists():
        with phase("read scores"):
            result.scores = _scores(course, assignment, student)
        out = Path(job.out_dir) / f"{assignment}.ipynb"
        shutil.copy(graded, out)
        result.autograded = str(out)
    elif result.failed is None:
        result.failed = "nbgrader produced no graded notebook"
    if report is not None and report.error is None and not report.died:
        baseline = report.probes[0][1] if report.probes else None
        with phase("compare probes"):
            result.tampering = integrity.compare_probes(
                baseline, report.probes[1:], job.tamper.origins
            )


def _start_verifier(job: Job, root: Path) -> verify.Verifier | None:
    """The submission's verification kernels, started (``None`` if they cannot be)."""
    plan = job.verify
    settings = verify.Settings(
        work_dir=root / "verify-work",
        ipc_dir=root / "verify-ipc",
        masked=job.masked,
        blocker=Path(plan.blocker),
        memory_mb=job.limits.memory_mb,
        cpu_seconds=job.limits.timeout,
        unsafe=job.unsafe,
        cell_timeout=job.limits.cell_timeout,
        budget=float(job.limits.timeout),
        files_from=root / "course" / SOURCE_DIR / job.assignment,
        packages=plan.packages,
        font_list=Path(job.font_list) if job.font_list else None,
    )
    groups = sorted({p.allow for p in plan.probes})
    try:
        return verify.Verifier(plan.preamble, groups, settings)
    except Exception:  # reported per test cell by _verify
        logging.getLogger("dl-course.worker").exception("the verification could not start")
        return None


def _verify(
    job: Job, nb: NotebookNode, scores: dict, verifier: verify.Verifier | None, started: float
) -> dict[str, str | None]:
    """``{grade_id: None | reason}`` for every test cell that scored in the kernel: its values
    from the verification run (see the module docstring) against the expected ones. A failure
    of the run itself withholds those points with the reason; it never raises."""
    plan = job.verify
    probes = {p.grade_id: p for p in plan.probes}
    wanted = [probes[gid] for gid, (score, _) in scores.items() if score and gid in probes]
    if not wanted:
        return {}
    spent = time.time() - started
    limit = job.limits.timeout
    log = logging.getLogger("dl-course.worker")
    try:
        if verifier is None:
            raise RuntimeError("the verification kernels did not start")
        answers = verify.answer_sources(nb, plan.answer_ids)
        outcomes = verifier.finish(
            answers, wanted, plan.seed, plan.nonce, budget=max(5.0, limit - spent - 5.0)
        )
        expected = verify.decode_outcomes(_expected_values(Path(plan.expected), spent, limit))
        return {p.grade_id: verify.judge(outcomes.get(p.grade_id), expected[p.grade_id], p)
                for p in wanted}  # fmt: skip
    except Exception:  # a bug of ours must not cost the student silently: say so, log it
        log.exception("verification failed")
        reason = "the grader could not verify the values (an error in the grader; see its log)"
        return {p.grade_id: reason for p in wanted}


def _expected_values(path: Path, spent: float, limit: float) -> str:
    """The expected values, once the parent has written them (it computes them while the
    first submissions are graded)."""
    deadline = time.monotonic() + max(5.0, limit - spent)
    while not path.exists():
        if path.with_suffix(".failed").exists() or time.monotonic() > deadline:
            raise RuntimeError("the grader has no expected values")
        time.sleep(0.05)
    return path.read_text()


def annotate(path: Path, notes: dict[str, str]) -> None:
    """Add each note to its test cell of the autograded notebook: as a line of output (the
    student reads it in the feedback) and as metadata (the feedback's score table)."""
    if not notes:
        return
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_test_cell(cell) and gid in notes:
            text = f"Grader: {notes[gid]}\n"
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
            cell.metadata[verify.NOTE_KEY] = notes[gid]
    nbformat.write(nb, path)


def run_job(job_path: str, log_path: str, turn: Connection | None = None) -> None:
    """Entry point of a worker process: prepare, grade the job, its student code run only
    after a word on ``turn`` (sent by the parent when this submission's time starts;
    ``None``: at once), write its result in its turn; log to ``log_path``.

    The process starts its own session so the parent can kill it with everything it started.
    """
    os.setsid()
    with open(log_path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.captureWarnings(True)
    job = Job.from_json(Path(job_path).read_text())
    prepared = prepare(job)
    its_turn = Turn(turn)
    result = grade(job, prepared, its_turn)
    its_turn.wait()  # a submission that failed before running still answers in its turn
    Path(job.result_path).write_text(result.to_json())
