"""Worker processes: one per submission, started from a server, killed whole at the time limit.

Workers fork from a *forkserver* that has imported the grading code once (fast starts, and
none of the parent's threads are copied into them). Each worker starts its own session
(``worker.run_job``), so the parent can kill it with everything it started (kernels, nbgrader)
as one process group when the submission runs past its time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import time
from multiprocessing.context import BaseContext
from pathlib import Path

from dl_course import worker
from dl_course.jobs import Job, WorkerResult


def worker_context() -> BaseContext:
    """The multiprocessing context workers start from (the server imports ``worker``)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["dl_course.worker"])
    return context


def start_server() -> None:
    """Start the forkserver now (in a thread, its imports overlap other work); a problem is
    left for the first worker start to report."""
    from multiprocessing import forkserver

    with contextlib.suppress(Exception):
        forkserver.ensure_running()


def run_worker(context: BaseContext, job: Job, log_path: Path, timeout: int) -> WorkerResult:
    """Grade ``job`` in a worker process (its log in ``log_path``); after ``timeout`` seconds
    kill its process group. A worker that is killed or leaves no result fails the submission
    with the reason."""
    job_path = Path(job.result_path).with_name("job.json")
    job_path.write_text(dataclasses.replace(job, queued_at=time.time()).to_json())
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = context.Process(target=worker.run_job, args=(str(job_path), str(log_path)))
    proc.start()
    proc.join(timeout=timeout)
    if proc.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.join()
        return WorkerResult.failure(f"time limit of {timeout} s for the submission exceeded")
    result_path = Path(job.result_path)
    if not result_path.exists():
        return WorkerResult.failure(
            f"the grader crashed (exit status {proc.exitcode}); see {log_path}"
        )
    return WorkerResult.from_json(result_path.read_text())

