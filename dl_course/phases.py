"""Seconds a worker spends in each phase of grading its one submission.

The worker logs them as one line after ``TIMING_MARK`` (``bench/bench_grading.py`` reads
them back); ``phase`` is the ``with`` block that adds to them.
"""

from __future__ import annotations

import time
from collections import defaultdict

TIMING_MARK = "grading phases (s): "

# This worker process grades one submission, so one table per process is the right scope.
PHASES: dict[str, float] = defaultdict(float)


class phase:
    """Adds the time spent in the ``with`` block to ``PHASES[name]``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        PHASES[self.name] += time.perf_counter() - self.start
