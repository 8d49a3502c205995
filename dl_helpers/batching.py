"""Mini-batches and epochs: which rows each update sees, and how noisy its gradient is.

An EPOCH is one pass over the ``N`` training rows; a MINI-BATCH is the ``B`` rows one update
is computed from. Shuffling once per epoch and cutting the permutation into consecutive
batches shows every row exactly once per epoch, in ``ceil(N / B)`` updates (the last batch
smaller when ``B`` does not divide ``N``, unless it is dropped). A mini-batch gradient is a
sample mean: it points the right way on average, with an error whose mean square falls as
``1 / B``. Smaller batches give more, noisier updates per epoch; larger ones fewer, cleaner
and (on parallel hardware) cheaper per row.

==================================================  ========================================
function                                            does
==================================================  ========================================
``minibatch_indices(N, B, shuffle, rng,             one epoch's batches of row indices
drop_last)``
``num_updates(N, B, epochs, drop_last)``            optimiser steps in ``epochs`` epochs
``gradient_noise(grad_fn, params, X, y, B,          Monte Carlo estimate of
draws, rng, replace)``                              ``E ||g_B - g||^2``
``gradient_noise_exact(per_example_grads, B,        the same, exactly, from every
replace)``                                          example's gradient
==================================================  ========================================

Training for several epochs and recording per-epoch history is :func:`dl_helpers.training.fit`
with ``epochs=E, batch_size=B``: it draws a fresh permutation per epoch and cuts it as
:func:`minibatch_indices` does, and its ``History`` has one entry per epoch (``eval_step``
counts the updates so far).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


def _check_sizes(N: int, B: int) -> None:
    for name, value in (("N", N), ("B", B)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def minibatch_indices(
    N: int,
    B: int,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> list[np.ndarray]:
    r"""One epoch of mini-batches: the row indices of each batch, in order.

    With ``shuffle``, a random permutation of ``0..N-1`` (drawn from ``rng``) is cut into
    consecutive pieces of ``B``; without, ``0..N-1`` in order, as
    ``torch.utils.data.DataLoader(range(N), batch_size=B, shuffle=False)`` gives them. The
    last batch has ``N mod B`` rows when ``B`` does not divide ``N``; ``drop_last=True``
    leaves it out, so every batch has exactly ``B`` rows and ``N mod B`` rows are skipped
    this epoch (different ones each epoch when shuffling).

    Args:
        N: number of rows.
        B: batch size; ``B > N`` gives one batch of all rows (none with ``drop_last``).
        shuffle: permute the rows first.
        rng: a ``np.random.Generator`` (advanced by the call, so successive epochs get
            different orders), a seed, or ``None`` for fresh entropy. Ignored without
            ``shuffle``.
        drop_last: leave out a last batch smaller than ``B``.

    Returns:
        ``ceil(N / B)`` arrays (``floor(N / B)`` with ``drop_last``) of int64 indices.
        Without ``drop_last`` every index in ``0..N-1`` appears exactly once.

    Shape:
        - output: a list of ``(B,)`` arrays, the last one ``(N mod B,)`` when that is not 0

    Example:
        >>> minibatch_indices(5, 2, shuffle=False)
        [array([0, 1]), array([2, 3]), array([4])]
        >>> [len(b) for b in minibatch_indices(10, 4, rng=0, drop_last=True)]
        [4, 4]
    """
    _check_sizes(N, B)
    order = np.random.default_rng(rng).permutation(N) if shuffle else np.arange(N)
    stop = N - N % B if drop_last else N
    return [order[start : start + B] for start in range(0, stop, B)]


def num_updates(N: int, B: int, epochs: int, drop_last: bool = False) -> int:
    r"""Optimiser steps in ``epochs`` epochs of batches of ``B`` rows out of ``N``.

    .. math:: \text{updates} = \text{epochs} \cdot \lceil N / B \rceil
        \quad (\lfloor N / B \rfloor \text{ with drop\_last})

    Example:
        >>> num_updates(1000, 64, epochs=10), num_updates(1000, 64, epochs=10, drop_last=True)
        (160, 150)
    """
    _check_sizes(N, B)
    if not isinstance(epochs, int | np.integer) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    return int(epochs) * (N // B if drop_last else -(-N // B))


def gradient_noise(
    grad_fn: Callable[[object, np.ndarray, np.ndarray], ArrayLike],
    params: object,
    X: np.ndarray,
    y: np.ndarray,
    B: int,
    draws: int,
    rng: np.random.Generator | int | None = None,
    replace: bool = False,
) -> float:
    r"""Monte Carlo estimate of the mini-batch gradient's mean squared error at ``params``.

    .. math:: \widehat{E}\,\|g_B - g\|^2 = \frac{1}{\text{draws}} \sum_{k=1}^{\text{draws}}
        \|g_{B_k} - g\|^2

    where ``g = grad_fn(params, X, y)`` is the full-batch gradient and ``g_{B_k}`` the
    gradient on ``B`` rows drawn at random, independently for each ``k`` (without
    replacement within a batch unless ``replace``). The parameters are fixed: this measures
    the noise of one update's direction, not training. :func:`gradient_noise_exact` gives
    the value this estimates.

    Args:
        grad_fn: ``grad_fn(params, X_rows, y_rows)`` returns the gradient of the MEAN loss
            over the rows it is given, an array of any shape (the norm is over all of it).
        params: passed to ``grad_fn`` unchanged.
        X, y: the full data set.
        B: batch size, at most ``N`` without replacement.
        draws: number of batches averaged over.
        rng: a ``np.random.Generator``, a seed, or ``None``.
        replace: draw the rows of a batch with replacement.

    Shape:
        - X: ``(N, *)``; y: ``(N, *)``
        - output: a Python float

    Example:
        >>> X, y = np.arange(4.0)[:, None], np.zeros(4)
        >>> grad = lambda w, Xb, yb: Xb.mean(axis=0)  # per-example gradient x_i
        >>> gradient_noise(grad, None, X, y, B=4, draws=3, rng=0)  # every row: no noise
        0.0
    """
    _check_sizes(len(X), B)
    if B > len(X) and not replace:
        raise ValueError(f"B = {B} rows cannot be drawn without replacement from N = {len(X)}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    rng = np.random.default_rng(rng)
    g = np.asarray(grad_fn(params, X, y), dtype=np.float64)
    total = 0.0
    for _ in range(draws):
        rows = rng.choice(len(X), size=B, replace=replace)
        g_b = np.asarray(grad_fn(params, X[rows], y[rows]), dtype=np.float64)
        total += float(np.sum((g_b - g) ** 2))
    return total / draws


def gradient_noise_exact(per_example_grads: ArrayLike, B: int, replace: bool = False) -> float:
    r"""``E ||g_B - g||^2`` exactly, from the gradient of every example.

    With ``g_i`` the gradient of example ``i``, ``g`` their mean and
    ``sigma^2 = (1/N) sum_i ||g_i - g||^2`` their spread, a batch mean ``g_B`` of ``B``
    examples has

    .. math:: E\|g_B - g\|^2 = \frac{\sigma^2}{B} \ \text{(with replacement)}, \qquad
        E\|g_B - g\|^2 = \frac{\sigma^2}{B} \cdot \frac{N - B}{N - 1}
        = \frac{\sigma^2}{B}\left(1 - \frac{B - 1}{N - 1}\right) \ \text{(without)}

    With replacement the ``B`` draws are independent, so their errors' variances add and the
    mean divides the sum by ``B^2``. Without, two different rows of a batch are negatively
    correlated: writing ``d_i = g_i - g`` (which sum to 0), ``E[d_i . d_j] = -sigma^2 /
    (N - 1)`` for ``i != j``, and the ``B (B - 1)`` cross terms subtract
    ``sigma^2 (B - 1) / (B (N - 1))``. The finite-population factor ``(N - B) / (N - 1)``
    is about ``1 - B / N``: negligible for ``B << N``, and exactly 0 at ``B = N`` (the batch
    is the data set). On log-log axes against ``B`` both are lines of slope ``-1`` while
    ``B << N``.

    Shape:
        - per_example_grads: ``(N, *)``, row ``i`` the gradient of example ``i``'s loss
        - output: a Python float

    Example:
        >>> g = np.array([[1.0], [-1.0], [1.0], [-1.0]])  # sigma^2 = 1
        >>> gradient_noise_exact(g, 2, replace=True), gradient_noise_exact(g, 2)  # 1/2, 1/3
        (0.5, 0.3333333333333333)
    """
    g = np.asarray(per_example_grads, dtype=np.float64)
    N = len(g)
    _check_sizes(N, B)
    if B > N and not replace:
        raise ValueError(f"B = {B} rows cannot be drawn without replacement from N = {N}")
    d = g.reshape(N, -1) - g.reshape(N, -1).mean(axis=0)
    sigma2 = float(np.sum(d * d)) / N
    if replace:
        return sigma2 / B
    return 0.0 if N == 1 else sigma2 / B * (N - B) / (N - 1)
