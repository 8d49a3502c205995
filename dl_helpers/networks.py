"""A neural network from scratch: neuron, dense layer, MLP forward and backward, costs.

A neuron computes a weighted sum of its inputs plus a bias and passes it through an
activation. A dense layer is many neurons reading the same input: one matrix product. A
multi-layer perceptron (MLP) stacks dense layers with an activation between them; without
the activations the stack would collapse to a single affine map (see
:mod:`dl_helpers.activations`). Training needs the gradient of the loss with respect to
every weight: the backward pass applies the chain rule layer by layer, from the output down,
reusing what the forward pass cached.

=============================================  ============================================
function                                       does
=============================================  ============================================
``neuron_forward(x, w, b, activation)``        ``f(x @ w + b)``: one unit
``dense_forward(x, W, b)``                     ``x @ W + b``: a layer of units
``dense_backward(x, W, b, upstream)``          ``(dx, dW, db)``
``mlp_forward(x, params, activation)``         ``(output, cache)``; last layer linear
``mlp_backward(cache, upstream)``              ``[(dW, db), ...]`` for every layer
``count_params(layer_sizes)``                  weights + biases
``count_flops(layer_sizes)``                   multiply-adds per example (forward pass)
``train_step(params, x, y, lr)``               one gradient-descent step, sigmoid + BCE
=============================================  ============================================

Conventions. Samples are rows: ``x: (N, D)``. A layer's weights are stored input-major,
``W: (D_in, D_out)``, so a layer is ``x @ W + b`` (``torch.nn.Linear`` stores the transpose,
``weight: (D_out, D_in)``, and computes ``x @ weight.T + bias``). An MLP's parameters are a
list of ``(W, b)`` pairs, first layer first; the layer sizes ``[D, H1, ..., K]`` list the
input width first. Activations are named: ``"tanh"``, ``"sigmoid"``, ``"relu"`` or
``"identity"`` (no activation). Float arrays keep their dtype, anything else is computed in
float64, and inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from dl_helpers import activations as act
from dl_helpers.losses import bce_with_logits, bce_with_logits_backward

Params = Sequence[tuple[ArrayLike, ArrayLike]]


def _identity(x: ArrayLike) -> np.ndarray:
    return act._as_float_array(x).copy()


def _identity_grad(x: ArrayLike) -> np.ndarray:
    return np.ones_like(act._as_float_array(x))


#: name -> (activation, its elementwise derivative)
ACTIVATIONS: dict[str, tuple[Callable[[ArrayLike], np.ndarray], ...]] = {
    "tanh": (act.tanh, act.tanh_grad),
    "sigmoid": (act.sigmoid, act.sigmoid_grad),
    "relu": (act.relu, act.relu_grad),
    "identity": (_identity, _identity_grad),
}


def _activation(name: str) -> tuple[Callable[[ArrayLike], np.ndarray], ...]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def neuron_forward(x: ArrayLike, w: ArrayLike, b: float, activation: str = "tanh") -> np.ndarray:
    r"""One neuron: a weighted sum of the inputs plus a bias, through an activation.

    .. math:: y = f\Big(\sum_{d} x_d w_d + b\Big) = f(x \cdot w + b)

    Shape:
        - x: ``(D,)`` one example, or ``(N, D)`` a batch
        - w: ``(D,)``
        - b: a scalar
        - output: ``()`` for one example, ``(N,)`` for a batch

    Example:
        >>> neuron_forward(np.array([1.0, 2.0]), np.array([0.5, -0.25]), 0.1, "relu")
        array(0.1)
        >>> neuron_forward(np.array([[1.0, 2.0], [2.0, 0.0]]), np.array([0.5, -0.25]), 0.1,
        ...                "identity")
        array([0.1, 1.1])
    """
    x, w = act._as_float_array(x), act._as_float_array(w)
    if w.ndim != 1 or x.ndim not in (1, 2) or x.shape[-1] != w.shape[0]:
        raise ValueError(f"x must be (D,) or (N, D) and w (D,); got x {x.shape}, w {w.shape}")
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a scalar (one bias per neuron), got shape {np.shape(b)}")
    f, _ = _activation(activation)
    return f(x @ w + b)


def dense_forward(x: ArrayLike, W: ArrayLike, b: ArrayLike) -> np.ndarray:
    r"""A dense (fully connected) layer: ``D_out`` neurons reading the same input.

    .. math:: Y = X W + b, \qquad Y_{nj} = \sum_i X_{ni} W_{ij} + b_j

    Column ``j`` of ``W`` is the weight vector of neuron ``j``; ``b`` is added to every row.

    Shape:
        - x: ``(N, D_in)``
        - W: ``(D_in, D_out)``
        - b: ``(D_out,)``
        - output: ``(N, D_out)``

    Example:
        >>> dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]]),
        ...               np.array([0.0, 0.5, 0.0]))
        array([[1. , 2.5, 1. ]])
    """
    x, W, b = act._as_float_array(x), act._as_float_array(W), act._as_float_array(b)
    if x.ndim != 2 or W.ndim != 2 or x.shape[1] != W.shape[0] or b.shape != (W.shape[1],):
        raise ValueError(
            f"need x (N, D_in), W (D_in, D_out), b (D_out,); got x {x.shape}, W {W.shape}, "
            f"b {b.shape} (one example x of shape (D,) is x[None, :])"
        )
    # OpenBLAS's float32 kernels now and then raise the floating-point "invalid" flag for
    # finite inputs (a SIMD lane past the data), and NumPy reports it as a RuntimeWarning
    # that depends on the machine; a real NaN or inf still shows in the result.
    with np.errstate(invalid="ignore"):
        return x @ W + b


def dense_backward(
    x: ArrayLike, W: ArrayLike, b: ArrayLike, upstream: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward pass of :func:`dense_forward`: ``(dL/dx, dL/dW, dL/db)``.

    With ``G = upstream = dL/dY``:

    .. math:: \frac{\partial L}{\partial X} = G W^\top, \qquad
        \frac{\partial L}{\partial W} = X^\top G, \qquad
        \frac{\partial L}{\partial b} = \sum_n G_{n,:}

    ``b`` was added to every row, so its gradient sums over the rows; each gradient has the
    shape of what it is the gradient of.

    Shape:
        - x: ``(N, D_in)``, W: ``(D_in, D_out)``, b: ``(D_out,)``
        - upstream: ``(N, D_out)``
        - output: ``(dx (N, D_in), dW (D_in, D_out), db (D_out,))``

    Example:
        >>> dx, dW, db = dense_backward(np.array([[1.0, 2.0]]), np.eye(2), np.zeros(2),
        ...                             np.array([[1.0, -1.0]]))
        >>> dx, dW, db
        (array([[ 1., -1.]]), array([[ 1., -1.],
               [ 2., -2.]]), array([ 1., -1.]))
    """
    y = dense_forward(x, W, b)  # checks the shapes
    x, W = act._as_float_array(x), act._as_float_array(W)
    g = np.asarray(upstream, dtype=y.dtype)
    if g.shape != y.shape:
        raise ValueError(f"upstream must have the output's shape {y.shape}, got {g.shape}")
    return g @ W.T, x.T @ g, g.sum(axis=0)


class MLPCache(NamedTuple):
    """What :func:`mlp_forward` keeps for :func:`mlp_backward`.

    Attributes:
        inputs: the input of every layer: ``x``, then each hidden layer's output.
        pre_activations: every layer's ``z = a @ W + b``, before its activation.
        params: the ``(W, b)`` pairs, as given.
        activation: the hidden layers' activation name.
    """

    inputs: list[np.ndarray]
    pre_activations: list[np.ndarray]
    params: list[tuple[np.ndarray, np.ndarray]]
    activation: str


def mlp_forward(
    x: ArrayLike, params: Params, activation: str = "tanh"
) -> tuple[np.ndarray, MLPCache]:
    r"""Forward pass of an MLP: dense layers with ``activation`` between them.

    .. math:: a_0 = x, \quad z_l = a_{l-1} W_l + b_l, \quad a_l = f(z_l) \ (l < L),
        \quad \text{output} = z_L

    The last layer is linear: its outputs are logits (or regression values), and the loss
    applies sigmoid or softmax itself, stably.

    Args:
        x: the inputs.
        params: ``[(W_1, b_1), ..., (W_L, b_L)]``, first layer first.
        activation: ``"tanh"``, ``"sigmoid"``, ``"relu"`` or ``"identity"``.

    Shape:
        - x: ``(N, D)``
        - params: ``W_l: (D_{l-1}, D_l)``, ``b_l: (D_l,)`` with ``D_0 = D``
        - output: ``((N, D_L), cache)``

    Example:
        >>> params = [(np.array([[1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))]
        >>> out, cache = mlp_forward(np.array([[2.0]]), params, "relu")  # relu(2) + relu(-2)
        >>> out
        array([[2.]])
    """
    f, _ = _activation(activation)
    if len(params) == 0:
        raise ValueError("params must hold at least one (W, b) layer")
    a = act._as_float_array(x)
    inputs, pre_activations = [], []
    for layer, (W, b) in enumerate(params, start=1):
        inputs.append(a)
        z = dense_forward(a, W, b)
        pre_activations.append(z)
        a = z if layer == len(params) else f(z)
    kept = [(act._as_float_array(W), act._as_float_array(b)) for W, b in params]
    return a, MLPCache(inputs, pre_activations, kept, activation)


def mlp_backward(cache: MLPCache, upstream: ArrayLike) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Backward pass of :func:`mlp_forward`: the gradient of every ``(W, b)``.

    Starting from ``g = upstream = dL/d(output)``, for ``l = L, ..., 1``:

    .. math:: g \leftarrow g \odot f'(z_l) \ (l < L), \quad
        \frac{\partial L}{\partial W_l} = a_{l-1}^\top g, \quad
        \frac{\partial L}{\partial b_l} = \textstyle\sum_n g_{n,:}, \quad
        g \leftarrow g W_l^\top

    The gradient with respect to ``x`` (the data) is not returned.

    Shape:
        - upstream: the output's shape, ``(N, D_L)``
        - output: ``[(dW_1, db_1), ..., (dW_L, db_L)]``, each the shape of its parameter

    Example:
        >>> params = [(np.array([[1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))]
        >>> out, cache = mlp_forward(np.array([[2.0]]), params, "relu")
        >>> (dW1, db1), (dW2, db2) = mlp_backward(cache, np.ones((1, 1)))
        >>> dW1, dW2.ravel()  # the unit with z = -2 is off: no gradient
        (array([[2., 0.]]), array([2., 0.]))
    """
    _, f_grad = _activation(cache.activation)
    g = np.asarray(upstream, dtype=cache.pre_activations[-1].dtype)
    grads = []
    for layer in reversed(range(len(cache.params))):
        if layer < len(cache.params) - 1:
            g = g * f_grad(cache.pre_activations[layer])
        W, b = cache.params[layer]
        g, dW, db = dense_backward(cache.inputs[layer], W, b, g)
        grads.append((dW, db))
    return grads[::-1]


def _check_sizes(layer_sizes: Sequence[int]) -> list[int]:
    sizes = list(layer_sizes)
    if len(sizes) < 2 or any(not isinstance(s, int | np.integer) or s < 1 for s in sizes):
        raise ValueError(f"layer_sizes must be two or more positive integers, got {sizes}")
    return [int(s) for s in sizes]


def count_params(layer_sizes: Sequence[int]) -> int:
    r"""Number of parameters of an MLP with these layer widths: weights plus biases.

    .. math:: P = \sum_{l=1}^{L} (D_{l-1} D_l + D_l)

    Example:
        >>> count_params([2, 16, 16, 1])  # (2*16 + 16) + (16*16 + 16) + (16*1 + 1)
        337
    """
    return sum(d_in * d_out + d_out for d_in, d_out in pairwise(_check_sizes(layer_sizes)))


def count_flops(layer_sizes: Sequence[int]) -> int:
    r"""Multiply-adds of one example's forward pass through an MLP with these widths.

    .. math:: \text{MACs} = \sum_{l=1}^{L} D_{l-1} D_l

    Convention: one multiply-add (``acc += x * w``) counts as ONE operation, as in most
    papers' "FLOPs" and in fvcore; ``torch.utils.flop_counter`` counts a multiply and an
    add separately, so it reports twice this. Bias additions and activations are left out:
    they cost ``D_l`` per layer against ``D_{l-1} D_l`` for the product. A batch of ``N``
    examples costs ``N`` times this; the backward pass costs about twice the forward.

    Example:
        >>> count_flops([2, 16, 16, 1])  # 2*16 + 16*16 + 16*1
        304
    """
    return sum(d_in * d_out for d_in, d_out in pairwise(_check_sizes(layer_sizes)))


def train_step(
    params: Params, x: ArrayLike, y: ArrayLike, lr: float
) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    r"""One gradient-descent step of a tanh MLP with one output trained by sigmoid + BCE.

    The model of notebook 00 (one hidden layer, any number works): ``z = mlp_forward(x,
    params, "tanh")[0][:, 0]`` are logits, ``p = sigmoid(z)`` the probabilities of class 1,
    and the loss is the mean binary cross-entropy
    (:func:`~dl_helpers.losses.bce_with_logits`), whose gradient with respect to ``z`` is
    ``(sigmoid(z) - y) / N``. Every parameter moves against its gradient:

    .. math:: \theta \leftarrow \theta - \text{lr}\, \frac{\partial L}{\partial \theta}

    Args:
        params: ``[(W1, b1), (W2, b2)]``; the last layer has one output.
        x: the inputs.
        y: labels in ``{0, 1}``.
        lr: the learning rate.

    Returns:
        ``(new_params, loss)``: new arrays (``params`` is not modified) and the loss
        BEFORE the step, a Python float.

    Shape:
        - x: ``(N, D)``; y: ``(N,)``
        - params: ``W1: (D, H)``, ``b1: (H,)``, ``W2: (H, 1)``, ``b2: (1,)``

    Example:
        >>> params = [(np.array([[1.0]]), np.zeros(1)), (np.array([[1.0]]), np.zeros(1))]
        >>> new, loss = train_step(params, np.array([[0.0]]), np.array([1.0]), lr=1.0)
        >>> round(loss, 4), new[1][1]  # log 2; b2 moves by -(sigmoid(0) - 1) = +0.5
        (0.6931, array([0.5]))
    """
    out, cache = mlp_forward(x, params, "tanh")
    if out.shape[1] != 1:
        raise ValueError(f"the last layer must have one output (a logit), got {out.shape[1]}")
    z = out[:, 0]
    loss = float(bce_with_logits(z, y))
    dz = bce_with_logits_backward(z, y)  # (sigmoid(z) - y) / N
    grads = mlp_backward(cache, dz[:, None])
    new = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(cache.params, grads, strict=True)]
    return new, loss
