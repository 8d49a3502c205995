"""Loss functions and their gradients: NumPy reference implementations.

A loss turns a model's outputs and the targets into one number that training pushes down.
Its gradient with respect to the outputs is where backpropagation starts, so the loss
decides what a model is pushed to fix first: squared error weighs a residual by its size
(an outlier dominates), absolute error counts every residual equally, and cross-entropy on
logits pushes a confidently wrong prediction hardest, where sigmoid or softmax followed by
squared error would barely move it (its gradient vanishes as the probability saturates).

=================================================  ==========================================
loss                                               backward (returns dL/dpred or dL/dlogits)
=================================================  ==========================================
``mse(pred, target)``                              ``mse_backward(pred, target, upstream)``
``mae(pred, target)``                              ``mae_backward(pred, target, upstream)``
``huber(pred, target, delta=1.0)``                 ``huber_backward(pred, target, upstream,
                                                   delta)``
``bce_with_logits(z, y)``                          ``bce_with_logits_backward(z, y, upstream)``
``cross_entropy(logits, labels, weight=None,       ``cross_entropy_backward(logits, labels,
label_smoothing=0.0)``                             upstream, weight, label_smoothing)``
=================================================  ==========================================

Every function takes ``reduction="mean" | "sum" | "none"``, as ``torch.nn.functional``
does. ``"none"`` returns the loss of every element (every sample for cross-entropy);
``"sum"`` adds them; ``"mean"`` divides that sum by

* the number of ELEMENTS for ``mse``, ``mae``, ``huber`` and ``bce_with_logits``: ``N * K``
  for targets of shape ``(N, K)``, not ``N`` (torch's convention);
* the number of SAMPLES ``N`` for ``cross_entropy``, or, with class weights, the sum of the
  weights of the samples' true classes (torch's convention again).

The backward contract (CONTRIBUTING.md): ``f_backward(inputs..., upstream, options...)``
returns the gradient of the loss with respect to the prediction (or the logits), with its
shape. ``upstream`` is ``dL/d(loss)``: a scalar for ``"mean"`` and ``"sum"`` (default
``1.0``, the loss itself is being minimised), an array of the loss's shape for ``"none"``.
Targets are data: no gradient is returned for them.

Conventions shared by every function: ``pred`` (or ``z``, ``logits``) keeps a float dtype
(float32 in, float32 out), anything else is computed in float64, and the target is cast to
that dtype. Inputs are never modified. ``pred`` and ``target`` must have the same shape: a
``(N, 1)`` prediction against ``(N,)`` targets would otherwise broadcast to ``(N, N)`` and
give a wrong loss silently. Results are finite and warning-free for logits up to ``1e4``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dl_helpers.activations import _as_float_array, log_softmax, sigmoid, softmax

REDUCTIONS = ("mean", "sum", "none")


def _pair(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` as a float array and ``target`` in its dtype; their shapes must agree."""
    pred = _as_float_array(pred)
    target = np.asarray(target, dtype=pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(
            f"pred has shape {pred.shape} but target has shape {target.shape}; they must "
            "agree (reshape one of them: broadcasting would pair every pred with every target)"
        )
    return pred, target


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(losses: np.ndarray, reduction: str, count: float | None = None) -> np.ndarray:
    """Apply ``reduction`` to per-element ``losses``; ``"mean"`` divides their sum by
    ``count`` (default: the number of elements)."""
    _check_reduction(reduction)
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / (losses.size if count is None else count), dtype=losses.dtype)


def _scale(
    upstream: ArrayLike,
    reduction: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    count: float | None = None,
) -> np.ndarray:
    """``dL/d(per-element loss)``: what each element's local gradient is multiplied by.

    ``"none"``: ``upstream`` itself (one value per element, shape ``shape``); ``"sum"``: the
    scalar ``upstream`` for every element; ``"mean"``: ``upstream / count`` (default: the
    number of elements), as :func:`_reduce` divided the sum.
    """
    _check_reduction(reduction)
    g = np.asarray(upstream, dtype=dtype)
    if reduction == "none":
        if g.shape != shape:
            raise ValueError(
                f"with reduction='none', upstream must have shape {shape}, got {g.shape}"
            )
        return g
    if g.shape != ():
        raise ValueError(
            f"with reduction={reduction!r} the loss is a scalar, so upstream "
            f"must be a scalar, got shape {g.shape}"
        )
    n = int(np.prod(shape)) if count is None else count
    return g if reduction == "sum" else np.asarray(g / n, dtype=dtype)


# --- regression losses -------------------------------------------------------------------


def mse(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    r"""Mean squared error, as ``torch.nn.functional.mse_loss``.

    .. math:: \ell_i = (\hat y_i - y_i)^2, \qquad
        L_{\text{mean}} = \frac{1}{n} \sum_i \ell_i \quad (n = \text{number of elements})

    Shape:
        - pred: any shape ``(*)``
        - target: same shape as ``pred``
        - output: ``()`` for ``"mean"`` and ``"sum"``, ``pred``'s shape for ``"none"``

    Example:
        >>> mse(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 1.0]))  # (0 + 1 + 9) / 3
        array(3.33333333)
    """
    pred, target = _pair(pred, target)
    return _reduce((pred - target) ** 2, reduction)


def mse_backward(
    pred: ArrayLike, target: ArrayLike, upstream: ArrayLike = 1.0, reduction: str = "mean"
) -> np.ndarray:
    r"""Gradient of :func:`mse` with respect to ``pred``.

    .. math:: \frac{\partial L_{\text{mean}}}{\partial \hat y_i} = \frac{2(\hat y_i - y_i)}{n}

    Shape:
        - pred, target: any shape ``(*)``, the same
        - upstream: ``()`` for ``"mean"`` and ``"sum"``, ``pred``'s shape for ``"none"``
        - output: ``pred``'s shape

    Example:
        >>> mse_backward(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 1.0]))
        array([0.        , 0.66666667, 2.        ])
    """
    pred, target = _pair(pred, target)
    return 2 * (pred - target) * _scale(upstream, reduction, pred.shape, pred.dtype)


def mae(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    r"""Mean absolute error, as ``torch.nn.functional.l1_loss``.

    .. math:: \ell_i = |\hat y_i - y_i|

    Shape:
        - pred: any shape ``(*)``
        - target: same shape as ``pred``
        - output: ``()`` for ``"mean"`` and ``"sum"``, ``pred``'s shape for ``"none"``

    Example:
        >>> mae(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 1.0]))  # (0 + 1 + 3) / 3
        array(1.33333333)
    """
    pred, target = _pair(pred, target)
    return _reduce(np.abs(pred - target), reduction)


def mae_backward(
    pred: ArrayLike, target: ArrayLike, upstream: ArrayLike = 1.0, reduction: str = "mean"
) -> np.ndarray:
    r"""Gradient of :func:`mae` with respect to ``pred``.

    .. math:: \frac{\partial L_{\text{mean}}}{\partial \hat y_i}
        = \frac{\operatorname{sign}(\hat y_i - y_i)}{n}

    The same size for every residual, large or small: one outlier pulls no harder than any
    other point. At ``pred == target`` it returns 0 (``sign(0)``), as PyTorch does.

    Shape:
        - pred, target: any shape ``(*)``, the same
        - upstream: ``()`` for ``"mean"`` and ``"sum"``, ``pred``'s shape for ``"none"``
        - output: ``pred``'s shape

    Example:
        >>> mae_backward(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 1.0]))
        array([0.        , 0.33333333, 0.33333333])
    """
    pred, target = _pair(pred, target)
    return np.sign(pred - target) * _scale(upstream, reduction, pred.shape, pred.dtype)


def huber(
    pred: ArrayLike, target: ArrayLike, delta: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    r"""Huber loss, as ``torch.nn.functional.huber_loss``: squared near 0, linear beyond.

    .. math:: \ell_i = \begin{cases} \tfrac12 r_i^2 & |r_i| \le \delta \\
        \delta\,(|r_i| - \tfrac12 \delta) & |r_i| > \delta \end{cases}
        \qquad r_i = \hat y_i - y_i

    Both pieces and their slopes agree at ``|r| = delta``. Small residuals are treated as by
    MSE (halved), large ones as by MAE (times ``delta``), so outliers cannot dominate.

    PyTorch has two versions that differ by a factor: ``HuberLoss(delta)`` is this one, and
    ``SmoothL1Loss(beta)`` divides it by ``beta``:
    ``huber_loss(p, t, delta=d) == d * smooth_l1_loss(p, t, beta=d)``. They coincide only
    for ``delta = beta = 1``.

    Shape:
        - pred: any shape ``(*)``
        - target: same shape as ``pred``
        - output: ``()`` for ``"mean"`` and ``"sum"``, ``pred``'s shape for ``"none"``

    Example:
        >>> huber(np.array([0.5, 3.0]), np.zeros(2), reduction="none")  # 0.125; 1 * (3 - 0.5)
        array([0.125, 2.5  ])
    """
    if delta <= 0:
        raise ValueError(f"delta must be positive, got {delta}")
    pred, target = _pair(pred, target)
    r = np.abs(pred - target)
    return _reduce(np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta)), reduction)


def huber_backward(
    pred: ArrayLike,
    target: ArrayLike,
    upstream: ArrayLike = 1.0,
    delta: float = 1.0,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Gradient of :func:`huber` with respect to ``pred``: the residual, clipped.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i} = \operatorname{clip}(r_i, -\delta, \delta)

    Shape:
        - pred, target: any shape ``(*)``, the same
        - upstream: ``()`` for ``"mean"`` and ``"sum"``, ``pred``'s shape for ``"none"``
        - output: ``pred``'s shape

    Example:
        >>> huber_backward(np.array([0.5, 3.0]), np.zeros(2), reduction="sum")
        array([0.5, 1. ])
    """
    if delta <= 0:
        raise ValueError(f"delta must be positive, got {delta}")
    pred, target = _pair(pred, target)
    local = np.clip(pred - target, -delta, delta)
    return local * _scale(upstream, reduction, pred.shape, pred.dtype)


# --- classification losses: from logits --------------------------------------------------


def bce_with_logits(z: ArrayLike, y: ArrayLike, reduction: str = "mean") -> np.ndarray:
    r"""Binary cross-entropy of ``sigmoid(z)`` against ``y``, computed from the logits ``z``.

    As ``torch.nn.functional.binary_cross_entropy_with_logits``:

    .. math:: \ell_i = -y_i \log\sigma(z_i) - (1 - y_i)\log(1 - \sigma(z_i))
        = \max(z_i, 0) - z_i y_i + \log\!\left(1 + e^{-|z_i|}\right)

    The right-hand form is exact and stable: ``e^{-|z|}`` lies in ``(0, 1]``, so nothing
    overflows, and no probability is rounded to 0 or 1 before its logarithm is taken
    (``log(sigmoid(-1e4))`` would be ``-inf``; here the loss is ``1e4``, as it should).
    ``y`` may be soft (any value in ``[0, 1]``); one column per label for multi-label data.

    Shape:
        - z: any shape ``(*)``, e.g. ``(N,)`` or ``(N, K)`` for ``K`` independent labels
        - y: same shape as ``z``
        - output: ``()`` for ``"mean"`` and ``"sum"``, ``z``'s shape for ``"none"``

    Example:
        >>> bce_with_logits(np.array([0.0, 2.0, -1e4]), np.array([1.0, 1.0, 1.0]),
        ...                 reduction="none").round(4)
        array([6.931e-01, 1.269e-01, 1.000e+04])
    """
    z, y = _pair(z, y)
    with np.errstate(under="ignore"):  # exp(-1e4) rounds to 0: log1p(0) = 0 is right
        losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return _reduce(losses, reduction)


def bce_with_logits_backward(
    z: ArrayLike, y: ArrayLike, upstream: ArrayLike = 1.0, reduction: str = "mean"
) -> np.ndarray:
    r"""Gradient of :func:`bce_with_logits` with respect to the logits ``z``.

    .. math:: \frac{\partial \ell_i}{\partial z_i} = \sigma(z_i) - y_i

    Prediction minus target: about ``-1`` for a confidently wrong ``z = -10, y = 1``, where
    ``mse(sigmoid(z), y)`` has the gradient ``2 (sigma - 1) sigma'(z)``, about ``-9e-5``.

    Shape:
        - z, y: any shape ``(*)``, the same
        - upstream: ``()`` for ``"mean"`` and ``"sum"``, ``z``'s shape for ``"none"``
        - output: ``z``'s shape

    Example:
        >>> bce_with_logits_backward(np.array([0.0, -10.0]), np.array([1.0, 1.0]),
        ...                          reduction="sum").round(5)
        array([-0.5    , -0.99995])
    """
    z, y = _pair(z, y)
    return (sigmoid(z) - y) * _scale(upstream, reduction, z.shape, z.dtype)


def _class_targets(
    logits: ArrayLike, labels: ArrayLike, weight: ArrayLike | None, label_smoothing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check cross-entropy's inputs; return ``(logits, a, w_true)``.

    ``a: (N, C)`` holds the coefficient of ``-log p_ic`` in sample ``i``'s loss:
    ``(1 - eps) w_{y_i}`` on the true class plus ``eps w_c / C`` on every class ``c``.
    ``w_true: (N,)`` holds the weight of each sample's true class (all ones without
    ``weight``): their sum divides the loss for ``reduction="mean"``.
    """
    logits = _as_float_array(logits)
    labels = np.asarray(labels)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {logits.shape}")
    n, c = logits.shape
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (n,):
        raise ValueError(
            f"labels must be {n} integer class indices, shape ({n},), got shape {labels.shape} "
            f"of dtype {labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        raise ValueError(
            f"labels must lie in [0, {c}), got values from {labels.min()} to {labels.max()}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    w = np.ones(c, dtype=logits.dtype) if weight is None else np.asarray(weight, logits.dtype)
    if w.shape != (c,):
        raise ValueError(f"weight must hold one value per class, shape ({c},), got {w.shape}")
    onehot = np.zeros_like(logits)
    onehot[np.arange(n), labels] = 1
    a = (1 - label_smoothing) * onehot * w + label_smoothing / c * w
    return logits, a, w[labels]


def cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    weight: ArrayLike | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Softmax cross-entropy from logits and class indices, as ``F.cross_entropy``.

    .. math:: \ell_i = -\log \mathrm{softmax}(z_i)_{y_i}
        = \log\sum_c e^{z_{ic} - m_i} - (z_{i y_i} - m_i), \quad m_i = \max_c z_{ic}

    The log-sum-exp form (:func:`~dl_helpers.activations.log_softmax`) never exponentiates
    a positive number and never takes the log of a probability that rounded to 0.

    ``weight: (C,)`` multiplies the loss of a sample by the weight of its true class, and
    ``"mean"`` then divides by the sum of those weights (not by ``N``), so it stays a
    weighted average. ``label_smoothing = eps`` replaces the one-hot target by
    ``(1 - eps) onehot + eps / C``; with weights, each class's term keeps its own weight:

    .. math:: \ell_i = -(1 - \varepsilon)\, w_{y_i} \log p_{i y_i}
        - \frac{\varepsilon}{C} \sum_c w_c \log p_{ic}

    Shape:
        - logits: ``(N, C)``
        - labels: ``(N,)`` integers in ``[0, C)``
        - weight: ``(C,)`` or ``None``
        - output: ``()`` for ``"mean"`` and ``"sum"``, ``(N,)`` for ``"none"``

    Example:
        >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        >>> cross_entropy(logits, np.array([0, 2]), reduction="none").round(4)  # log 3
        array([0.2395, 1.0986])
        >>> cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))  # finite, not inf
        array(20000.)
    """
    logits, a, w_true = _class_targets(logits, labels, weight, label_smoothing)
    losses = -(a * log_softmax(logits, axis=1)).sum(axis=1)
    return _reduce(losses, reduction, count=w_true.sum())


def cross_entropy_backward(
    logits: ArrayLike,
    labels: ArrayLike,
    upstream: ArrayLike = 1.0,
    weight: ArrayLike | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to the logits.

    Without weights or smoothing, softmax minus one-hot, divided by ``N`` for the mean:

    .. math:: \frac{\partial L_{\text{mean}}}{\partial z_{ic}}
        = \frac{\mathrm{softmax}(z_i)_c - [c = y_i]}{N}

    In general, with ``a_ic`` the coefficient of ``-log p_ic`` (see :func:`cross_entropy`),
    ``d ell_i / d z_ic = p_ic sum_k a_ik - a_ic``.

    Shape:
        - logits: ``(N, C)``
        - labels: ``(N,)`` integers in ``[0, C)``
        - upstream: ``()`` for ``"mean"`` and ``"sum"``, ``(N,)`` for ``"none"``
        - output: ``(N, C)``

    Example:
        >>> cross_entropy_backward(np.zeros((2, 2)), np.array([0, 1]))  # (0.5 - onehot) / 2
        array([[-0.25,  0.25],
               [ 0.25, -0.25]])
    """
    logits, a, w_true = _class_targets(logits, labels, weight, label_smoothing)
    local = softmax(logits, axis=1) * a.sum(axis=1, keepdims=True) - a
    g = _scale(upstream, reduction, w_true.shape, logits.dtype, count=w_true.sum())
    return local * (g[:, None] if reduction == "none" else g)
