"""Activation functions and their derivatives: NumPy reference implementations.

A network built only from affine maps ``x @ W + b`` is itself one affine map, however many
layers it stacks: composing linear functions gives a linear function. An activation applied
elementwise between the layers breaks that, which is what lets depth add expressive power.
The choice of activation also decides how gradients flow backwards: a derivative that is
close to zero over most of its input (sigmoid, tanh when saturated) shrinks the gradient at
every layer it passes, while ReLU-like functions pass it through unchanged where they are
active.

=================================  ========================================  =================
function                           derivative / backward                     output range
=================================  ========================================  =================
``sigmoid(x)``                     ``sigmoid_grad(x)``                       (0, 1)
``tanh(x)``                        ``tanh_grad(x)``                          (-1, 1)
``relu(x)``                        ``relu_grad(x)``                          [0, inf)
``leaky_relu(x, alpha=0.01)``      ``leaky_relu_grad(x, alpha=0.01)``        (-inf, inf)
``prelu(x, a)``                    ``prelu_grad(x, a)`` -> (dy/dx, dy/da)    (-inf, inf)
``softmax(x, axis=-1)``            ``softmax_backward(x, upstream, axis)``   (0, 1), sums to 1
``log_softmax(x, axis=-1)``        — (not provided)                          (-inf, 0]
``elu(x, alpha=1.0)``              ``elu_grad(x, alpha=1.0)``                (-alpha, inf)
``gelu(x)``                        ``gelu_grad(x)``                          [-0.17, inf)
``silu(x)``                        ``silu_grad(x)``                          [-0.28, inf)
=================================  ========================================  =================

The course's backward contract (CONTRIBUTING.md): ``f_grad(x)`` is the *local derivative*
of an elementwise function (the diagonal of its Jacobian, same shape as ``x``), so a layer's
backward pass is ``upstream * f_grad(x)``; ``f_backward(inputs..., upstream, options...)``
is the *vector-Jacobian product* of any other function: it takes the forward's inputs and
``upstream = dL/d(output)`` and returns ``dL/d(input)``.

Conventions shared by every function:

* ``x`` may be anything ``np.asarray`` accepts (array, list, Python scalar). A float array
  keeps its dtype (float32 in, float32 out); integer, bool and list input is computed in
  float64. The result is always an ``ndarray`` of ``x``'s shape (0-d for a scalar).
* Inputs are never modified.
* Results are finite and warning-free for ``|x|`` up to ``1e4`` and beyond: nothing
  exponentiates a large positive number. Where a true result is smaller than the smallest
  float (``exp(-1e4)``), the computation rounds it to zero with NumPy's underflow report
  switched off, so a caller running under ``np.errstate(all="raise")`` sees no error for
  what is the correctly rounded answer.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def _as_float_array(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as an ndarray with a float dtype, without copying float arrays."""
    x = np.asarray(x)
    # Integer arithmetic would truncate (and overflow); bool arithmetic is not arithmetic.
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def sigmoid(x: ArrayLike) -> np.ndarray:
    r"""Logistic sigmoid, elementwise.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}

    Computed in the two-branch form ``1 / (1 + e^{-|x|})`` for ``x >= 0`` and
    ``e^{-|x|} / (1 + e^{-|x|})`` for ``x < 0``: ``e^{-|x|}`` lies in ``(0, 1]``, so neither
    branch can overflow, while the textbook form overflows in ``exp(-x)`` for ``x < -709``.

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``, values in ``[0, 1]``

    Example:
        >>> sigmoid(np.array([-1.0, 0.0, 1.0])).round(4)
        array([0.2689, 0.5   , 0.7311])
        >>> sigmoid(np.array([-1e4, 1e4]))
        array([0., 1.])
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):  # exp(-1e4) rounds to 0: that is the right answer
        z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid_grad(x: ArrayLike) -> np.ndarray:
    r"""Derivative of :func:`sigmoid`, elementwise.

    .. math:: \frac{d\sigma}{dx} = \sigma(x)\,(1 - \sigma(x)) = \sigma(x)\,\sigma(-x)

    At most ``0.25`` (at ``x = 0``): every sigmoid layer a gradient passes through scales it
    down by at least a factor of four, the root of vanishing gradients in deep sigmoid nets.

    Computed as ``sigmoid(x) * sigmoid(-x)``: once ``sigmoid(x)`` rounds to 1 (``x > 17`` in
    float32, ``x > 37`` in float64), ``1 - sigmoid(x)`` is 0 or off by a large relative
    error, while ``sigmoid(-x)`` is still accurate, so the small derivative keeps its digits.

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``, values in ``[0, 0.25]``

    Example:
        >>> sigmoid_grad(np.array([-2.0, 0.0, 2.0])).round(4)
        array([0.105, 0.25 , 0.105])
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):  # the product of two tiny factors rounds to 0
        return np.asarray(sigmoid(x) * sigmoid(-x))


def tanh(x: ArrayLike) -> np.ndarray:
    r"""Hyperbolic tangent, elementwise.

    .. math:: \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = 2\sigma(2x) - 1

    ``np.tanh`` is used directly: it is already stable for any finite ``x`` (the formula
    above, evaluated naively, overflows for ``|x| > 355``).

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``, values in ``[-1, 1]``

    Example:
        >>> tanh(np.array([-1.0, 0.0, 1.0])).round(4)
        array([-0.7616,  0.    ,  0.7616])
    """
    return np.asarray(np.tanh(_as_float_array(x)))


def tanh_grad(x: ArrayLike) -> np.ndarray:
    r"""Derivative of :func:`tanh`, elementwise.

    .. math:: \frac{d}{dx}\tanh(x) = 1 - \tanh^2(x)

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``, values in ``[0, 1]``

    Example:
        >>> tanh_grad(np.array([-1.0, 0.0, 1.0])).round(4)
        array([0.42, 1.  , 0.42])
    """
    t = tanh(x)
    with np.errstate(under="ignore"):  # t**2 of a tiny t rounds to 0: harmless
        return np.asarray(1 - t * t)


def relu(x: ArrayLike) -> np.ndarray:
    r"""Rectified linear unit, elementwise.

    .. math:: \mathrm{ReLU}(x) = \max(x, 0)

    NaN propagates (``np.maximum`` returns NaN when either operand is NaN), so a broken
    upstream computation stays visible instead of being hidden as 0.

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``

    Example:
        >>> relu(np.array([-2.0, 0.0, 3.0]))
        array([0., 0., 3.])
    """
    return np.asarray(np.maximum(_as_float_array(x), 0))


def relu_grad(x: ArrayLike) -> np.ndarray:
    r"""Derivative of :func:`relu`, elementwise.

    .. math:: \frac{d}{dx}\mathrm{ReLU}(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}

    ReLU has no derivative at ``x = 0``; like PyTorch, this returns ``0`` there (any value in
    ``[0, 1]`` is a valid subgradient).

    Shape:
        - x: any shape ``(*)``
        - output: same shape and dtype as ``x``, values in ``{0, 1}``

    Example:
        >>> relu_grad(np.array([-2.0, 0.0, 3.0]))
        array([0., 0., 1.])
    """
    x = _as_float_array(x)
    return np.where(x > 0, 1, 0).astype(x.dtype)


def leaky_relu(x: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    r"""Leaky ReLU, elementwise: ReLU with a small slope ``alpha`` for negative inputs.

    .. math:: \mathrm{LeakyReLU}(x) = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}

    The negative slope keeps a non-zero gradient where ReLU's is exactly zero, so a unit
    pushed into the negative region can still recover ("dying ReLU").

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``

    Example:
        >>> leaky_relu(np.array([-2.0, 0.0, 3.0]), alpha=0.1)
        array([-0.2,  0. ,  3. ])
    """
    x = _as_float_array(x)
    return np.where(x > 0, x, x.dtype.type(alpha) * x)


def leaky_relu_grad(x: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    r"""Derivative of :func:`leaky_relu`, elementwise.

    .. math:: \frac{d}{dx}\mathrm{LeakyReLU}(x) = \begin{cases} 1 & x > 0 \\ \alpha & x \le 0
        \end{cases}

    At ``x = 0`` the slope ``alpha`` is returned, matching PyTorch.

    Shape:
        - x: any shape ``(*)``
        - output: same shape and dtype as ``x``

    Example:
        >>> leaky_relu_grad(np.array([-2.0, 0.0, 3.0]), alpha=0.1)
        array([0.1, 0.1, 1. ])
    """
    x = _as_float_array(x)
    return np.where(x > 0, 1, alpha).astype(x.dtype)


def _broadcast_slope(x: np.ndarray, a: ArrayLike) -> np.ndarray:
    """Return PReLU's slope ``a`` in ``x``'s dtype, broadcast to ``x``'s shape.

    Raises ``ValueError`` when ``a`` cannot be broadcast to ``x`` (for example a slope of
    shape ``(C,)`` for ``x`` of shape ``(N, C, H, W)``: use ``a.reshape(C, 1, 1)``).
    """
    return np.broadcast_to(np.asarray(a, dtype=x.dtype), x.shape)


def prelu(x: ArrayLike, a: ArrayLike) -> np.ndarray:
    r"""Parametric ReLU: leaky ReLU whose negative slope ``a`` is learned.

    .. math:: \mathrm{PReLU}(x) = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}

    ``a`` is a scalar (one slope shared by every unit) or an array broadcastable to ``x``,
    typically one slope per channel: shape ``(C,)`` for ``x`` of shape ``(N, C)``.

    Shape:
        - x: any shape ``(*)``
        - a: ``()`` or any shape that broadcasts to ``x.shape``, e.g. ``(C,)``
        - output: same shape and dtype as ``x``

    Example:
        >>> prelu(np.array([[-2.0, -2.0], [1.0, 1.0]]), np.array([0.1, 0.5]))
        array([[-0.2, -1. ],
               [ 1. ,  1. ]])
    """
    x = _as_float_array(x)
    return np.where(x > 0, x, _broadcast_slope(x, a) * x)


def prelu_grad(x: ArrayLike, a: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""Partial derivatives of :func:`prelu` with respect to ``x`` and to ``a``, elementwise.

    .. math::
        \frac{\partial y}{\partial x} = \begin{cases} 1 & x > 0 \\ a & x \le 0 \end{cases}
        \qquad
        \frac{\partial y}{\partial a} = \begin{cases} 0 & x > 0 \\ x & x \le 0 \end{cases}

    Both are returned per element of ``x``. When ``a`` is shared across elements (a scalar,
    or a per-channel ``(C,)`` slope), the gradient of the loss with respect to ``a`` is
    ``upstream * dy_da`` summed over the axes ``a`` was broadcast along, e.g.
    ``(upstream * dy_da).sum(axis=0)`` for ``x: (N, C)``, ``a: (C,)``.

    Shape:
        - x: any shape ``(*)``
        - a: ``()`` or any shape that broadcasts to ``x.shape``
        - output: ``(dy_dx, dy_da)``, both the same shape and dtype as ``x``

    Example:
        >>> dy_dx, dy_da = prelu_grad(np.array([-2.0, 0.0, 3.0]), 0.25)
        >>> dy_dx
        array([0.25, 0.25, 1.  ])
        >>> dy_da
        array([-2.,  0.,  0.])
    """
    x = _as_float_array(x)
    positive = x > 0
    dy_dx = np.where(positive, x.dtype.type(1), _broadcast_slope(x, a))
    dy_da = np.where(positive, x.dtype.type(0), x)
    return dy_dx, dy_da


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Softmax along ``axis``: exponentiate, then normalise to sum to one.

    .. math:: \mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}
        = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j

    Subtracting the maximum changes nothing mathematically (the factor ``e^{-m}`` cancels)
    but makes every exponent ``<= 0``: no overflow, and the largest term is exactly 1, so the
    denominator is at least 1.

    Shape:
        - x: any shape ``(*)``; a 0-d ``x`` is treated as one logit (its softmax is 1)
        - output: same shape as ``x``; sums to 1 along ``axis``

    Example:
        >>> softmax(np.array([1.0, 2.0, 3.0])).round(4)
        array([0.09  , 0.2447, 0.6652])
        >>> softmax(np.array([1e4, 1e4]))
        array([0.5, 0.5])
    """
    x = _as_float_array(x)
    x1 = np.atleast_1d(x)  # so that axis=-1 also names an axis for a 0-d input
    with np.errstate(under="ignore"):  # exp of a very negative shifted logit rounds to 0
        e = np.exp(x1 - x1.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True)).reshape(x.shape)


def softmax_backward(x: ArrayLike, upstream: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Backward pass of :func:`softmax`: the vector-Jacobian product ``upstream @ J``.

    With ``s = softmax(x)`` and ``g = upstream`` (the gradient of the loss with respect to
    ``s``), the Jacobian ``J = diag(s) - s s^T`` along ``axis`` gives

    .. math:: \frac{\partial L}{\partial x} = s \odot \left(g - \sum_j g_j s_j\right)

    computed without forming ``J`` (which would cost ``D^2`` memory per row).

    Shape:
        - x: any shape ``(*)``
        - upstream: same shape as ``x``
        - output: same shape and dtype as ``x``

    Example:
        >>> x = np.array([1.0, 2.0, 3.0])
        >>> softmax_backward(x, np.array([1.0, 0.0, 0.0])).round(4)
        array([ 0.0819, -0.022 , -0.0599])
        >>> # softmax sums to 1 whatever x is, so a uniform upstream has zero effect
        >>> bool(np.allclose(softmax_backward(x, np.ones(3)), 0.0))
        True
    """
    x = _as_float_array(x)
    g = np.asarray(upstream, dtype=x.dtype)
    if g.shape != x.shape:
        raise ValueError(f"upstream must have x's shape {x.shape}, got {g.shape}")
    s1 = np.atleast_1d(softmax(x, axis=axis))
    g1 = np.atleast_1d(g)
    with np.errstate(under="ignore"):  # products of tiny probabilities round to 0
        return (s1 * (g1 - (g1 * s1).sum(axis=axis, keepdims=True))).reshape(x.shape)


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Logarithm of :func:`softmax` along ``axis``, computed without forming the softmax.

    .. math:: \log\mathrm{softmax}(x)_i = (x_i - m) - \log\sum_j e^{x_j - m},
        \quad m = \max_j x_j

    ``np.log(softmax(x))`` returns ``-inf`` as soon as a probability underflows to 0 (a
    logit about 745 below the maximum); this form stays finite, which is what a
    cross-entropy loss needs.

    Shape:
        - x: any shape ``(*)``; a 0-d ``x`` is treated as one logit (result 0)
        - output: same shape as ``x``; ``exp`` of it sums to 1 along ``axis``

    Example:
        >>> log_softmax(np.array([1.0, 2.0, 3.0])).round(4)
        array([-2.4076, -1.4076, -0.4076])
        >>> log_softmax(np.array([0.0, -1e4]))
        array([     0., -10000.])
    """
    x = _as_float_array(x)
    x1 = np.atleast_1d(x)
    shifted = x1 - x1.max(axis=axis, keepdims=True)
    with np.errstate(under="ignore"):
        log_sum = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return (shifted - log_sum).reshape(x.shape)


def elu(x: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    r"""Exponential linear unit (Clevert et al., 2015), elementwise.

    .. math:: \mathrm{ELU}_\alpha(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0
        \end{cases}

    Like leaky ReLU it keeps a gradient for negative inputs, but it bends smoothly towards
    ``-alpha`` instead of continuing as a line, so large negative inputs give a bounded,
    nearly constant output. ``e^x - 1`` is computed as ``expm1(min(x, 0))``: no overflow for
    large positive ``x`` (that branch is not used there), and full relative accuracy for
    small negative ``x``, where ``exp(x) - 1`` would cancel.

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``, values in ``(-alpha, inf)``

    Example:
        >>> elu(np.array([-2.0, 0.0, 3.0])).round(4)
        array([-0.8647,  0.    ,  3.    ])
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):  # expm1(-1e4) = -1 after an underflow inside: right
        negative = x.dtype.type(alpha) * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, negative)


def elu_grad(x: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    r"""Derivative of :func:`elu`, elementwise.

    .. math:: \frac{d}{dx}\mathrm{ELU}_\alpha(x) = \begin{cases} 1 & x > 0 \\
        \alpha\,e^{x} & x \le 0 \end{cases}

    At ``x = 0`` this returns ``alpha`` (the left derivative), as PyTorch does; for the
    usual ``alpha = 1`` both sides agree and ELU is continuously differentiable.

    Shape:
        - x: any shape ``(*)``
        - output: same shape and dtype as ``x``, values in ``(0, max(1, alpha)]``

    Example:
        >>> elu_grad(np.array([-2.0, 0.0, 3.0])).round(4)
        array([0.1353, 1.    , 1.    ])
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):  # exp(-1e4) rounds to 0: the right answer
        negative = x.dtype.type(alpha) * np.exp(np.minimum(x, 0))
    return np.where(x > 0, x.dtype.type(1), negative)


# math.erfc, elementwise. NumPy has no error function; math.erfc is exact to float64
# rounding, at about 0.1 µs per element in this Python loop: a reference, not a fast kernel.
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    r"""Standard normal CDF :math:`\Phi(x) = \tfrac12 \operatorname{erfc}(-x/\sqrt2)` in
    float64, for ``x`` of any shape.

    ``erfc`` keeps full relative accuracy in the left tail, where the textbook
    ``(1 + erf(x / sqrt 2)) / 2`` cancels to 0 (from ``x < -8``) or to a few correct digits.
    """
    return 0.5 * np.asarray(_erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2)), np.float64)


def gelu(x: ArrayLike) -> np.ndarray:
    r"""Gaussian error linear unit (Hendrycks & Gimpel, 2016), exact form, elementwise.

    .. math:: \mathrm{GELU}(x) = x\,\Phi(x) = \frac{x}{2}\left(1 +
        \operatorname{erf}\frac{x}{\sqrt 2}\right)

    with :math:`\Phi` the standard normal CDF: the input scaled by the probability that a
    standard normal variable is below it. Smooth, not monotonic (its minimum is about
    ``-0.17`` at ``x = -0.75``); the feed-forward activation of BERT and GPT-2. PyTorch's
    ``F.gelu`` default is this exact form; ``approximate="tanh"`` is a cheaper fit to it.

    Computed in float64 as ``x * erfc(-x / sqrt 2) / 2`` (see ``_normal_cdf``): accurate
    in the far left tail too, where ``1 + erf`` would round to 0. A float32 input is
    returned as float32.

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``

    Example:
        >>> gelu(np.array([-2.0, 0.0, 1.0])).round(4)
        array([-0.0455,  0.    ,  0.8413])
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):  # x * Phi(x) of a tiny Phi rounds to 0
        return np.asarray(x * _normal_cdf(x), dtype=x.dtype)


def gelu_grad(x: ArrayLike) -> np.ndarray:
    r"""Derivative of :func:`gelu` (exact form), elementwise.

    .. math:: \frac{d}{dx}\mathrm{GELU}(x) = \Phi(x) + x\,\varphi(x), \qquad
        \varphi(x) = \frac{e^{-x^2/2}}{\sqrt{2\pi}}

    Slightly above 1 for moderate positive ``x`` (at most about 1.13, at ``x = 1.41``), and
    slightly negative for ``x < -0.75``.

    Shape:
        - x: any shape ``(*)``
        - output: same shape and dtype as ``x``

    Example:
        >>> gelu_grad(np.array([-2.0, 0.0, 1.0])).round(4)
        array([-0.0852,  0.5   ,  1.0833])
    """
    x = _as_float_array(x)
    x64 = x.astype(np.float64)
    with np.errstate(under="ignore"):  # exp(-x^2 / 2) of a large |x| rounds to 0: right
        density = np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
        return np.asarray(_normal_cdf(x64) + x64 * density, dtype=x.dtype)


def silu(x: ArrayLike) -> np.ndarray:
    r"""Sigmoid linear unit, also called Swish (Ramachandran et al., 2017), elementwise.

    .. math:: \mathrm{SiLU}(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}

    The input scaled by its own sigmoid: close to ReLU far from 0, smooth and slightly
    negative (minimum about ``-0.28`` at ``x = -1.28``) near it. Used in EfficientNet and,
    as the gate of SwiGLU, in the feed-forward layers of LLaMA. Uses the stable
    :func:`sigmoid`, so nothing overflows.

    Shape:
        - x: any shape ``(*)``
        - output: same shape as ``x``

    Example:
        >>> silu(np.array([-2.0, 0.0, 1.0])).round(4)
        array([-0.2384,  0.    ,  0.7311])
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):  # x times a sigmoid that rounds to ~0
        return np.asarray(x * sigmoid(x))


def silu_grad(x: ArrayLike) -> np.ndarray:
    r"""Derivative of :func:`silu`, elementwise.

    .. math:: \frac{d}{dx}\mathrm{SiLU}(x) = \sigma(x) + x\,\sigma(x)\,(1 - \sigma(x))
        = \sigma(x)\,\bigl(1 + x\,\sigma(-x)\bigr)

    Computed in the second form, with the stable :func:`sigmoid`: no overflow at any ``x``.
    (Unlike in :func:`sigmoid_grad`, the first form would be as accurate: where
    ``1 - sigma(x)`` loses its digits, ``x (1 - sigma(x))`` is negligible next to 1.)

    Shape:
        - x: any shape ``(*)``
        - output: same shape and dtype as ``x``

    Example:
        >>> silu_grad(np.array([-2.0, 0.0, 1.0])).round(4)
        array([-0.0908,  0.5   ,  0.9277])
    """
    x = _as_float_array(x)
    with np.errstate(under="ignore"):  # products of tiny factors round to 0
        return np.asarray(sigmoid(x) * (1 + x * sigmoid(-x)))
