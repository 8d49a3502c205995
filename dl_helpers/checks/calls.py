"""Checks that call the function under test: ``assert_no_warnings``, ``assert_not_mutated``
and the case table ``run_cases``."""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from dl_helpers.checks._describe import _at_index, _function_name, _number, _short_repr
from dl_helpers.checks.tamper import assert_untampered
from dl_helpers.checks.values import assert_close


def _argument_names(func: Callable, args: tuple, kwargs: Mapping[str, object]) -> list[str]:
    """Parameter names for ``args`` (``arg1``, ... where unknown), then the keyword names."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        parameters = []
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    names = [positional[i] if i < len(positional) else f"arg{i + 1}" for i in range(len(args))]
    return names + list(kwargs)


def _call_label(func: Callable, name: str | None, args: tuple, kwargs: Mapping) -> str:
    """'sigmoid(x)', 'leaky_relu(x, alpha)': how a call is named in messages."""
    return f"{_function_name(func, name)}({', '.join(_argument_names(func, args, kwargs))})"


def assert_no_warnings(func: Callable, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Call ``func(*args, **kwargs)`` and fail if it overflows or emits any warning.

    NumPy floating-point errors (overflow, invalid operation such as ``inf - inf``, division
    by zero) are raised instead of warned about, and every Python warning is turned into an
    error. Underflow is left alone: ``exp(-1000)`` rounding to 0 is the correct result and
    NumPy ignores it by default.

    Args:
        func: the function under test.
        *args, **kwargs: its arguments.
        name: how ``func`` is called in messages; defaults to ``func.__name__``.

    Returns:
        Whatever ``func`` returned, for further checks.

    Example:
        >>> def sigmoid(x):
        ...     return 1 / (1 + np.exp(-x))
        >>> assert_no_warnings(sigmoid, np.array([-1000.0]))  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        AssertionError: sigmoid(x) produced a warning for x = array([-1000.]):
        overflow encountered in exp
    """
    assert_untampered()
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                return func(*args, **kwargs)
    except (FloatingPointError, Warning) as exc:
        names = _argument_names(func, args, kwargs)
        values = ", ".join(
            f"{n} = {_short_repr(v)}" for n, v in zip(names, [*args, *kwargs.values()], strict=True)
        )
        label = _call_label(func, name, args, kwargs)
        raise AssertionError(f"{label} produced a warning for {values}: {exc}") from exc


def _element_bytes(array: np.ndarray) -> np.ndarray:
    """The bytes of each element: shape ``(*array.shape, itemsize)``, dtype uint8."""
    flat = array.reshape(-1).copy()  # 1-d and contiguous, as ndarray.view(uint8) requires
    return flat.view(np.uint8).reshape(*array.shape, array.dtype.itemsize)


def _changed_elements(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Mask of elements whose stored bytes differ (so NaN == NaN and -0.0 != 0.0)."""
    if before.dtype.hasobject:  # object arrays hold pointers; deep copies differ in bytes
        return np.asarray(now != before)
    return (_element_bytes(now) != _element_bytes(before)).any(axis=-1)


def _check_unmodified(now: np.ndarray, before: np.ndarray, label: str, where: str) -> None:
    hint = "Compute on a copy or build a new array instead."
    if now.shape != before.shape or now.dtype != before.dtype:
        raise AssertionError(
            f"{label} modified {where} in place: it was {before.dtype} of shape "
            f"{before.shape}, now {now.dtype} of shape {now.shape}. {hint}"
        )
    changed = _changed_elements(now, before)
    if changed.any():
        at, index = _at_index(int(changed.argmax()), now.shape)
        raise AssertionError(
            f"{label} modified {where} in place: {int(changed.sum())} of {now.size} values "
            f"changed, first{at}: was {_number(before[index])}, now {_number(now[index])}. "
            f"{hint}"
        )


def assert_not_mutated(func: Callable, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Call ``func(*args, **kwargs)`` and fail if it changed any of its array arguments.

    A deep copy of the arguments is taken before the call; afterwards every ndarray
    argument must equal its copy bit for bit, with the same shape and dtype. Writing into
    an input (``x[x < 0] = 0``, ``x -= x.max()``) is a classic bug: the caller's data
    silently changes, and a second call gives a different answer.

    Args:
        func: the function under test.
        *args, **kwargs: its arguments.
        name: how ``func`` is called in messages; defaults to ``func.__name__``.

    Returns:
        Whatever ``func`` returned.

    Example:
        >>> def relu(x):
        ...     x[x < 0] = 0
        ...     return x
        >>> assert_not_mutated(relu, np.array([-1.0, 2.0]))  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        AssertionError: relu(x) modified its argument `x` (position 1) in place: 1 of 2
        values changed, first at index [0]: was -1.0, now 0.0. Compute on a copy or build a
        new array instead.
    """
    assert_untampered()
    before_args, before_kwargs = copy.deepcopy((args, kwargs))
    result = func(*args, **kwargs)
    label = _call_label(func, name, args, kwargs)
    names = _argument_names(func, args, kwargs)
    for position, (now, before) in enumerate(zip(args, before_args, strict=True), start=1):
        if isinstance(now, np.ndarray):
            where = f"its argument `{names[position - 1]}` (position {position})"
            _check_unmodified(now, before, label, where)
    for key, now in kwargs.items():
        if isinstance(now, np.ndarray):
            _check_unmodified(now, before_kwargs[key], label, f"its keyword argument `{key}`")
    return result


_CASE_KEYS = frozenset({"args", "kwargs", "expected", "rtol", "atol", "check_dtype", "why"})


def _validate_case(case: Mapping[str, Any], number: int) -> None:
    """Catch typos in a case table (``"expect"``, ``"tol"``) before they silently pass."""
    unknown = set(case) - _CASE_KEYS
    missing = {"args", "expected", "why"} - set(case)
    if unknown or missing:
        raise TypeError(
            f"case {number}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}; "
            f"allowed keys are {sorted(_CASE_KEYS)}"
        )


def run_cases(
    func: Callable, cases: Iterable[Mapping[str, Any]], *, name: str | None = None
) -> None:
    """Run a table of test cases against ``func``; fail on the first case that does not pass.

    Each case is a dict:

    ``"args"`` (tuple), ``"kwargs"`` (dict, optional)
        the call ``func(*args, **kwargs)``; both are deep-copied first, so the table is
        never altered, and :func:`assert_not_mutated` checks that ``func`` leaves its array
        arguments alone.
    ``"expected"``
        the reference result, compared with :func:`assert_close`.
    ``"rtol"``, ``"atol"``, ``"check_dtype"`` (optional)
        passed to :func:`assert_close` (defaults ``1e-6``, ``1e-8``, ``True``).
    ``"why"``
        what the case probes, in a few words; the failure message starts with it.

    An exception raised by ``func`` is reported as a failure of the case it occurred in,
    except ``NotImplementedError`` (an unanswered exercise), which propagates unchanged.

    Example:
        >>> def square(x):
        ...     return x * x
        >>> run_cases(square, [
        ...     {"args": (np.array([1.0, 2.0]),), "expected": np.array([1.0, 4.0]),
        ...      "why": "small positive inputs"},
        ...     {"args": (np.array([-3.0]),), "expected": np.array([-9.0]),
        ...      "why": "a (deliberately wrong) negative case"},
        ... ])  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        AssertionError: a (deliberately wrong) negative case (case 2 of 2): square(x): 1 of 1
        values differ from the expected ones (rtol=1e-06, atol=1e-08). Worst at index [0]:
        expected -9.0, got 9.0 (difference 18.0, allowed 9.01e-06).
    """
    assert_untampered()
    cases = list(cases)
    for number, case in enumerate(cases, start=1):
        _validate_case(case, number)
        args, kwargs = copy.deepcopy((tuple(case["args"]), dict(case.get("kwargs", {}))))
        label = _call_label(func, name, args, kwargs)
        prefix = f"{case['why']} (case {number} of {len(cases)})"
        try:
            result = assert_not_mutated(func, *args, name=name, **kwargs)
            assert_close(
                result,
                case["expected"],
                rtol=case.get("rtol", 1e-6),
                atol=case.get("atol", 1e-8),
                check_dtype=case.get("check_dtype", True),
                name=label,
            )
        except AssertionError as exc:
            raise AssertionError(f"{prefix}: {exc}") from None
        except NotImplementedError:
            # The unanswered stub: let it through unchanged so `dl-course validate` and the
            # release gate can tell "not attempted" from "wrong".
            raise
        except Exception as exc:
            raise AssertionError(f"{prefix}: {label} raised {type(exc).__name__}: {exc}") from exc
