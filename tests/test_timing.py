"""dl_helpers.timing.best_of against a fake clock whose readings the test chooses."""

from __future__ import annotations

import doctest
import time

import pytest

from dl_helpers import timing


class FakeClock:
    """Stands in for time.perf_counter: returns the given readings in order."""

    def __init__(self, readings: list[float]) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0)


def test_best_median_and_times_come_from_the_clock_readings(monkeypatch):
    # runs of 3 s, 1 s, 2 s, 7 s, 4 s between successive pairs of readings
    clock = FakeClock([0.0, 3.0, 10.0, 11.0, 20.0, 22.0, 30.0, 37.0, 40.0, 44.0])
    monkeypatch.setattr(time, "perf_counter", clock)
    result = timing.best_of(lambda: None, repeats=5, warmup=0)
    assert result.times == (3.0, 1.0, 2.0, 7.0, 4.0)
    assert result.best == 1.0 and result.median == 3.0
    assert clock.readings == []  # exactly two readings per repeat


def test_number_divides_each_run_and_calls_fn_number_times(monkeypatch):
    monkeypatch.setattr(time, "perf_counter", FakeClock([0.0, 8.0, 8.0, 12.0]))
    calls = []
    result = timing.best_of(calls.append, "x", repeats=2, number=4, warmup=0)
    assert result.times == (2.0, 1.0)  # seconds per call: 8 / 4 and 4 / 4
    assert result.best == 1.0 and result.median == 1.5  # even count: mean of the middle two
    assert calls == ["x"] * 8  # args are passed on every call


def test_warmup_calls_run_first_and_are_not_timed(monkeypatch):
    events = []
    clock = FakeClock([0.0, 5.0, 5.0, 6.0])

    def reading() -> float:
        events.append("clock")
        return clock()

    monkeypatch.setattr(time, "perf_counter", reading)
    result = timing.best_of(lambda: events.append("call"), repeats=2, warmup=3)
    assert events == ["call"] * 3 + ["clock", "call", "clock"] * 2
    assert result.times == (5.0, 1.0)


def test_real_clock_measures_at_least_the_sleep():
    result = timing.best_of(time.sleep, 0.002, repeats=3, warmup=0)
    assert len(result.times) == 3
    assert 0.002 <= result.best <= result.median <= max(result.times) < 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"repeats": 0}, "repeats"),
        ({"repeats": 2.5}, "repeats"),
        ({"number": 0}, "number"),
        ({"warmup": -1}, "warmup"),
    ],
)
def test_bad_counts_raise_an_error_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        timing.best_of(lambda: None, **kwargs)


def test_a_non_callable_is_rejected():
    with pytest.raises(TypeError, match="callable"):
        timing.best_of(3.0)


def test_docstring_examples_are_correct():
    result = doctest.testmod(timing)
    assert result.attempted >= 2 and result.failed == 0


def test_compare_takes_turns_and_reports_per_round_ratios(monkeypatch):
    # rounds: (a, b) = (2, 4), (1, 5), (4, 4) seconds; b/a per round = 2, 5, 1 -> median 2
    readings = []
    for a, b in [(2.0, 4.0), (1.0, 5.0), (4.0, 4.0)]:
        readings += [0.0, a, 0.0, b]
    monkeypatch.setattr(time, "perf_counter", FakeClock(readings))
    order = []
    result = timing.compare(
        {"a": lambda v: order.append(("a", v)), "b": lambda v: order.append(("b", v))},
        7, turns=3,
    )
    # one warm-up call each, then a, b alternate (interleaved, not all a then all b)
    assert order == [("a", 7), ("b", 7)] + [("a", 7), ("b", 7)] * 3
    assert result.best == {"a": 1.0, "b": 4.0}
    assert result.ratio == {"a": 1.0, "b": 2.0}  # a ratio of bests would say 4.0


def test_compare_rejects_no_functions_and_bad_turns():
    with pytest.raises(ValueError, match="at least one function"):
        timing.compare({})
    with pytest.raises(ValueError, match="turns must be an integer >= 1"):
        timing.compare({"f": lambda: None}, turns=0)
