"""The forkserver that grading workers fork from (``processes``).

It imports the grading code once (``dl_course.worker``: nbgrader, nbclient, about a second of
CPU), so each worker starts as a fork of a process that has it, with none of the parent's
threads. ``start`` starts it in a background thread as early as possible: ``dl-course
autograde`` calls it before it imports its own commands, so the two imports overlap. This
module imports only the standard library, so that calling it early costs nothing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from multiprocessing.context import BaseContext

PRELOAD = ["dl_course.worker"]


def context() -> BaseContext:
    """The multiprocessing context workers start from (its server imports ``PRELOAD``)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start() -> None:
    """Start the forkserver in a background thread; a problem is left for the first worker
    start to report."""
    from multiprocessing import forkserver

    def run() -> None:
        context()  # the server imports what it is told to when it starts: tell it first
        with contextlib.suppress(Exception):
            forkserver.ensure_running()

    threading.Thread(target=run, name="forkserver", daemon=True).start()
