"""Assertions for notebook test cells, with messages written for the student who reads them.

Every check raises ``AssertionError`` with a message that says what was expected and what
came back: the shape, the dtype, how many values differ and the worst one (its index, both
values and the tolerance), NaN/inf where finite numbers were expected, or ``None`` from a
function that forgot to ``return``.

=====================================  ====================================================
function                               checks
=====================================  ====================================================
``assert_close(actual, expected)``     type, shape, dtype, finiteness, then values
``assert_shape(actual, shape)``        shape only
``assert_dtype(actual, dtype)``        dtype only
``assert_no_warnings(func, *args)``    no overflow/invalid/divide error and no warning
``assert_not_mutated(func, *args)``    ``func`` leaves its array arguments unchanged
``assert_no_forbidden_calls(func)``    ``func`` does not use torch, scipy, ... (static)
``run_cases(func, cases)``             a table of cases, each with a ``why``
``tampering_report()``                 lines describing run-time tampering, if any
``assert_untampered()``                raises when ``tampering_report()`` is non-empty
=====================================  ====================================================

Tamper resistance
-----------------
Hidden tests run in the same Python process as the submission, so a submission could try to
make them pass by patching what they rely on (``np.allclose = lambda *a, **k: True``) or the
checks themselves. This module is imported by each notebook's setup cell, before any
student code runs, and defends itself in four ways:

(a) Private references taken at import. The NumPy functions used below are bound into the
    immutable named tuple ``_np`` and other library functions into ``_py`` at import, and
    the module's functions are created with a private copy of the builtins
    (``__builtins__`` is reassigned below: CPython gives each function the builtins of the
    module globals it is created in). Comparisons use NumPy ufuncs and ``ndarray``
    operators and methods, which cannot be rebound from Python. Rebinding ``np.isclose``
    or ``builtins.abs`` later therefore changes nothing here.
(b) :func:`tampering_report` compares, with ``is``, the watched NumPy functions, a few
    builtins, ``sys.excepthook`` and every object of this module (functions including
    their code and defaults) with what they were at import, and lists what changed. Under
    IPython it also reports a custom exception handler (``set_custom_exc``), which could
    swallow failing assertions.
(c) Every public check calls :func:`assert_untampered` first: a tampered process fails
    every check with "Tests cannot be trusted: ...".
(d) The module object refuses attribute assignment and deletion
    (``checks.assert_close = ...`` raises ``AttributeError``). Writing into
    ``checks.__dict__`` directly still works, and is what (b) detects.

In-process checks raise the cost of tampering; they cannot rule it out (the snapshot lives
in this module too). For that reason a test cell should import the helpers it calls in the
cell itself, so a notebook-level ``def assert_close(...)`` cannot shadow them, and grading
should not rely on these checks alone.
"""

from __future__ import annotations

import builtins
import copy
import dis
import inspect
import itertools
import math
import operator
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.testing

__all__ = [
    "assert_close",
    "assert_dtype",
    "assert_no_forbidden_calls",
    "assert_no_warnings",
    "assert_not_mutated",
    "assert_shape",
    "assert_untampered",
    "run_cases",
    "tampering_report",
]

# (a) Functions defined below look builtins up in this private copy, not in the builtins
# module that student code can patch.
__builtins__ = dict(builtins.__dict__)


class _NumpyRefs(NamedTuple):
    """NumPy objects bound at import; a named tuple's fields cannot be reassigned."""

    asarray: Any
    absolute: Any
    isfinite: Any
    isnan: Any
    errstate: Any
    printoptions: Any
    unravel_index: Any
    where: Any
    ndarray: type
    generic: type
    ufunc: type
    dtype: type
    uint8: type
    inf: float


class _LibraryRefs(NamedTuple):
    """Standard-library functions bound at import, for the same reason."""

    deepcopy: Any
    signature: Any
    getattr_static: Any
    get_instructions: Any
    catch_warnings: Any
    simplefilter: Any
    is_: Any
    chain: Any


_np = _NumpyRefs(
    asarray=np.asarray,
    absolute=np.absolute,
    isfinite=np.isfinite,
    isnan=np.isnan,
    errstate=np.errstate,
    printoptions=np.printoptions,
    unravel_index=np.unravel_index,
    where=np.where,
    ndarray=np.ndarray,
    generic=np.generic,
    ufunc=np.ufunc,
    dtype=np.dtype,
    uint8=np.uint8,
    inf=np.inf,
)
_py = _LibraryRefs(
    deepcopy=copy.deepcopy,
    signature=inspect.signature,
    getattr_static=inspect.getattr_static,
    get_instructions=dis.get_instructions,
    catch_warnings=warnings.catch_warnings,
    simplefilter=warnings.simplefilter,
    is_=operator.is_,
    chain=itertools.chain.from_iterable,
)

_MISSING = object()

# (b) What tampering_report watches outside this module: (label, owner, attribute, original).
# Tuples, not dicts, so that the record itself cannot be edited in place.
_WATCHED = tuple(
    (f"{label}.{attr}", owner, attr, getattr(owner, attr))
    for label, owner, names in (
        ("numpy", np, "allclose isclose array_equal asarray array abs all any isfinite"),
        ("numpy", np, "exp log tanh maximum"),  # what activation tests compare against
        ("numpy.testing", numpy.testing, "assert_allclose assert_array_equal"),
        ("builtins", builtins, "__import__ isinstance abs all any len AssertionError"),
    )
    for attr in names.split()
)
_EXCEPTHOOK = sys.excepthook
_NUMPY_UFUNCS = frozenset(v for v in vars(np).values() if isinstance(v, np.ufunc))
_DEFAULT_FORBIDDEN = ("torch", "scipy", "sklearn", "dl_helpers", "jax", "tensorflow")


# ---------------------------------------------------------------------------------------
# Tamper detection
# ---------------------------------------------------------------------------------------


def _fingerprint(value: object) -> tuple[object, ...]:
    """The objects that must stay identical for ``value`` to be unchanged.

    A function is also changed when its code or defaults are swapped (``f.__code__ = ...``);
    a class defined here when one of its attributes is.
    """
    if isinstance(value, types.FunctionType):
        kwdefaults = value.__kwdefaults__ or {}
        return (value, value.__code__, value.__defaults__, *_py.chain(kwdefaults.items()))
    if isinstance(value, type) and value.__module__ == __name__:
        return (value, *_py.chain(vars(value).items()))
    return (value,)


def _unchanged(value: object, fingerprint: tuple[object, ...]) -> bool:
    current = _fingerprint(value)
    return len(current) == len(fingerprint) and all(map(_py.is_, current, fingerprint))


def _ipython_shell() -> Any:
    """The running IPython shell, or None (IPython is never imported from here)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _same_hook(hook: object, reference: object) -> bool:
    """Whether ``hook`` is ``reference``, counting bound methods of one function and instance.

    IPython sets ``sys.excepthook = shell.excepthook`` around every cell, and each attribute
    access creates a new bound method object: an ``is`` test alone would flag every notebook.
    """
    if hook is reference:
        return True
    both_methods = isinstance(hook, types.MethodType) and isinstance(reference, types.MethodType)
    return (
        both_methods and hook.__func__ is reference.__func__ and hook.__self__ is reference.__self__
    )


def tampering_report() -> list[str]:
    """List what has been patched since this module was imported; empty when nothing was.

    Watched: ``numpy.allclose``, ``isclose``, ``array_equal``, ``asarray``, ``array``,
    ``abs``, ``all``, ``any``, ``isfinite``, ``exp``, ``log``, ``tanh``, ``maximum``,
    ``numpy.testing.assert_allclose`` and ``assert_array_equal``; ``builtins.__import__``,
    ``isinstance``, ``abs``, ``all``, ``any``, ``len`` and ``AssertionError``;
    ``sys.excepthook``; IPython's custom exception handler; and every name in this module
    (rebinding, or swapping a function's ``__code__`` or defaults).

    Example:
        >>> tampering_report()
        []
    """
    report = [
        f"{label} was replaced at run time"
        for label, owner, attr, original in _WATCHED
        if getattr(owner, attr, _MISSING) is not original
    ]
    if not _same_hook(sys.excepthook, _EXCEPTHOOK):
        report.append("sys.excepthook was replaced at run time (it can hide failing tests)")
    if tuple(getattr(_ipython_shell(), "custom_exceptions", ())):
        report.append(
            "an IPython custom exception handler is installed (set_custom_exc): "
            "it can hide failing tests"
        )
    if sys.modules.get(__name__) is not _THIS_MODULE:
        report.append(f"sys.modules[{__name__!r}] was replaced at run time")
    if type(_THIS_MODULE) is not _ReadOnlyModule:
        report.append(f"{__name__} lost its read-only module type")
    namespace = vars(_THIS_MODULE)
    report += [
        f"{__name__}.{name} was replaced or modified at run time"
        for name, fingerprint in _SNAPSHOT.items()
        if not _unchanged(namespace.get(name, _MISSING), fingerprint)
    ]
    return report


def assert_untampered() -> None:
    """Raise ``AssertionError("Tests cannot be trusted: ...")`` if anything was patched.

    Called first by every public check in this module; see :func:`tampering_report`.
    """
    report = tampering_report()
    if report:
        raise AssertionError("Tests cannot be trusted: " + "; ".join(report))


# ---------------------------------------------------------------------------------------
# Describing values in messages
# ---------------------------------------------------------------------------------------


def _type_phrase(value: object) -> str:
    """'None', 'a list', 'a Python float', 'an object of type torch.Tensor', ..."""
    if value is None:
        return "None"
    kind = type(value)
    if kind.__module__ != "builtins":
        return f"an object of type {kind.__module__}.{kind.__qualname__}"
    noun = f"Python {kind.__name__}" if kind in (bool, int, float, complex) else kind.__name__
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _short_repr(value: object) -> str:
    """``repr`` that summarises long arrays and stays under a few lines."""
    with _np.printoptions(threshold=20, edgeitems=3, precision=6):
        text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _number(value: Any) -> str:
    """One element as the shortest text that round-trips: 0.7310585786300049, nan, inf."""
    return repr(value.item() if isinstance(value, _np.generic | _np.ndarray) else value)


def _at_index(flat_index: int, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """(' at index [1, 2]', (1, 2)) for an element of an array of ``shape``; '' for 0-d."""
    index = tuple(int(i) for i in _np.unravel_index(flat_index, shape))
    text = f" at index [{', '.join(map(str, index))}]" if shape else ""
    return text, index


# ---------------------------------------------------------------------------------------
# assert_close, assert_shape, assert_dtype
# ---------------------------------------------------------------------------------------


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
    if not (isinstance(actual, _np.ndarray | _np.generic) or scalar_ok):
        hint = " (wrap it with np.array(...))" if isinstance(actual, list | tuple) else ""
        raise AssertionError(f"{name}: expected {wanted}, got {_type_phrase(actual)}{hint}")
    return _np.asarray(actual)


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
    broken = _np.isfinite(expected) & ~_np.isfinite(actual)
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
    finite = _np.isfinite(actual) & _np.isfinite(expected)
    with _np.errstate(invalid="ignore", over="ignore"):  # inf - inf: excluded by `finite`
        close = _np.absolute(actual - expected) <= atol + rtol * _np.absolute(expected)
    both_nan = _np.isnan(actual) & _np.isnan(expected)
    return _np.asarray(~((close & finite) | (actual == expected) | both_nan))


def _check_values(
    actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, name: str
) -> None:
    bad = _mismatches(actual, expected, rtol, atol)
    if not bad.any():
        return
    with _np.errstate(invalid="ignore", over="ignore"):
        error = _np.absolute(actual - expected)
    # rank mismatches by their error; a NaN error (expected NaN, got a number) ranks first
    score = _np.where(bad, _np.where(_np.isnan(error), _np.inf, error), -1.0)
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
    reference = _np.asarray(expected)
    result = _result_array(actual, reference.shape, name)
    _check_shape(result, reference.shape, name)
    if check_dtype and isinstance(expected, _np.ndarray | _np.generic):
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
    _check_dtype(_result_array(actual, None, name), _np.dtype(dtype), name)


# ---------------------------------------------------------------------------------------
# Checks that call the function under test
# ---------------------------------------------------------------------------------------


def _argument_names(func: Callable, args: tuple, kwargs: Mapping[str, object]) -> list[str]:
    """Parameter names for ``args`` (``arg1``, ... where unknown), then the keyword names."""
    try:
        parameters = list(_py.signature(func).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        parameters = []
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    names = [positional[i] if i < len(positional) else f"arg{i + 1}" for i in range(len(args))]
    return names + list(kwargs)


def _function_name(func: Callable, name: str | None) -> str:
    return name if name is not None else getattr(func, "__name__", repr(func))


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
        with _np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            with _py.catch_warnings():
                _py.simplefilter("error")
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
    return flat.view(_np.uint8).reshape(*array.shape, array.dtype.itemsize)


def _changed_elements(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Mask of elements whose stored bytes differ (so NaN == NaN and -0.0 != 0.0)."""
    if before.dtype.hasobject:  # object arrays hold pointers; deep copies differ in bytes
        return _np.asarray(now != before)
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
    before_args, before_kwargs = _py.deepcopy((args, kwargs))
    result = func(*args, **kwargs)
    label = _call_label(func, name, args, kwargs)
    names = _argument_names(func, args, kwargs)
    for position, (now, before) in enumerate(zip(args, before_args, strict=True), start=1):
        if isinstance(now, _np.ndarray):
            where = f"its argument `{names[position - 1]}` (position {position})"
            _check_unmodified(now, before, label, where)
    for key, now in kwargs.items():
        if isinstance(now, _np.ndarray):
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
        args, kwargs = _py.deepcopy((tuple(case["args"]), dict(case.get("kwargs", {}))))
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


# ---------------------------------------------------------------------------------------
# assert_no_forbidden_calls: static inspection of a function's bytecode
# ---------------------------------------------------------------------------------------


class _Rules(NamedTuple):
    """What assert_no_forbidden_calls looks for."""

    modules: tuple[str, ...]  # forbidden top-level modules and packages
    attrs: frozenset[str]  # forbidden attribute names, e.g. {"tanh"}
    attr_objects: tuple[object, ...]  # what those names are in numpy and math (np.tanh)

    def is_forbidden_module(self, module_name: str) -> bool:
        return any(module_name == m or module_name.startswith(m + ".") for m in self.modules)

    def is_forbidden_attr(self, value: object) -> bool:
        return any(value is forbidden for forbidden in self.attr_objects)


def _make_rules(modules: Iterable[str], attrs: Iterable[str]) -> _Rules:
    attrs = frozenset(attrs)
    objects = tuple(
        getattr(owner, attr) for attr in attrs for owner in (np, math) if hasattr(owner, attr)
    )
    return _Rules(tuple(modules), attrs, objects)


def _ufunc_home(ufunc: np.ufunc, rules: _Rules) -> str | None:
    """The shallowest forbidden module holding ``ufunc``: ufuncs carry no ``__module__``."""
    if ufunc in _NUMPY_UFUNCS:
        return "numpy"
    candidates = sorted(
        (name for name in list(sys.modules) if rules.is_forbidden_module(name)),
        key=lambda name: (name.count("."), name),
    )
    for module_name in candidates:
        module_dict = getattr(sys.modules.get(module_name), "__dict__", {})
        if any(value is ufunc for value in list(module_dict.values())):
            return module_name
    return None


def _home_module(value: object, rules: _Rules) -> str | None:
    """The module ``value`` is, or was defined in, when known."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, _np.ufunc):
        return _ufunc_home(value, rules)
    try:
        module = getattr(value, "__module__", None)
    except Exception:  # a user object's __getattr__ may raise anything
        return None
    return module if isinstance(module, str) else None


def _forbidden_home(values: Iterable[object], rules: _Rules) -> str | None:
    """The first forbidden module among the homes of ``values``, else None."""
    for value in values:
        home = _home_module(value, rules)
        if home is not None and rules.is_forbidden_module(home):
            return home
    return None


def _static_attribute(value: object, attr: str) -> object:
    """``value.attr`` without running user code (properties, ``__getattr__``)."""
    if isinstance(value, types.ModuleType):
        found = vars(value).get(attr, _MISSING)
        # a submodule not yet bound as an attribute (lazy packages) is still in sys.modules
        return found if found is not _MISSING else sys.modules.get(f"{value.__name__}.{attr}")
    return _py.getattr_static(value, attr, _MISSING)


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and every code object nested in it (inner functions, lambdas, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _is_notebook_function(value: object, func: types.FunctionType) -> bool:
    """A plain function defined alongside ``func`` (same globals or module): a helper."""
    return isinstance(value, types.FunctionType) and (
        value.__globals__ is func.__globals__ or value.__module__ == func.__module__
    )


def _resolve_name(func: types.FunctionType, opname: str, name: str) -> object:
    """The object a global or closure variable of ``func`` refers to now, if known."""
    if opname in ("LOAD_DEREF", "LOAD_CLASSDEREF"):
        freevars = func.__code__.co_freevars
        if name in freevars and func.__closure__:
            try:
                return func.__closure__[freevars.index(name)].cell_contents
            except ValueError:  # an empty cell: assigned later
                return _MISSING
        return _MISSING
    found = func.__globals__.get(name, _MISSING)
    return found if found is not _MISSING else func.__builtins__.get(name, _MISSING)


_NAME_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF"})
_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})


class _Scan(NamedTuple):
    """What a function uses: problems as (kind, text), kind "module" or "attr"; helpers."""

    problems: list[tuple[str, str]]
    helpers: list[types.FunctionType]


class _Chain(NamedTuple):
    """A dotted expression being read, ``F.relu``: its names and the objects they denote."""

    names: list[str]
    objects: list[object]


def _close_chain(chain: _Chain, rules: _Rules, scan: _Scan) -> None:
    """Record a problem for a finished dotted expression, then reset it."""
    text = ".".join(chain.names)
    home = _forbidden_home(chain.objects, rules)
    if home is not None:
        scan.problems.append(("module", f"{text} ({home})"))
    elif any(n in rules.attrs for n in chain.names) or any(
        rules.is_forbidden_attr(o) for o in chain.objects
    ):
        scan.problems.append(("attr", text))
    chain.names.clear()
    chain.objects.clear()


def _scan_code(code: types.CodeType, func: types.FunctionType, rules: _Rules, scan: _Scan) -> None:
    """Add to ``scan`` what ``code`` (part of ``func``) uses that the rules forbid.

    A dotted expression (``torch.nn.functional.relu``, ``F.relu``) is read attribute by
    attribute from the global or closure variable it starts at, so the message can name
    the whole expression and the module it resolves to.
    """
    chain = _Chain([], [])
    for ins in _py.get_instructions(code):
        op, arg = ins.opname, ins.argval
        if op in _ATTR_OPS and chain.names:
            chain.names.append(arg)
            chain.objects.append(_static_attribute(chain.objects[-1], arg))
            continue
        if chain.names:
            _close_chain(chain, rules, scan)
        if op in _NAME_OPS:
            value = _resolve_name(func, op, arg)
            if _is_notebook_function(value, func):  # followed, not judged by its name
                scan.helpers.append(value)
            else:
                chain.names.append(arg)
                chain.objects.append(value)
        elif op in _ATTR_OPS or op == "IMPORT_FROM":  # attribute of a local: name only
            if arg in rules.attrs:
                scan.problems.append(("attr", arg))
        elif op == "IMPORT_NAME" and rules.is_forbidden_module(arg):
            scan.problems.append(("module", f"`import {arg}` ({arg})"))
        elif op == "LOAD_CONST" and isinstance(arg, str):
            if rules.is_forbidden_module(arg):  # __import__("torch"), sys.modules["torch"]
                scan.problems.append(("module", f"the string {arg!r} ({arg})"))
            elif arg in rules.attrs:  # getattr(np, "tanh")
                scan.problems.append(("attr", f"the string {arg!r}"))
    if chain.names:
        _close_chain(chain, rules, scan)


def _scan_function(func: types.FunctionType, rules: _Rules) -> _Scan:
    scan = _Scan([], [])
    defaults = [*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values()]
    home = _forbidden_home(defaults, rules)  # def f(x, _sig=torch.sigmoid) hides the call
    if home is not None:
        scan.problems.append(("module", f"a default argument value ({home})"))
    for code in _code_objects(func.__code__):
        _scan_code(code, func, rules, scan)
    return scan


def _forbidden_uses(func: types.FunctionType, rules: _Rules) -> list[tuple[str, str]]:
    """Problems in ``func`` and in every notebook helper it reaches, each reported once."""
    problems: list[tuple[str, str]] = []
    pending = [(func, "")]
    visited: set[types.CodeType] = set()
    while pending:
        current, via = pending.pop()
        if current.__code__ in visited:
            continue
        visited.add(current.__code__)
        scan = _scan_function(current, rules)
        problems += [(kind, text + via) for kind, text in scan.problems]
        pending += [(helper, f" in helper {helper.__name__}") for helper in scan.helpers]
    return list(dict.fromkeys(problems))


def assert_no_forbidden_calls(
    func: Callable,
    *,
    forbidden_modules: Iterable[str] = _DEFAULT_FORBIDDEN,
    forbidden_attrs: Iterable[str] = (),
    name: str | None = None,
) -> None:
    """Assert, by reading its bytecode, that ``func`` uses no forbidden library.

    Without running ``func``, every name it loads is resolved the way Python would resolve
    it (globals, builtins, closure cells; then attribute by attribute), including in nested
    functions and lambdas, default argument values, and notebook helpers it calls (plain
    functions defined in the same module, followed recursively so that a helper cannot
    launder a ``torch`` call). It fails when any of these is found:

    * an object from ``forbidden_modules`` or a submodule: ``torch.sigmoid``, ``F.relu``
      with ``F = torch.nn.functional``, ``expit`` imported from ``scipy.special``,
      ``ref.sigmoid`` with ``ref = dl_helpers.activations``;
    * an ``import`` of such a module inside the function, or its name as a string;
    * an attribute or global in ``forbidden_attrs`` (``("tanh",)`` catches ``np.tanh``,
      ``math.tanh``, ``from numpy import tanh``), other than a notebook function of that
      name (so a recursive ``tanh`` is fine), or the name as a string.

    A static check cannot see through ``eval`` or computed strings; it catches the honest
    shortcut, not every determined evasion.

    Args:
        func: a plain Python function (a bound method is unwrapped to its function).
        forbidden_modules: top-level packages that ``func`` must not touch.
        forbidden_attrs: attribute names that ``func`` must not use, e.g. ``("tanh",)``.
        name: how ``func`` is called in messages; defaults to ``func.__name__``.

    Example:
        >>> import math
        >>> def sigmoid(x):
        ...     return 1 / (1 + math.exp(-x))
        >>> assert_no_forbidden_calls(sigmoid, forbidden_attrs=("exp",))
        Traceback (most recent call last):
        ...
        AssertionError: sigmoid must not use exp in this exercise: it uses math.exp
    """
    assert_untampered()
    func = getattr(func, "__func__", func)
    if not isinstance(func, types.FunctionType):
        raise TypeError(f"expected a Python function, got {_type_phrase(func)}")
    rules = _make_rules(forbidden_modules, forbidden_attrs)
    problems = _forbidden_uses(func, rules)
    label = _function_name(func, name)
    modules = [text for kind, text in problems if kind == "module"]
    attrs = [text for kind, text in problems if kind == "attr"]
    sentences = []
    if modules:
        sentences.append(f"{label} must be written with numpy only: it uses {', '.join(modules)}")
    if attrs:
        banned = ", ".join(sorted(rules.attrs))
        uses = ", ".join(attrs)
        sentences.append(f"{label} must not use {banned} in this exercise: it uses {uses}")
    if sentences:
        raise AssertionError(". ".join(sentences))


# ---------------------------------------------------------------------------------------
# (d) A read-only module object; then (b) the snapshot of everything defined above
# ---------------------------------------------------------------------------------------

_READ_ONLY_MESSAGE = f"{__name__} is read-only: tests must not be patched"


class _ReadOnlyModule(types.ModuleType):
    """Module type whose attributes cannot be assigned or deleted, except dunder names.

    ``__class__`` is refused as well, so ``checks.__class__ = types.ModuleType`` cannot
    undo this; the module itself installs the class with ``object.__setattr__``.
    """

    def __setattr__(self, attr: str, value: object) -> None:
        if attr == "__class__" or not (attr.startswith("__") and attr.endswith("__")):
            raise AttributeError(_READ_ONLY_MESSAGE)
        super().__setattr__(attr, value)

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(_READ_ONLY_MESSAGE)


_THIS_MODULE = sys.modules[__name__]
# A read-only view: the dict behind it is referenced from nowhere else.
_SNAPSHOT = types.MappingProxyType(
    {
        name: _fingerprint(value)
        for name, value in list(globals().items())
        if not (name.startswith("__") and name.endswith("__"))
    }
)
object.__setattr__(_THIS_MODULE, "__class__", _ReadOnlyModule)
