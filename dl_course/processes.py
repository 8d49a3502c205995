"""Worker processes: one per submission, started a turn ahead, killed whole at the time limit.

Workers fork from a *forkserver* that has imported the grading code once (``forkserver``:
fast starts, and none of the parent's threads are copied into them). Each worker starts its
own session (``worker.run_job``), so the parent can kill it with everything it started
(kernels, nbgrader) as one process group when the submission runs past its time.

A worker is started before its turn (``start_worker``): it copies its folders, starts its
kernels (trusted code only, ``worker.prepare``) and runs nbgrader's first steps on the
submission (no student code), then waits. ``run_worker`` gives it its turn: student code runs
and the submission's time limit counts from there. ``Ahead`` keeps one worker started ahead of
the ones running, so the next submission's kernels start while the current one is graded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from dl_course import worker
from dl_course.jobs import Job, WorkerResult


@dataclass
class Started:
    """A worker process preparing ``job`` (or prepared), waiting for a word on ``turn``."""

    job: Job
    log_path: Path
    process: BaseProcess
    turn: Connection

    def discard(self) -> None:
        """Kill the worker and what it started (it never had its turn)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its session, kernels included
        self.process.kill()  # in case it was killed before it made its session
        self.process.join()
        self.turn.close()


def start_worker(context: BaseContext, job: Job, log_path: Path) -> Started:
    """Start the worker of ``job`` (its log in ``log_path``); it prepares, then waits for its
    turn before any student code runs."""
    job_path = Path(job.result_path).with_name("job.json")
    job_path.write_text(job.to_json())
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The worker waits on the reading end; the parent's exit closes the writing end, which the
    # worker reads as "nobody will give me a turn".
    waiting, turn = context.Pipe(duplex=False)
    proc = context.Process(target=worker.run_job, args=(str(job_path), str(log_path), waiting))
    proc.start()
    waiting.close()
    return Started(job, log_path, proc, turn)


def run_worker(started: Started, timeout: int) -> WorkerResult:
    """Give ``started`` its turn; after ``timeout`` seconds kill its process group. A worker
    that is killed or leaves no result fails the submission with the reason."""
    proc = started.process
    with contextlib.suppress(OSError):  # a worker that died already fails below
        started.turn.send("go")
    started.turn.close()
    proc.join(timeout=timeout)
    if proc.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.join()
        return WorkerResult.failure(f"time limit of {timeout} s for the submission exceeded")
    result_path = Path(started.job.result_path)
    if not result_path.exists():
        return WorkerResult.failure(
            f"the grader crashed (exit status {proc.exitcode}); see {started.log_path}"
        )
    return WorkerResult.from_json(result_path.read_text())


class Ahead:
    """Workers for ``keys`` (in the order they will run), each started a turn ahead.

    ``take(key)`` returns the worker of ``key``, started earlier or now, and starts the worker
    of the next key nobody has taken, so that one worker is always preparing while the others
    run (one, not one per running worker: on a machine whose cores are all grading, more
    would only hold memory). ``close`` kills the workers that never got their turn.
    """

    def __init__(self, start: Callable[[object], Started], keys: list) -> None:
        self._start = start
        self._waiting = list(keys)  # not started yet, in order
        self._ready: dict[object, Started] = {}
        self._lock = threading.Lock()  # the pool's threads take their workers concurrently

    def take(self, key) -> Started:
        with self._lock:
            started = self._ready.pop(key, None)
            if started is None:
                self._waiting.remove(key)
                started = self._start(key)
            if self._waiting and not self._ready:
                following = self._waiting.pop(0)
                self._ready[following] = self._start(following)
            return started

    def close(self) -> None:
        with self._lock:
            for started in self._ready.values():
                started.discard()
            self._ready.clear()
            self._waiting.clear()
