"""Grading one submission, in a worker process (``run_job``).

The parent (``autograde``) starts one worker process per submission (forked from a server
that has the grading modules imported) in its own session, and kills the whole group when
the submission's time is up. The worker never touches the main
gradebook: it copies the assignment template (a course folder with its own SQLite gradebook
made by ``generate_assignment``) into a private folder, runs nbgrader's ``Autograde``
converter there, and writes ``result.json`` for the parent:

``{"scores": {grade_id: [score, max]}, "failed": reason|None, "flags": [...],
"tampering": [...], "verified": {grade_id: None|reason}, "autograded": path|None}``

``scores`` are nbgrader's in-kernel scores; ``verified`` says, per test cell that scored in
the kernel, whether the grader's own comparison of its values (``verify``: a second,
sandboxed kernel without dl_helpers/torch/scipy/sklearn runs the answer cells and the test
cells' ``graded_values`` on secret inputs) agreed (``None``) or why not. The final score of a
cell is its in-kernel score only if verified (``verify.apply``); the autograded notebook
carries a note on every cell whose points were withheld, for the feedback.

nbgrader's pipeline is kept (sanitize: clear outputs, de-duplicate ids, restore test cells and
cell types from the gradebook, with ``OverwriteCells.add_missing_cells``), with these
changes to its execution step (``GuardedExecute``):

- the kernel is a ``SandboxedKernelManager`` (bubblewrap, resource limits) whose working
  folder holds only the files the assignment ships -- never the notebook with hidden tests;
- trusted probe cells run before the student's code and after each test cell
  (``integrity``), and are removed again before grading;
- outputs are capped per cell as they arrive (streams, images, HTML alike), so a flood
  neither exhausts the grader's memory nor breaks the feedback;
- if the kernel dies, the cells run so far keep their results, every test cell that did not
  run gets an error (0 points), and the submission fails with the reason;
- stderr in a test cell (warnings, progress bars) is shown as ordinary output, because
  nbgrader would otherwise score a passing test 0 (``RelabelStderr``);
- the kernel is killed as soon as the last cell has run (no graceful shutdown: it saves ~3 s).

The worker logs the seconds spent in each phase (``TIMING_MARK``; ``bench/bench_grading.py``
prints them).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Dict, Integer, List, Unicode
from traitlets.config import Config

from dl_course import integrity, verify
from dl_course.layout import SOURCE_DIR, nbgrader_config
from dl_course.sandbox import SandboxedKernelManager, prepare_dirs

PROBE_KEY = "dl_grader_probe"
TIMING_MARK = "grading phases (s): "

# Seconds spent in each phase of this worker's one submission (for the log and the benchmark).
PHASES: dict[str, float] = defaultdict(float)


class _phase:
    """Adds the time spent in the ``with`` block to ``PHASES[name]``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        PHASES[self.name] += time.perf_counter() - self.start


def _probe_cell(source: str, where: str) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata[PROBE_KEY] = where
    return cell


def _is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _error(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` with a sandboxed kernel, probes, output caps and death handling."""

    probe_modules = List(Unicode(), help="Modules whose callables the probes fingerprint.").tag(
        config=True
    )
    probe_aliases = Dict(help="Module aliases the notebook binds, e.g. {'np': 'numpy'}.").tag(
        config=True
    )
    report_path = Unicode(help="Where to write the execution report (JSON).").tag(config=True)
    max_cell_output_bytes = Integer(256_000, help="Output kept per cell.").tag(config=True)

    def __init__(self, **kwargs) -> None:
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(**kwargs)
        self._cell_bytes: dict[int, int] = {}

    def preprocess(self, nb: NotebookNode, resources: dict, km=None):
        probe = integrity.probe_source(list(self.probe_modules), dict(self.probe_aliases))
        cells: list[NotebookNode] = [_probe_cell(probe, "start")]
        for cell in nb.cells:
            cells.append(cell)
            if _is_test_cell(cell):
                cells.append(_probe_cell(probe, cell.metadata["nbgrader"]["grade_id"]))
        nb.cells = cells
        died = None
        start = time.perf_counter()
        try:
            nb, resources = super().preprocess(nb, resources, km)
        except DeadKernelError:
            died = "kernel died (os._exit, a crash, or a resource limit)"
        except Exception as error:  # e.g. the kernel never started: say why, then fail
            Path(self.report_path).write_text(
                json.dumps({"error": f"{type(error).__name__}: {error}"})
            )
            raise
        finally:
            PHASES["execute (all)"] += time.perf_counter() - start
        probes = [
            (c.metadata[PROBE_KEY], _probe_report(c)) for c in nb.cells if PROBE_KEY in c.metadata
        ]
        nb.cells = [c for c in nb.cells if PROBE_KEY not in c.metadata]
        if died:
            for cell in nb.cells:
                if _is_test_cell(cell) and cell.get("execution_count") is None:
                    cell.outputs.append(_error("NotRun", f"this test did not run: {died}"))
            probes = [(where, report) for where, report in probes if report is not None]
        Path(self.report_path).write_text(json.dumps({"died": died, "probes": probes}))
        return nb, resources

    async def async_start_new_kernel(self, **kwargs) -> None:
        with _phase("kernel start"):
            await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        with _phase("kernel ready"):
            return await super().async_start_new_kernel_client()

    async def _async_cleanup_kernel(self) -> None:
        with _phase("kernel shutdown"):
            await super()._async_cleanup_kernel()

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        kind = "probe cells" if PROBE_KEY in cell.get("metadata", {}) else "notebook cells"
        with _phase(kind):
            return await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )

    # nbconvert's preprocess calls the synchronous wrappers, bound to nbclient's methods.
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
    _cleanup_kernel = run_sync(_async_cleanup_kernel)
    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._cell_bytes.get(cell_index, 0)
        self._cell_bytes[cell_index] = used + size
        if used + size <= self.max_cell_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_cell_output_bytes:
            note = f"[output truncated by the grader: more than {self.max_cell_output_bytes} bytes]"
            outs.append(nbformat.v4.new_output("stream", name="stdout", text=note + "\n"))
        return None


def _probe_report(cell: NotebookNode) -> dict | None:
    texts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
    return integrity.parse_probe(texts)


class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
    """Remove the empty ``nbgrader`` metadata ``DeduplicateIds`` leaves on duplicated cells
    (nbgrader 0.9.6's ``OverwriteCells.add_missing_cells`` fails on it: ``KeyError``)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.get("metadata", {}).get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class RelabelStderr(NbGraderPreprocessor):
    """Show stderr of test cells as plain output: a passing test that warns keeps its points.

    nbgrader scores a test cell 0 when it has *any* stderr output; failures are exceptions,
    which stay errors.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if _is_test_cell(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        return cell, resources


def autograde_config(job: dict, course: Path, work_dir: Path, ipc_dir: Path) -> Config:
    """The traitlets config for nbgrader's ``Autograde`` in the private course folder."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    settings = nbgrader_config(course, db_url=f"sqlite:///{course / 'gradebook.db'}")
    settings["CourseDirectory"].update(
        assignment_id=job["assignment"], student_id=job["student_id"]
    )
    settings["Autograde"] = {
        "create_student": True,
        "force": True,
        "sanitize_preprocessors": [
            ClearOutput, DeduplicateIds, DropEmptyNbgraderMetadata, OverwriteKernelspec,
            OverwriteCells, CheckCellMetadata,
        ],
        "autograde_preprocessors": [
            GuardedExecute, RelabelStderr, ClearMetadataPreprocessor, LimitOutput,
            SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
        ],
    }  # fmt: skip
    settings["OverwriteCells"] = {"add_missing_cells": True}
    settings["LimitOutput"] = {"max_lines": 200, "max_traceback": 60}
    settings["GuardedExecute"] = {
        "timeout": job["cell_timeout"],
        # nbgrader fails the whole notebook when output lags 4 s behind a cell's reply, which
        # happens on a busy machine; a cell that ignores interrupts ends at --timeout instead.
        "raise_on_iopub_timeout": False,
        "iopub_timeout": 10,
        # Every cell's outputs have arrived when the last cell has finished: kill the kernel
        # at once (a graceful shutdown request costs ~3 s: ipykernel does not exit before
        # jupyter_client's SIGTERM, half its shutdown_wait_time later).
        "shutdown_kernel": "immediate",
        "probe_modules": job["probe_modules"],
        "probe_aliases": job["probe_aliases"],
        "report_path": str(course / "execution.json"),
    }
    settings["SandboxedKernelManager"] = {
        "work_dir": str(work_dir),
        "ipc_dir": str(ipc_dir),
        "masked_paths": job["masked"],
        "memory_mb": job["memory_mb"],
        "cpu_seconds": job["cpu_seconds"],
        "unsafe": job["unsafe"],
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


def _student_sources(nb: NotebookNode, test_ids: set[str]) -> list[str]:
    """Code the student wrote: every code cell that is not one of the (restored) test cells."""
    return [
        c.source
        for c in nb.cells
        if c.get("cell_type") == "code"
        and c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in test_ids
        and isinstance(c.get("source"), str)
    ]


def _scores(course: Path, assignment: str, student: str) -> dict[str, list[float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: [g.auto_score or 0.0, g.max_score] for g in nb.grades}


def grade(job: dict) -> dict:
    """Grade the submission described by ``job`` (see ``autograde.make_job``)."""
    if "queued_at" in job:  # wall time at which the parent started this worker process
        PHASES["worker process start"] = time.time() - job["queued_at"]
    with _phase("worker total"):
        result = _grade(job)
    log = logging.getLogger("dl-course.worker")
    log.info(TIMING_MARK + json.dumps({k: round(v, 3) for k, v in PHASES.items()}))
    return result


def _grade(job: dict) -> dict:
    root = Path(job["work_root"])
    assignment, student = job["assignment"], job["student_id"]
    result: dict = {
        "scores": {}, "failed": None, "flags": [], "tampering": [], "verified": {},
        "autograded": None,
    }  # fmt: skip
    nb, problem = _read_notebook(Path(job["notebook"]))
    if nb is None:
        result["failed"] = problem
        return result
    result["flags"] = integrity.scan_source(_student_sources(nb, set(job["test_ids"])))

    course = root / "course"
    with _phase("copy template and work folder"):
        shutil.copytree(job["template"], course)
        submitted = course / "submitted" / student / assignment
        submitted.mkdir(parents=True)
        nbformat.write(nb, submitted / f"{assignment}.ipynb")
        timestamp = datetime.fromisoformat(job["timestamp"]).isoformat()
        (submitted / "timestamp.txt").write_text(timestamp)

        work_dir, ipc_dir = root / "work", root / "ipc"
        shutil.copytree(
            course / SOURCE_DIR / assignment, work_dir, ignore=shutil.ignore_patterns("*.ipynb")
        )
        prepare_dirs(work_dir, ipc_dir)
    # The verification kernel starts (trusted preamble only) while nbgrader runs.
    verifier = _start_verifier(job, root)
    try:
        _autograde(job, nb, course, work_dir, ipc_dir, result)
        with _phase("verification (all)"):
            result["verified"] = _verify(job, nb, result["scores"], verifier)
    finally:
        if verifier is not None:
            with _phase("verification kernel shutdown"):
                verifier.close()
    if result["autograded"]:
        _, notes = verify.apply(result["scores"], result["verified"])
        annotate(Path(result["autograded"]), notes)
    return result


def _autograde(job, nb, course, work_dir, ipc_dir, result) -> None:
    """nbgrader's run: in-kernel scores, failure, tampering probes and the graded notebook
    into ``result``."""
    assignment, student = job["assignment"], job["student_id"]
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    config = autograde_config(job, course, work_dir, ipc_dir)
    errors = _ErrorLog()
    log = logging.getLogger("dl-course.worker")
    log.addHandler(errors)
    try:
        with _phase("nbgrader autograde (all)"):
            Autograde(coursedir=CourseDirectory(config=config), config=config, log=log).start()
    except Exception:  # nbgrader reports every per-submission failure this way
        result["failed"] = f"nbgrader could not grade it: {errors.reason()}"
    report_path = course / "execution.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    if report.get("died") or report.get("error"):
        result["failed"] = report.get("died") or f"execution failed: {report['error']}"
    graded = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    if graded.exists():
        with _phase("read scores"):
            result["scores"] = _scores(course, assignment, student)
        out = Path(job["out_dir"]) / f"{assignment}.ipynb"
        shutil.copy(graded, out)
        result["autograded"] = str(out)
    elif result["failed"] is None:
        result["failed"] = "nbgrader produced no graded notebook"
    if "probes" in report and not report.get("died"):
        probes = [(where, rep) for where, rep in report["probes"][1:]]
        baseline = report["probes"][0][1] if report["probes"] else None
        with _phase("compare probes"):
            result["tampering"] = integrity.compare_probes(baseline, probes, job["origins"])


def _start_verifier(job: dict, root: Path) -> verify.Verifier | None:
    """The submission's verification kernels, started (``None`` if they cannot be)."""
    spec = job["verify"]
    settings = verify.Settings(
        work_dir=root / "verify-work",
        ipc_dir=root / "verify-ipc",
        masked=job["masked"],
        blocker=Path(spec["blocker"]),
        memory_mb=job["memory_mb"],
        cpu_seconds=job["cpu_seconds"],
        unsafe=job["unsafe"],
        cell_timeout=job["cell_timeout"],
        budget=float(job["cpu_seconds"]),
        files_from=root / "course" / SOURCE_DIR / job["assignment"],
        packages=spec["packages"],
    )
    groups = sorted({tuple(p["allow"]) for p in spec["probes"]})
    try:
        return verify.Verifier(spec["preamble"], groups, settings)
    except Exception:  # reported per test cell by _verify
        logging.getLogger("dl-course.worker").exception("the verification could not start")
        return None


def _verify(
    job: dict, nb: NotebookNode, scores: dict, verifier: verify.Verifier | None
) -> dict[str, str | None]:
    """``{grade_id: None | reason}`` for every test cell that scored in the kernel: its values
    from the verification run (see the module docstring) against the expected ones. A failure
    of the run itself withholds those points with the reason; it never raises."""
    spec = job["verify"]
    probes = {p["grade_id"]: verify.Probe.from_dict(p) for p in spec["probes"]}
    wanted = [probes[gid] for gid, (score, _) in scores.items() if score and gid in probes]
    if not wanted:
        return {}
    spent = time.time() - job.get("queued_at", time.time())
    log = logging.getLogger("dl-course.worker")
    try:
        if verifier is None:
            raise RuntimeError("the verification kernels did not start")
        answers = verify.answer_sources(nb, spec["answer_ids"])
        outcomes = verifier.finish(
            answers, wanted, spec["seed"], spec["nonce"],
            budget=max(5.0, job["cpu_seconds"] - spent - 5.0),
        )  # fmt: skip
        expected = verify.decode_outcomes(
            _expected_values(Path(spec["expected"]), spent, job["cpu_seconds"])
        )
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
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if _is_test_cell(cell) and gid in notes:
            text = f"Grader: {notes[gid]}\n"
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
            cell.metadata[verify.NOTE_KEY] = notes[gid]
    nbformat.write(nb, path)


def run_job(job_path: str, log_path: str) -> None:
    """Entry point of a worker process: grade the job, write its result, log to ``log_path``.

    The process starts its own session so the parent can kill it with everything it started.
    """
    os.setsid()
    with open(log_path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.captureWarnings(True)
    job = json.loads(Path(job_path).read_text())
    result = grade(job)
    Path(job["result_path"]).write_text(json.dumps(result))
