"""Regularisation from scratch: weight decay, dropout, batch norm and early stopping.

A network with many more parameters than training samples can fit the training set
perfectly, noise included, and then generalise badly. Each tool here limits that in its
own way: an L2 penalty keeps the weights small; dropout trains a different random
sub-network at every step, so no unit can rely on a few others; batch norm normalises each
unit's input over the mini-batch, which mostly speeds training up and adds a little noise;
early stopping ends training where the validation loss was lowest and keeps those weights.

===============================================  ==============================================
forward                                          backward / use
===============================================  ==============================================
``l2_penalty(params, lam)``                      ``l2_penalty_backward(params, lam, upstream)``
``dropout_forward(x, p, train, rng)``            ``dropout_backward(cache, upstream)`` -> dx
  -> ``(out, cache)``
``batchnorm_forward(x, gamma, beta,``            ``batchnorm_backward(cache, upstream)``
``running_mean, running_var, train)``            -> ``(dx, dgamma, dbeta)``
  -> ``(out, cache, running_mean, running_var)``
``EarlyStopping(patience, min_delta, mode)``     ``stop = stopper.step(metric, model)``
===============================================  ==============================================

Each follows PyTorch's conventions, checked against it in the tests: ``p`` is dropout's
*drop* probability and the kept units are scaled by ``1 / (1 - p)`` (inverted dropout);
batch norm normalises with the biased batch variance but keeps the unbiased one in its
running average, ``running = (1 - momentum) * running + momentum * batch``; the L2 penalty
``lam / 2 * ||w||^2`` has gradient ``lam * w``, which is what ``weight_decay=lam`` adds in
``torch.optim.SGD``.

Conventions shared by the functions: a float array keeps its dtype, integer and list input
is computed in float64; inputs (running statistics included) are never modified, new arrays
are returned; the backward functions follow the course's contract (CONTRIBUTING.md): the
backward pass of a forward that returns a ``cache`` is ``f_backward(cache, upstream)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike


def _as_float_array(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as an ndarray with a float dtype, without copying float arrays."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


# --- L2 penalty (weight decay) -------------------------------------------------------------


def l2_penalty(params: ArrayLike | Sequence[ArrayLike], lam: float) -> float:
    r"""The L2 penalty of one weight array or of several, to add to the loss.

    .. math:: R(w) = \frac{\lambda}{2} \sum_l \lVert W_l \rVert^2
        = \frac{\lambda}{2} \sum_l \sum_{ij} W_{l,ij}^2

    The factor 1/2 makes the gradient :math:`\lambda W`, so gradient descent on
    ``loss + R`` is

    .. math:: W \leftarrow W - \eta(\nabla L + \lambda W) = (1 - \eta\lambda)\, W
        - \eta \nabla L

    every step first shrinks the weights by the factor :math:`1 - \eta\lambda` ("weight
    decay"), exactly what ``torch.optim.SGD(weight_decay=lam)`` does. Conventions differ:
    without the 1/2 (``lam * ||w||^2``, as Keras's ``l2(lam)``) the gradient is
    :math:`2\lambda W` and the equivalent ``weight_decay`` is ``2 * lam``; Andrew Ng's
    course writes :math:`\frac{\lambda}{2m}` with ``m`` the number of samples. Usually
    only weight matrices are penalised, not biases: pass the weights only.

    Shape:
        - params: one array of any shape, or a sequence of arrays of any shapes
        - output: a Python float, ``>= 0``

    Example:
        >>> l2_penalty([np.array([[3.0, 4.0]]), np.array([1.0])], lam=0.1)  # 0.05 * 26
        1.3
    """
    weights = [params] if isinstance(params, np.ndarray) else params
    return 0.5 * lam * sum(float(np.sum(_as_float_array(w) ** 2)) for w in weights)


def l2_penalty_backward(
    params: ArrayLike | Sequence[ArrayLike], lam: float, upstream: float = 1.0
) -> np.ndarray | list[np.ndarray]:
    r"""Gradient of :func:`l2_penalty` with respect to each weight array.

    .. math:: \frac{\partial (u R)}{\partial W_l} = u\, \lambda\, W_l

    with ``u = upstream``, the gradient of the final loss with respect to the penalty
    (1 when the penalty is added to the loss as it is). ``lam`` gets no gradient.

    Shape:
        - params: one array, or a sequence of arrays
        - output: an array of ``params``' shape and dtype, or a list with one per array

    Example:
        >>> l2_penalty_backward([np.array([[3.0, 4.0]]), np.array([1.0])], lam=0.1)
        [array([[0.3, 0.4]]), array([0.1])]
    """
    if isinstance(params, np.ndarray):
        return (upstream * lam) * _as_float_array(params)
    return [(upstream * lam) * _as_float_array(w) for w in params]


# --- inverted dropout ----------------------------------------------------------------------


def dropout_forward(
    x: ArrayLike, p: float, train: bool, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Inverted dropout: in training, zero each element with probability ``p`` and scale
    the survivors by :math:`1 / (1 - p)`; in evaluation, the identity.

    .. math:: y = \frac{m \odot x}{1 - p}, \quad m_i \sim \mathrm{Bernoulli}(1 - p)
        \quad \text{(train)}, \qquad y = x \quad \text{(eval)}

    ``p`` is the probability of *dropping* a unit, as in ``torch.nn.Dropout(p)`` and
    Keras's ``rate``; the original paper (Srivastava et al., 2014) and Andrew Ng's course
    call the probability of *keeping* it ``p`` or ``keep_prob``. The scaling keeps every
    unit's expected output equal to its input, :math:`E[y_i] = x_i`, so the next layer
    sees the same scale in training and in evaluation and nothing needs rescaling at test
    time (the paper scaled the weights at test time instead). ``p = 1`` drops everything
    (output zeros), like torch.

    Args:
        x: the activations.
        p: drop probability in ``[0, 1]``.
        train: training mode (random mask) or evaluation mode (identity).
        rng: the random generator of the mask; required when ``train``.

    Shape:
        - x: any shape ``(*)``
        - output: ``(out, cache)``; ``out`` of ``x``'s shape and dtype; ``cache`` the
          scaled mask, ``(*)``, with values ``0`` or ``1 / (1 - p)`` (all ones in eval)

    Example:
        >>> out, mask = dropout_forward(np.ones(8), 0.5, True, np.random.default_rng(0))
        >>> out  # survivors doubled: the mean stays 1 in expectation
        array([2., 0., 0., 0., 2., 2., 2., 2.])
        >>> dropout_forward(np.ones(3), 0.5, False)[0]
        array([1., 1., 1.])
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p is a drop probability in [0, 1], got {p}")
    x = _as_float_array(x)
    if not train:
        return x.copy(), np.ones_like(x)
    if rng is None:
        raise ValueError("train=True needs rng, a np.random.Generator, to draw the mask")
    keep = rng.random(x.shape) >= p  # True with probability 1 - p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    mask = (keep * scale).astype(x.dtype)
    return x * mask, mask


def dropout_backward(cache: np.ndarray, upstream: ArrayLike) -> np.ndarray:
    r"""Backward pass of :func:`dropout_forward`: the same scaled mask, applied to the
    gradient.

    .. math:: \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot
        \frac{m}{1 - p}

    A dropped unit passes no gradient back; a kept one passes it scaled by
    :math:`1 / (1 - p)`, like its value.

    Shape:
        - cache: the mask from :func:`dropout_forward`, ``(*)``
        - upstream: ``(*)``
        - output: ``(*)``, the mask's dtype

    Example:
        >>> _, cache = dropout_forward(np.ones(8), 0.5, True, np.random.default_rng(0))
        >>> dropout_backward(cache, np.arange(8.0))
        array([ 0.,  0.,  0.,  0.,  8., 10., 12., 14.])
    """
    upstream = np.asarray(upstream, dtype=cache.dtype)
    if upstream.shape != cache.shape:
        raise ValueError(f"upstream must have x's shape {cache.shape}, got {upstream.shape}")
    return upstream * cache


# --- batch normalisation -------------------------------------------------------------------


def batchnorm_forward(
    x: ArrayLike,
    gamma: ArrayLike,
    beta: ArrayLike,
    running_mean: ArrayLike,
    running_var: ArrayLike,
    train: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, dict[str, Any], np.ndarray, np.ndarray]:
    r"""Batch normalisation of ``(N, D)`` features, as ``torch.nn.BatchNorm1d(D)`` computes it.

    .. math::
        \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta

    In training, :math:`\mu` and :math:`\sigma^2` are the mean and the *biased* variance
    (divided by :math:`N`) of each feature over the batch, and the running statistics move
    towards the batch's:

    .. math::
        \mu_{run} \leftarrow (1 - m)\, \mu_{run} + m\, \mu, \qquad
        \sigma^2_{run} \leftarrow (1 - m)\, \sigma^2_{run} + m\, \frac{N}{N - 1}\sigma^2

    with the *unbiased* variance (divided by :math:`N - 1`) in the running average, and
    :math:`m` = ``momentum`` (the weight of the *new* value: the opposite of an optimiser's
    momentum). In evaluation, the running statistics are used and not changed, so each
    sample's output no longer depends on the rest of its batch.

    Args:
        x: a batch of features.
        gamma, beta: the learned scale and shift, one per feature.
        running_mean, running_var: the running statistics (not modified: new ones are
            returned).
        train: normalise with the batch's statistics and update the running ones
            (needs ``N >= 2``), or with the running ones.
        momentum: the weight of the batch in the running statistics' update.
        eps: added to the variance, inside the square root, as in torch.

    Shape:
        - x: ``(N, D)``; gamma, beta, running_mean, running_var: ``(D,)``
        - output: ``(out, cache, running_mean, running_var)``: ``out (N, D)``, the cache
          for :func:`batchnorm_backward`, and the new running statistics ``(D,)``

    Example:
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
        >>> out, cache, rm, rv = batchnorm_forward(x, np.ones(2), np.zeros(2), np.zeros(2),
        ...                                        np.ones(2), train=True)
        >>> out.round(4)  # each column: mean 0, variance 1 (up to eps)
        array([[-1., -1.],
               [ 1.,  1.]])
        >>> rm, rv  # 0.9 * (0, 1) + 0.1 * (mean, unbiased variance) = (2, 20), (2, 200)
        (array([0.2, 2. ]), array([ 1.1, 20.9]))
    """
    x = _as_float_array(x)
    if x.ndim != 2:
        raise ValueError(f"x must be (N, D), got shape {x.shape}")
    gamma, beta, running_mean, running_var = (
        np.asarray(a, dtype=x.dtype) for a in (gamma, beta, running_mean, running_var)
    )
    n = len(x)
    if train:
        if n < 2:
            raise ValueError("training batch norm needs N >= 2 samples: one has no variance")
        mean, var = x.mean(axis=0), x.var(axis=0)
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
        running_mean, running_var = running_mean.copy(), running_var.copy()
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    cache = {"x_hat": x_hat, "gamma": gamma, "inv_std": inv_std, "train": train}
    return gamma * x_hat + beta, cache, running_mean, running_var


def batchnorm_backward(
    cache: dict[str, Any], upstream: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward pass of :func:`batchnorm_forward`: gradients of ``x``, ``gamma``, ``beta``.

    With :math:`g` = ``upstream`` and :math:`d = \gamma g` (the gradient reaching
    :math:`\hat x`):

    .. math::
        \frac{\partial L}{\partial \beta} = \sum_i g_i, \qquad
        \frac{\partial L}{\partial \gamma} = \sum_i g_i \hat x_i, \qquad
        \frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}
        \Big(d - \overline{d} - \hat x\, \overline{d\, \hat x}\Big) \text{ (train)}

    where a bar is the mean over the batch (axis 0). In training, every output depends on
    the whole batch through :math:`\mu` and :math:`\sigma^2`: the two subtracted terms are
    the gradient flowing through them; they make :math:`\partial L / \partial x` sum to
    zero over the batch and be orthogonal to :math:`\hat x`. In evaluation the statistics
    are constants and :math:`\partial L / \partial x = d / \sqrt{\sigma^2_{run} + \epsilon}`.

    Shape:
        - cache: from :func:`batchnorm_forward`
        - upstream: ``(N, D)``
        - output: ``(dx (N, D), dgamma (D,), dbeta (D,))``

    Example:
        >>> x = np.array([[1.0], [2.0], [4.0]])
        >>> out, cache, _, _ = batchnorm_forward(x, np.ones(1), np.zeros(1), np.zeros(1),
        ...                                      np.ones(1), train=True)
        >>> dx, dgamma, dbeta = batchnorm_backward(cache, np.ones((3, 1)))
        >>> bool(np.allclose(dx, 0)), dbeta  # a uniform upstream moves beta only
        (True, array([3.]))
    """
    x_hat, inv_std = cache["x_hat"], cache["inv_std"]
    g = np.asarray(upstream, dtype=x_hat.dtype)
    if g.shape != x_hat.shape:
        raise ValueError(f"upstream must have the output's shape {x_hat.shape}, got {g.shape}")
    d = cache["gamma"] * g
    if cache["train"]:
        d = d - d.mean(axis=0) - x_hat * (d * x_hat).mean(axis=0)
    return inv_std * d, (g * x_hat).sum(axis=0), g.sum(axis=0)


# --- early stopping ------------------------------------------------------------------------


class _HasStateDict(Protocol):
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state_dict: dict[str, Any]) -> Any: ...


class EarlyStopping:
    """Stop training once a validation metric has not improved for ``patience`` epochs,
    and give the model back its best weights.

    Call :meth:`step` once per epoch (or evaluation point) with the metric and the model.
    An epoch *improves* when the metric beats the best so far by more than ``min_delta``:
    ``metric < best - min_delta`` for ``mode="min"`` (a loss), ``metric > best +
    min_delta`` for ``mode="max"`` (an accuracy); NaN never improves. ``step`` returns
    ``True`` after ``patience`` epochs in a row without improvement; with
    ``restore_best``, it then loads the best epoch's weights into the model, and
    :meth:`restore` does the same when training ends without stopping early.

    The best weights are a *deep copy* of ``model.state_dict()``: the state dict's tensors
    are the live parameters (they share memory), so a saved ``model.state_dict()`` that is
    not copied changes with every later training step, and "restoring" it restores the
    last weights, not the best.

    Args:
        patience: epochs without improvement before stopping, ``>= 1``.
        min_delta: how much better than the best an improvement must be, ``>= 0``.
        mode: ``"min"`` or ``"max"``: whether a lower or a higher metric is better.
        restore_best: keep a copy of the best weights and load it when stopping.

    Attributes:
        best: the best metric so far (``inf`` / ``-inf`` before the first step).
        best_epoch: the 1-based epoch of ``best``, ``None`` until an epoch improves.
        epoch: the number of :meth:`step` calls so far.
        bad_epochs: epochs since the last improvement.
        best_state: the deep copy of the best epoch's ``state_dict()``, or ``None``.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(1, 1)
        >>> stopper = EarlyStopping(patience=2)
        >>> [stopper.step(loss, model) for loss in [1.0, 0.5, 0.6, 0.55]]
        [False, False, False, True]
        >>> stopper.best, stopper.best_epoch  # and the model holds epoch 2's weights
        (0.5, 2)
    """

    def __init__(
        self, patience: int, min_delta: float = 0.0, mode: str = "min", restore_best: bool = True
    ) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.restore_best = restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.epoch = 0
        self.bad_epochs = 0
        self.best_state: dict[str, Any] | None = None

    def improved(self, metric: float) -> bool:
        """Whether ``metric`` beats the best so far by more than ``min_delta``."""
        if self.mode == "min":
            return metric < self.best - self.min_delta
        return metric > self.best + self.min_delta

    def step(self, metric: float, model: _HasStateDict | None = None) -> bool:
        """Record one epoch's ``metric``; return whether to stop training now.

        ``model`` (anything with ``state_dict`` / ``load_state_dict``) is needed with
        ``restore_best``: its weights are copied when the epoch improves, and the best
        copy is loaded back into it when this returns ``True``.
        """
        if self.restore_best and model is None:
            raise ValueError("restore_best=True needs the model: step(metric, model)")
        metric = float(metric)
        self.epoch += 1
        if self.improved(metric):
            self.best, self.best_epoch, self.bad_epochs = metric, self.epoch, 0
            if self.restore_best:
                self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad_epochs += 1
        stop = self.bad_epochs >= self.patience
        if stop and self.restore_best:
            self.restore(model)
        return stop

    def restore(self, model: _HasStateDict) -> None:
        """Load the best epoch's weights into ``model`` (a no-op before any improvement)."""
        if not self.restore_best:
            raise ValueError("restore_best=False: no weights were kept")
        if self.best_state is not None:
            model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        """The counters and the best weights, to save in a checkpoint."""
        keys = ("best", "best_epoch", "epoch", "bad_epochs", "best_state")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (the settings stay this object's own)."""
        for key, value in state.items():
            setattr(self, key, value)
