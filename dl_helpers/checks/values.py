"""Comparing a result with the expected one: ``assert_close``, ``assert_shape``, ``assert_dtype``.

Each step has its own helper (``_result_array``, ``_check_shape``, ``_check_dtype``,
``_as_numbers``, ``_check_finite``, ``_check_values``) with its own message; the grader's own
comparison outside the kernel (``dl_course.verify``) reuses them, so a student reads the same
words from a visible test and from the grader.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dl_helpers.checks._describe import _at_index, _number, _type_phrase
from dl_helpers.checks.tamper import assert_untampered


def _expected_phrase(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "a NumPy array"
    return "a number" if shape == () else f"a NumPy array of shape {shape}"


def _result_array(actual: object, shape: tuple[int, ...] | None, name: str) -> np.ndarray:
    """``actual`` as a plain ndarray, or an AssertionError saying what came back instead.

    Arrays (subclasses are viewed as plain ``ndarray``) and NumPy scalars are accepted;
    Python numbers only where a scalar is expected (``shape`` is ``()`` or ``None``).
    """
    wanted = _expected_phrase(shape)
    if actual is None:
        raise AssertionError(
            f"{name}: expected {wanted}, but the function returned None — did you forget `return`?"
        )
    scalar_ok = shape in ((), None) and isinstance(actual, bool | int | float | complex)
    if not (isinstance(actual, np.ndarray | np.generic) or scalar_ok):
        hint = " (wrap it with np.array(...))" if isinstance(actual, list | tuple) else ""
        raise AssertionError(f"{name}: expected {wanted}, got {_type_phrase(actual)}{hint}")
    return np.asarray(actual)


def _check_shape(actual: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    if actual.shape != shape:
        raise AssertionError(f"{name}: expected shape {shape}, got {actual.shape}")


def _check_dtype(actual: np.ndarray, dtype: np.dtype, name: str) -> None:
    if actual.dtype != dtype:
        both_float = actual.dtype.kind == "f" and dtype.kind == "f"
        hint = " (keep the input's dtype)" if both_float else ""
        raise AssertionError(f"{name}: expected dtype {dtype}, got {actual.dtype}{hint}")


def _as_numbers(array: np.ndarray, name: str) -> np.ndarray:
    """Cast bool/int/float arrays to float64 (complex to complex128) for comparison."""
    if array.dtype.kind in "biuf":
        return array.astype("float64")
    if array.dtype.kind == "c":
        return array.astype("complex128")
    raise AssertionError(f"{name}: expected numbers, got an array of dtype {array.dtype}")


def _check_finite(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    """NaN or inf where a finite value is expected gets its own message: it has causes of
    its own (overflow, 0/0), unlike a value that is merely off."""
    broken = np.isfinite(expected) & ~np.isfinite(actual)
    if broken.any():
        where, index = _at_index(int(broken.argmax()), actual.shape)
        raise AssertionError(
            f"{name}: {int(broken.sum())} of {actual.size} values are NaN or inf where finite "
            f"values were expected; first{where}: expected {_number(expected[index])}, got "
            f"{_number(actual[index])}. NaN/inf usually comes from an overflow (exp of a large "
            "number) or from 0/0."
        )


def _mismatches(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> Any:
    """Mask of elements outside ``|actual - expected| <= atol + rtol * |expected|``.

    The rule of ``np.isclose`` for finite values; an infinity must be matched exactly, and
    NaN matches NaN. Computed with bound ufuncs and ndarray operators, so patching NumPy
    cannot change it.
    """
    finite = np.isfinite(actual) & np.isfinite(expected)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: excluded by `finite`
        close = np.absolute(actual - expected) <= atol + rtol * np.absolute(expected)
    both_nan = np.isnan(actual) & np.isnan(expected)
    return np.asarray(~((close & finite) | (actual == expected) | both_nan))


def _check_values(
    actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, name: str
) -> None:
    bad = _mismatches(actual, expected, rtol, atol)
    if not bad.any():
        return
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.absolute(actual - expected)
    # rank mismatches by their error; a NaN error (expected NaN, got a number) ranks first
    score = np.where(bad, np.where(np.isnan(error), np.inf, error), -1.0)
    where, index = _at_index(int(score.argmax()), actual.shape)
    allowed = atol + rtol * abs(expected[index].item())
    raise AssertionError(
        f"{name}: {int(bad.sum())} of {actual.size} values differ from the expected ones "
        f"(rtol={rtol:g}, atol={atol:g}). Worst{where}: expected {_number(expected[index])}, "
        f"got {_number(actual[index])} (difference {_number(error[index])}, allowed "
        f"{allowed:.3g})."
    )


def _check_sequence(actual: object, expected: tuple, name: str) -> tuple | list:
    """``actual`` as a sequence of ``len(expected)`` results (for multi-output functions)."""
    wanted = f"a tuple of {len(expected)} results"
    if actual is None:
        raise AssertionError(
            f"{name}: expected {wanted}, but the function returned None — did you forget `return`?"
        )
    if not isinstance(actual, tuple | list) or len(actual) != len(expected):
        got = _type_phrase(actual)
        if isinstance(actual, tuple | list):
            got += f" of {len(actual)}"
        raise AssertionError(f"{name}: expected {wanted}, got {got}")
    return actual


def assert_close(
    actual: object,
    expected: object,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    name: str = "result",
    check_dtype: bool = True,
) -> None:
    """Assert that ``actual`` matches ``expected`` in type, shape, dtype and value.

    Checked in this order, each failure with its own message:

    1. ``actual`` is an ndarray or NumPy scalar (a Python number is accepted where
       ``expected`` is a scalar); ``None`` gets "did you forget `return`?".
    2. Shapes are equal; no broadcasting, so ``(N, 1)`` against ``(N,)`` fails.
    3. Dtypes are equal, if ``check_dtype`` and ``expected`` is an ndarray or NumPy scalar
       (a Python float or a list carries no dtype to compare).
    4. Where ``expected`` is finite, ``actual`` is finite too (NaN/inf are named).
    5. ``|actual - expected| <= atol + rtol * |expected|`` elementwise (NaN matches NaN).

    Args:
        actual: what the code under test returned.
        expected: the reference value: an array, a scalar, a list (read as an array), or a
            tuple, meaning a function with several outputs (each compared in turn, named
            ``name[0]``, ``name[1]``, ...).
        rtol, atol: relative and absolute tolerance.
        name: how the value is called in messages, e.g. ``"sigmoid(x)"``.
        check_dtype: compare dtypes (step 3).

    Shape:
        - actual: same shape as ``expected``, any shape ``(*)``
        - expected: any shape ``(*)``

    Example:
        >>> assert_close(np.array([0.5, 1.0]), np.array([0.5, 1.0 + 1e-9]))
        >>> assert_close(np.array([0.5, 2.0]), np.array([0.5, 1.0]), name="f(x)")
        ... # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        AssertionError: f(x): 1 of 2 values differ from the expected ones (rtol=1e-06,
        atol=1e-08). Worst at index [1]: expected 1.0, got 2.0 (difference 1.0, allowed
        1.01e-06).
    """
    assert_untampered()
    if isinstance(expected, tuple):
        results = _check_sequence(actual, expected, name)
        for i, (got, want) in enumerate(zip(results, expected, strict=True)):
            assert_close(
                got, want, rtol=rtol, atol=atol, name=f"{name}[{i}]", check_dtype=check_dtype
            )
        return
    reference = np.asarray(expected)
    result = _result_array(actual, reference.shape, name)
    _check_shape(result, reference.shape, name)
    if check_dtype and isinstance(expected, np.ndarray | np.generic):
        _check_dtype(result, reference.dtype, name)
    result, reference = _as_numbers(result, name), _as_numbers(reference, "expected")
    _check_finite(result, reference, name)
    _check_values(result, reference, rtol, atol, name)


def assert_shape(actual: object, shape: Iterable[int], *, name: str = "result") -> None:
    """Assert that ``actual`` is an array (or NumPy scalar) of exactly ``shape``.

    Shape:
        - actual: any shape ``(*)``
        - shape: a tuple of ints, ``()`` for a scalar

    Example:
        >>> assert_shape(np.zeros((4, 3)), (3, 4), name="sigmoid(x)")
        Traceback (most recent call last):
        ...
        AssertionError: sigmoid(x): expected shape (3, 4), got (4, 3)
    """
    assert_untampered()
    shape = tuple(shape)
    _check_shape(_result_array(actual, shape, name), shape, name)


def assert_dtype(actual: object, dtype: Any, *, name: str = "result") -> None:
    """Assert that ``actual`` has ``dtype`` (anything ``np.dtype`` accepts, e.g. ``"float32"``).

    A Python float counts as float64, a Python int as int64.

    Example:
        >>> assert_dtype(np.zeros(3), np.float32, name="sigmoid(x)")
        Traceback (most recent call last):
        ...
        AssertionError: sigmoid(x): expected dtype float32, got float64 (keep the input's dtype)
    """
    assert_untampered()
    _check_dtype(_result_array(actual, None, name), np.dtype(dtype), name)
