"""Finite-difference gradients: the independent check for every hand-written backward pass.

An analytic gradient is easy to get subtly wrong (a missing transpose, a sum over the wrong
axis) and still produce numbers of the right shape. The centred difference

    df/dx_i ~= (f(x + h e_i) - f(x - h e_i)) / (2h)

needs nothing but the forward function, and its error is ``O(h^2)``: the ``f''`` terms of
the two Taylor expansions cancel, leaving ``h^2 f'''(x) / 6``.

Choice of ``h`` (float64). Two errors compete: truncation, about ``h^2 |f'''| / 6``, which
shrinks with ``h``; and rounding, about ``eps |f| / h`` with ``eps ~ 1.1e-16``, which grows as
``h`` shrinks because two nearly equal values of ``f`` are subtracted. Their sum is smallest
near ``h ~ eps^(1/3) ~ 5e-6``; the default ``h = 1e-5`` sits there, giving a relative error
around ``1e-10`` for smooth functions of order-one inputs. In float32 (``eps ~ 6e-8``) the
same arithmetic gives at best ``1e-5``, which is why everything here runs in float64.

Compare gradients with :func:`rel_error`: below ``1e-7`` is a match, above ``1e-2`` is a bug.
A kink (ReLU at 0) within ``h`` of an input gives an honest mismatch: move the input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


def _float64_probe_array(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as a writable float64 array, the caller's own array when it is one.

    Perturbing the caller's array in place (and restoring it) lets ``f`` ignore its argument
    and read ``x`` through a closure, as in ``f = lambda _: model.loss(X, y)`` with ``x``
    one of the model's parameters.
    """
    x = np.asarray(x, dtype=np.float64)
    return x if x.flags.writeable else x.copy()


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: ArrayLike, h: float = 1e-5
) -> np.ndarray:
    """Centred-difference gradient of a scalar function ``f`` at ``x``.

    ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)`` for every index ``i`` of ``x``;
    truncation error ``O(h^2)``.

    A float64 ndarray ``x`` is perturbed in place, one element at a time, and each element
    is restored to its exact original value right after its two probes (also when ``f``
    raises). Any other input (float32, list, scalar) is first copied to float64.

    Args:
        f: function of ``x`` returning a scalar (a Python float or a 0-d array).
        x: point to differentiate at.
        h: step; see the module docstring for why ``1e-5`` suits float64.

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``, float64

    Example:
        >>> x = np.array([1.0, -2.0, 3.0])
        >>> numerical_gradient(lambda v: float(np.sum(v**2)), x).round(6)  # 2x
        array([ 2., -4.,  6.])
    """
    x = _float64_probe_array(x)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        original = x[ix]
        try:
            x[ix] = original + h
            f_plus = float(f(x))
            x[ix] = original - h
            f_minus = float(f(x))
        finally:
            x[ix] = original
        grad[ix] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(
    f: Callable[[np.ndarray], ArrayLike], x: ArrayLike, upstream: ArrayLike, h: float = 1e-5
) -> np.ndarray:
    """Centred-difference vector-Jacobian product of an array function ``f`` at ``x``.

    For a layer ``y = f(x)`` and the gradient ``upstream = dL/dy`` arriving from above, the
    chain rule gives ``dL/dx_i = sum_j upstream_j * dy_j/dx_i``. This estimates it as

        ``sum(upstream * (f(x + h e_i) - f(x - h e_i))) / (2h)``

    which is the numerical counterpart of a layer's backward pass (CS231n's
    ``eval_numerical_gradient_array``). ``x`` is perturbed and restored as in
    :func:`numerical_gradient`; ``f``'s output is copied after each probe, so an ``f`` that
    returns a view of ``x`` is handled correctly.

    Args:
        f: function of ``x`` returning an array.
        x: point to differentiate at.
        upstream: gradient of some scalar loss with respect to ``f(x)``.
        h: step; see the module docstring.

    Shape:
        - x: any shape ``(*)``
        - upstream: shape of ``f(x)``, any shape ``(**)``
        - output: same shape as ``x``, float64

    Example:
        >>> W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> x = np.array([[1.0, 0.0, -1.0]])
        >>> numerical_gradient_array(lambda v: v @ W, x, np.array([[1.0, 1.0]])).round(6)
        array([[ 3.,  7., 11.]])
    """
    x = _float64_probe_array(x)
    upstream = np.asarray(upstream, dtype=np.float64)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        original = x[ix]
        try:
            x[ix] = original + h
            y_plus = np.array(f(x), dtype=np.float64)  # copy: f may return a view of x
            x[ix] = original - h
            y_minus = np.array(f(x), dtype=np.float64)
        finally:
            x[ix] = original
        if y_plus.shape != upstream.shape:
            raise ValueError(f"upstream has shape {upstream.shape} but f(x) has {y_plus.shape}")
        grad[ix] = np.sum(upstream * (y_plus - y_minus)) / (2 * h)
    return grad


def rel_error(a: ArrayLike, b: ArrayLike, eps: float = 1e-12) -> float:
    """Largest elementwise relative error between two arrays.

    ``max_i |a_i - b_i| / max(|a_i| + |b_i|, eps)``

    Scale-free, unlike ``|a - b|``: ``1e-7`` means agreement to about seven significant
    digits whether the gradients are of order ``1e-3`` or ``1e3``. ``eps`` keeps the ratio
    defined (and 0) where both values are 0.

    Shape:
        - a: any shape ``(*)``
        - b: broadcastable with ``a``
        - output: a Python float, ``0 <= result <= 1``

    Example:
        >>> round(rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])), 6)  # 0.2 / 4.2
        0.047619
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))
