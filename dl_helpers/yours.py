"""Run a notebook's experiments with the student's own functions, when they work.

After an exercise, the experiment that follows should use what the student just wrote:
their ``sigmoid`` draws the curve, their ``layer_grad_norms`` measures the vanishing
gradient. A blank notebook must still run end to end, though, and a wrong answer must not
turn an experiment into nonsense. :func:`choose` decides, once per function and experiment:

* the student's function if it exists, runs on a small *probe* (arguments chosen by the
  experiment) and returns what the reference returns there, to a tolerance;
* the reference otherwise, with one printed line saying why: not written yet
  (``NotImplementedError``), not defined, an error it raised, a warning, its input modified,
  or the largest difference from the reference on the probe.

The decision is printed either way, so the student sees whose code an experiment runs::

    >>> import numpy as np
    >>> def ref_sigmoid(x):
    ...     return 1 / (1 + np.exp(-x))
    >>> def sigmoid(x):
    ...     raise NotImplementedError()
    >>> f = choose("sigmoid", ref_sigmoid, (np.linspace(-5, 5, 11),), {"sigmoid": sigmoid})
    sigmoid: the reference runs this experiment (yours is not written yet: NotImplementedError)
    >>> f is ref_sigmoid
    True

Comparison follows :func:`dl_helpers.checks.assert_close`'s rule without its dtype check
(an experiment does not care whether a float32 input came back as float64):
``|yours - reference| <= atol + rtol * |reference|`` elementwise, equal shapes, NaN
matches NaN; tuples and lists are compared item by item, dicts key by key.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["choose", "difference"]


def difference(got: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """Why ``got`` does not match ``expected``, or ``None`` when it does.

    Args:
        got: what the student's function returned.
        expected: what the reference returned on the same arguments: an array, a number, or
            a tuple / list / dict of these.
        rtol, atol: elementwise tolerance, ``|got - expected| <= atol + rtol * |expected|``.

    Returns:
        ``None`` if they match, else a short reason for a printed note, e.g.
        ``"largest difference 0.5 at index (3,)"``.

    Example:
        >>> difference(np.array([1.0, 2.0]), np.array([1.0, 2.5]))
        'largest difference 0.5 at index (1,)'
        >>> difference((np.ones(2), 3.0), (np.ones(2), 3.0)) is None
        True
    """
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping) or set(got) != set(expected):
            return f"returned {_kind(got)} where a dict with keys {sorted(expected)} was expected"
        for key in expected:
            reason = difference(got[key], expected[key], rtol=rtol, atol=atol)
            if reason:
                return f"[{key!r}]: {reason}"
        return None
    if isinstance(expected, tuple | list):
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"returned {_kind(got)} where {len(expected)} values were expected"
        for k, (g, e) in enumerate(zip(got, expected, strict=True)):
            reason = difference(g, e, rtol=rtol, atol=atol)
            if reason:
                return f"item {k}: {reason}"
        return None
    if got is None:
        return "returned None (a missing `return`?)"
    try:
        got_array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"returned {_kind(got)}, not numbers"
    expected_array = np.asarray(expected, dtype=np.float64)
    if got_array.shape != expected_array.shape:
        return f"returned shape {got_array.shape}, expected {expected_array.shape}"
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(got_array - expected_array)
        allowed = atol + rtol * np.abs(expected_array)
        bad = ~((gap <= allowed) | (np.isnan(got_array) & np.isnan(expected_array)))
    if not bad.any():
        return None
    gap = np.where(bad, np.nan_to_num(gap, nan=np.inf), -1.0)
    worst = np.unravel_index(int(np.argmax(gap)), gap.shape)
    return f"largest difference {gap[worst]:.3g} at index {tuple(int(i) for i in worst)}"


def choose(
    name: str,
    reference: Callable,
    probe: tuple,
    namespace: Mapping[str, Any],
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    quiet: bool = False,
) -> Callable:
    """The student's function ``namespace[name]`` if it agrees with ``reference`` on ``probe``.

    Calls both on deep copies of ``probe`` (positional arguments), the student's under
    ``np.errstate(all="raise", under="ignore")`` and with warnings turned into errors, then
    compares with :func:`difference`. Prints one line saying which function the experiment
    runs, and why when it is the reference.

    Args:
        name: the exercise's function name, looked up in ``namespace``.
        reference: the course's implementation (``dl_helpers.activations``, or a torch
            route), used when the student's function is missing or wrong.
        probe: the arguments of one small call that exercises what the experiment needs
            (e.g. both signs, a large ``|x|``).
        namespace: where the student's function lives: ``globals()`` in a notebook.
        rtol, atol: tolerance of the comparison on the probe.
        quiet: print nothing (for callers that report the choice themselves).

    Returns:
        The student's function or ``reference``.

    Example:
        >>> def relu(x):
        ...     return np.abs(x)  # wrong for negative x
        >>> f = choose("relu", lambda x: np.maximum(x, 0), (np.array([-1.0, 2.0]),),
        ...            {"relu": relu})
        relu: the reference runs this experiment (yours differs from it on a probe:
        largest difference 1 at index (0,))
    """
    candidate = namespace.get(name)
    reason = _why_not(candidate, reference, probe, rtol, atol)
    if not quiet:
        if reason is None:
            print(f"{name}: this experiment runs your function")
        else:
            print(f"{name}: the reference runs this experiment (yours {reason})")
    return candidate if reason is None else reference


def _why_not(
    candidate: object, reference: Callable, probe: tuple, rtol: float, atol: float
) -> str | None:
    """Why ``candidate`` cannot stand in for ``reference`` on ``probe``; ``None`` if it can."""
    if candidate is None:
        return "is not defined: run its answer cell"
    if not callable(candidate):
        return f"is {_kind(candidate)}, not a function"
    args = copy.deepcopy(tuple(probe))
    before = copy.deepcopy(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(all="raise", under="ignore"):
                got = candidate(*args)
    except NotImplementedError:
        return "is not written yet: NotImplementedError"
    except Exception as error:  # any failure of student code means "use the reference"
        message = str(error).splitlines()[0] if str(error) else ""
        return f"raised {type(error).__name__}" + (f": {message[:80]}" if message else "")
    if not _same_arrays(args, before):
        return "modified its input"
    reason = difference(got, reference(*copy.deepcopy(tuple(probe))), rtol=rtol, atol=atol)
    return None if reason is None else f"differs from it on a probe: {reason}"


def _same_arrays(now: object, before: object) -> bool:
    """True if every array inside ``now`` (nested in tuples/lists) equals its copy ``before``."""
    if isinstance(now, np.ndarray):
        return bool(np.array_equal(now, before, equal_nan=now.dtype.kind in "fc"))
    if isinstance(now, tuple | list):
        return all(_same_arrays(a, b) for a, b in zip(now, before, strict=True))
    return True


def _kind(value: object) -> str:
    """'a list', 'an int', 'None' ... for messages."""
    if value is None:
        return "None"
    noun = type(value).__name__
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
