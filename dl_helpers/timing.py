"""One timer for every timing experiment: the best of several repeats, in seconds.

A single measurement of a fast function mostly measures the machine: another process, a
cache miss, the first-call cost of a lazy import or an allocation. Timing the same call
several times and keeping the MINIMUM gives the cost of the code itself, the noise only
ever adds time (the reasoning behind Python's ``timeit``); the median shows how typical
that best case is. Untimed warm-up calls first pay the one-off costs.

Notebook cells that print timings vary run to run: tag them ``nbval-ignore-output``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Result of :func:`best_of`; every value is SECONDS PER CALL of ``fn``.

    Shape:
        - best, median: floats
        - times: ``(repeats,)`` tuple of floats, one per repeat, in the order measured
    """

    best: float
    median: float
    times: tuple[float, ...]


def best_of(
    fn: Callable[..., object],
    *args: object,
    repeats: int = 5,
    number: int = 1,
    warmup: int = 1,
) -> Timing:
    """Time ``fn(*args)``: ``warmup`` untimed calls, then ``repeats`` timed runs.

    Each timed run calls ``fn(*args)`` ``number`` times between two readings of
    ``time.perf_counter`` (the highest-resolution clock); its time divided by ``number``
    is one entry of ``times``. Use ``number > 1`` for calls of a few microseconds, whose
    duration is close to the clock's own overhead. ``fn``'s return value is discarded.

    Args:
        fn: the function to time; ``args`` are passed to it unchanged on every call.
        repeats: timed runs (at least 1).
        number: calls per timed run (at least 1).
        warmup: untimed calls before the first run (0 or more).

    Shape:
        - output: :class:`Timing` in seconds per call; ``times`` has ``repeats`` entries

    Example:
        >>> import numpy as np
        >>> t = best_of(np.sort, np.arange(1000.0), repeats=3)
        >>> len(t.times), t.best <= t.median
        (3, True)
        >>> print(f"sort: {t.best * 1e3:.3f} ms")  # doctest: +SKIP
        sort: 0.004 ms
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    for name, value, least in [
        ("repeats", repeats, 1),
        ("number", number, 1),
        ("warmup", warmup, 0),
    ]:
        if not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn(*args)
        times.append((time.perf_counter() - start) / number)
    return Timing(best=min(times), median=statistics.median(times), times=tuple(times))
