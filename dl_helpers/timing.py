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


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`, one entry per function, keyed by the names given.

    ``best[name]`` is the best time in seconds per call; ``ratio[name]`` the median, over
    turns, of that function's time divided by the FIRST function's time in the same turn
    (so ``ratio`` of the first function is 1.0).
    """

    best: dict[str, float]
    ratio: dict[str, float]


def compare(
    fns: dict[str, Callable[..., object]], *args: object, turns: int = 9, number: int = 1
) -> Comparison:
    """Time several functions against the first one, robustly on a busy machine.

    After one untimed warm-up call each, the functions take turns: in each of ``turns``
    rounds every function gets one timed run of ``number`` calls of ``fn(*args)``. Load
    on the machine slows calls made close together alike, so the ratio *within* a round
    is steadier than a ratio of two best-ofs taken seconds apart; the median over rounds
    discards the rounds a burst of load hit unevenly.

    Args:
        fns: at least one function, by name; the first is the baseline of ``ratio``.
        args: passed unchanged to every function on every call.
        turns: rounds (at least 1).
        number: calls per timed run (at least 1), for calls of a few microseconds.

    Shape:
        - output: :class:`Comparison` with one float per name in ``best`` and ``ratio``

    Example:
        >>> import numpy as np
        >>> c = compare({"sum": np.sum, "sort": np.sort}, np.arange(1000.0), turns=3)
        >>> c.ratio["sum"]
        1.0
        >>> print(f"sort takes {c.ratio['sort']:.1f}x sum's time")  # doctest: +SKIP
        sort takes 2.3x sum's time
    """
    if not fns:
        raise ValueError("compare needs at least one function")
    if not isinstance(turns, int) or turns < 1:
        raise ValueError(f"turns must be an integer >= 1, got {turns!r}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn(*args)
    for _ in range(turns):
        for name, fn in fns.items():
            times[name].append(best_of(fn, *args, repeats=1, number=number, warmup=0).best)
    baseline = times[next(iter(fns))]
    return Comparison(
        best={name: min(t) for name, t in times.items()},
        ratio={
            name: statistics.median(a / b for a, b in zip(t, baseline, strict=True))
            for name, t in times.items()
        },
    )
