"""Optimisers from scratch: one step function per method, and ``torch.optim`` classes on top.

Training repeats one move: compute the gradient ``g`` of the loss at the parameters ``w``,
then step. Gradient descent steps straight down, ``w <- w - lr * g``. The other methods
keep a little *state* per parameter between steps: momentum accumulates past gradients so
that consistent directions build up speed and oscillating ones cancel; RMSprop divides by a
running root-mean-square of the gradient so every coordinate moves at a similar pace
whatever its scale; Adam does both, with a bias correction for the zero start of its
averages; AdamW is Adam with weight decay taken out of the gradient.

================================================  ===========================================
step function, ``-> (new_w, new_state)``          state keys (``torch.optim``'s names)
================================================  ===========================================
``sgd_step(w, g, state, lr, weight_decay=0)``     none
``momentum_step(w, g, state, lr, momentum=0.9,``  ``momentum_buffer``
``dampening=0, weight_decay=0, nesterov=False)``
``rmsprop_step(w, g, state, lr, alpha=0.99,``     ``square_avg``
``eps=1e-8, weight_decay=0)``
``adam_step(w, g, state, lr, betas=(0.9,``        ``step``, ``exp_avg``, ``exp_avg_sq``
``0.999), eps=1e-8, weight_decay=0)``
``adamw_step(...)``: as Adam, ``weight_decay``    as Adam
``=0.01`` decoupled
================================================  ===========================================

``SGD``, ``RMSprop``, ``Adam`` and ``AdamW`` are ``torch.optim.Optimizer`` subclasses that
apply these functions to every parameter, keeping each parameter's state in
``self.state[p]``; they match ``torch.optim``'s classes of the same name step by step for
the options they take (not: ``maximize``, ``amsgrad``, RMSprop's ``momentum`` and
``centered``). For the notebook's figures: the ill-conditioned bowl :func:`surface` with
:func:`surface_grad`, :func:`trajectory` (a step function run on it) and :func:`ewma`.

Conventions shared by the step functions:

* ``state`` is a dict, ``{}`` (or ``None``) before the first step; the function returns a
  new dict and never modifies ``w``, ``g``, ``state`` or the arrays inside ``state``.
* They follow PyTorch's formulas exactly (see each docstring), which differ from some
  textbooks: the momentum buffer is ``momentum * buf + g`` (no ``1 - momentum`` factor)
  and starts at ``g``; RMSprop and Adam add ``eps`` *outside* the square root.
* A float array keeps its dtype; integer and list input is computed in float64. They use
  arithmetic operators only, so they run unchanged on torch tensors: that is how the
  ``Optimizer`` classes below use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

State = dict[str, Any]
Array = np.ndarray | torch.Tensor


def _as_float(x: ArrayLike | torch.Tensor) -> Array:
    """Return ``x`` as a float ndarray (ints -> float64), or the tensor itself."""
    if isinstance(x, torch.Tensor):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _w_and_g(w: ArrayLike, g: ArrayLike) -> tuple[Array, Array]:
    """``w`` as a float array and ``g`` in ``w``'s dtype; their shapes must agree."""
    w = _as_float(w)
    g = g if isinstance(g, torch.Tensor) else np.asarray(g, dtype=w.dtype)
    if g.shape != w.shape:  # broadcasting would silently change w's shape
        raise ValueError(f"g must have w's shape {tuple(w.shape)}, got {tuple(g.shape)}")
    return w, g


def _copy(x: Array) -> Array:
    return x.clone() if isinstance(x, torch.Tensor) else x.copy()


def _check(lr: float, **in_unit_interval: float) -> None:
    if not lr >= 0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    for name, value in in_unit_interval.items():
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")


def _weight_decayed(w: Array, g: Array, weight_decay: float) -> Array:
    """The gradient of ``loss + weight_decay/2 * ||w||^2``: torch's coupled weight decay."""
    return g + weight_decay * w if weight_decay != 0 else g


def sgd_step(
    w: ArrayLike, g: ArrayLike, state: State | None, lr: float, weight_decay: float = 0.0
) -> tuple[Array, State]:
    r"""One step of (stochastic) gradient descent.

    .. math:: w \leftarrow w - \eta\,(g + \lambda w)

    with learning rate :math:`\eta` = ``lr`` and :math:`\lambda` = ``weight_decay``. Plain
    gradient descent keeps no state: ``state`` is accepted and an empty dict returned so
    that every step function has the same signature.

    Shape:
        - w, g: any shape ``(*)``, the same
        - output: ``(new_w, {})``, ``new_w`` of ``w``'s shape and dtype

    Example:
        >>> sgd_step(np.array([1.0, -2.0]), np.array([0.5, 0.5]), {}, lr=0.1)
        (array([ 0.95, -2.05]), {})
    """
    _check(lr)
    w, g = _w_and_g(w, g)
    return w - lr * _weight_decayed(w, g, weight_decay), {}


def momentum_step(
    w: ArrayLike,
    g: ArrayLike,
    state: State | None,
    lr: float,
    momentum: float = 0.9,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> tuple[Array, State]:
    r"""One step of SGD with momentum, as ``torch.optim.SGD(momentum=...)`` computes it.

    .. math::
        g' = g + \lambda w, \qquad
        b_t = \begin{cases} g' & t = 1 \\ \mu\, b_{t-1} + (1 - \tau)\, g' & t > 1
        \end{cases}, \qquad
        w \leftarrow w - \eta \begin{cases} g' + \mu\, b_t & \text{nesterov} \\
        b_t & \text{otherwise} \end{cases}

    with :math:`\mu` = ``momentum`` and :math:`\tau` = ``dampening``. The buffer is a sum
    of past gradients with weights :math:`\mu^k`, not an average: in a constant gradient
    it grows to :math:`g / (1 - \mu)`, ten times ``g`` for ``momentum = 0.9`` (some
    textbooks write :math:`(1 - \mu) g` and a larger learning rate instead).

    Shape:
        - w, g: any shape ``(*)``, the same
        - state: ``{}`` at the first step, then ``{"momentum_buffer": (*)}``
        - output: ``(new_w, new_state)``

    Example:
        >>> w, s = momentum_step(np.array([1.0]), np.array([1.0]), {}, lr=0.1, momentum=0.5)
        >>> w, s  # the first buffer is the gradient itself
        (array([0.9]), {'momentum_buffer': array([1.])})
        >>> momentum_step(w, np.array([1.0]), s, lr=0.1, momentum=0.5)[0]  # buf = 1.5
        array([0.75])
    """
    _check(lr, momentum=momentum, dampening=dampening)
    if nesterov and (momentum == 0 or dampening != 0):
        raise ValueError("nesterov needs momentum > 0 and dampening = 0 (as in torch)")
    w, g = _w_and_g(w, g)
    g = _weight_decayed(w, g, weight_decay)
    if state:
        buf = momentum * state["momentum_buffer"] + (1 - dampening) * g
    else:  # a copy: g may be a tensor's .grad that the caller later changes in place
        buf = _copy(g)
    update = g + momentum * buf if nesterov else buf
    return w - lr * update, {"momentum_buffer": buf}


def rmsprop_step(
    w: ArrayLike,
    g: ArrayLike,
    state: State | None,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Array, State]:
    r"""One step of RMSprop, as ``torch.optim.RMSprop`` computes it.

    .. math::
        g' = g + \lambda w, \qquad
        v_t = \alpha\, v_{t-1} + (1 - \alpha)\, g'^2, \quad v_0 = 0, \qquad
        w \leftarrow w - \eta\, \frac{g'}{\sqrt{v_t} + \epsilon}

    ``eps`` is added *outside* the square root (torch, Keras); some texts put it inside,
    :math:`\sqrt{v_t + \epsilon}`, which for ``eps = 1e-8`` is a floor of ``1e-4``, not
    ``1e-8``, on the denominator. Note that :math:`v` starts at zero and is not
    bias-corrected: the first steps are larger than ``lr`` (the first is
    :math:`\eta / \sqrt{1 - \alpha} = 10\,\eta` per coordinate for ``alpha = 0.99``).

    Shape:
        - w, g: any shape ``(*)``, the same
        - state: ``{}`` at the first step, then ``{"square_avg": (*)}``
        - output: ``(new_w, new_state)``

    Example:
        >>> w, s = rmsprop_step(np.array([1.0, 1.0]), np.array([4.0, -0.1]), {}, lr=0.01)
        >>> w.round(6)  # each coordinate moves by lr / sqrt(1 - alpha) = 0.1
        array([0.9, 1.1])
    """
    _check(lr, alpha=alpha)
    w, g = _w_and_g(w, g)
    g = _weight_decayed(w, g, weight_decay)
    square_avg = alpha * (state or {}).get("square_avg", 0.0) + (1 - alpha) * g * g
    return w - lr * g / (square_avg**0.5 + eps), {"square_avg": square_avg}


def adam_step(
    w: ArrayLike,
    g: ArrayLike,
    state: State | None,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Array, State]:
    r"""One step of Adam, as ``torch.optim.Adam`` computes it.

    .. math::
        g' &= g + \lambda w \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g', \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g'^2, \qquad m_0 = v_0 = 0 \\
        \hat m_t &= \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}
        \qquad
        w \leftarrow w - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    The bias correction undoes the zero start: at ``t = 1``, :math:`\hat m_1 = g'` and
    :math:`\hat v_1 = g'^2`, so the first step moves every coordinate by about ``lr``
    whatever its gradient's scale. ``weight_decay`` here is an L2 penalty added to the
    gradient, and is then divided by :math:`\sqrt{\hat v}` like the rest of it: use
    :func:`adamw_step` for decay that shrinks every weight at the same rate.

    Shape:
        - w, g: any shape ``(*)``, the same
        - state: ``{}`` at the first step, then ``{"step": t, "exp_avg": (*),
          "exp_avg_sq": (*)}`` with ``t`` a Python int
        - output: ``(new_w, new_state)``

    Example:
        >>> w, s = adam_step(np.array([1.0, 1.0]), np.array([100.0, -0.01]), {}, lr=0.1)
        >>> w.round(6), s["step"]  # the first step is lr * sign(g), whatever |g|
        (array([0.9, 1.1]), 1)
    """
    beta1, beta2 = betas
    _check(lr, beta1=beta1, beta2=beta2)
    w, g = _w_and_g(w, g)
    g = _weight_decayed(w, g, weight_decay)
    state = state or {}
    t = state.get("step", 0) + 1
    m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    new_w = w - lr * m_hat / (v_hat**0.5 + eps)
    return new_w, {"step": t, "exp_avg": m, "exp_avg_sq": v}


def adamw_step(
    w: ArrayLike,
    g: ArrayLike,
    state: State | None,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> tuple[Array, State]:
    r"""One step of AdamW: Adam with *decoupled* weight decay (Loshchilov and Hutter).

    .. math::
        w \leftarrow (1 - \eta\lambda)\, w, \quad \text{then an Adam step on } g
        \text{ without weight decay}

    The decay multiplies the weights directly instead of entering the gradient, so it is
    not divided by :math:`\sqrt{\hat v}`: every weight shrinks by the same factor
    ``1 - lr * weight_decay`` per step, which is what weight decay means for SGD. Note the
    default ``weight_decay = 0.01``, torch's (Adam's is 0).

    Shape:
        - as :func:`adam_step`

    Example:
        >>> w, _ = adamw_step(np.array([1.0]), np.array([0.0]), {}, lr=0.1, weight_decay=0.5)
        >>> w  # a zero gradient: only the decay acts, 1 - 0.1 * 0.5
        array([0.95])
    """
    _check(lr)
    w = _as_float(w)
    return adam_step(w * (1 - lr * weight_decay), g, state, lr, betas, eps, weight_decay=0.0)


# --- the same steps as torch.optim.Optimizer classes ----------------------------------------


class _PerParameter(torch.optim.Optimizer):
    """An optimiser that applies one step function to each parameter that has a gradient.

    Subclasses say which function, with which hyperparameters, in :meth:`_update`.
    """

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """Update every parameter once from its ``.grad``; ``closure`` re-evaluates the
        loss first (needed by optimisers such as L-BFGS, accepted here for the interface)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:  # unused in this loss, or frozen
                    continue
                new_p, self.state[p] = self._update(p, group)
                p.copy_(new_p)
        return loss


class SGD(_PerParameter):
    """``torch.optim.SGD``: :func:`sgd_step`, or :func:`momentum_step` when ``momentum > 0``.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = torch.tensor([0.5, 0.5]); opt.step()
        >>> w.detach(), opt.state[w]["momentum_buffer"]
        (tensor([ 0.9500, -2.0500]), tensor([0.5000, 0.5000]))
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if nesterov and (momentum == 0 or dampening != 0):  # checked here, as torch does
            raise ValueError("nesterov needs momentum > 0 and dampening = 0 (as in torch)")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> tuple[torch.Tensor, State]:
        if group["momentum"] == 0:  # torch keeps no buffer then, and ignores dampening
            return sgd_step(p, p.grad, self.state[p], group["lr"], group["weight_decay"])
        return momentum_step(
            p,
            p.grad,
            self.state[p],
            group["lr"],
            group["momentum"],
            group["dampening"],
            group["weight_decay"],
            group["nesterov"],
        )


class RMSprop(_PerParameter):
    """``torch.optim.RMSprop`` without ``momentum`` and ``centered``: :func:`rmsprop_step`."""

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> tuple[torch.Tensor, State]:
        hyper = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        return rmsprop_step(p, p.grad, self.state[p], *hyper)


class Adam(_PerParameter):
    """``torch.optim.Adam`` without ``amsgrad``: :func:`adam_step` (L2 weight decay)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> tuple[torch.Tensor, State]:
        hyper = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        return adam_step(p, p.grad, self.state[p], *hyper)


class AdamW(Adam):
    """``torch.optim.AdamW`` without ``amsgrad``: :func:`adamw_step` (decoupled decay)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> tuple[torch.Tensor, State]:
        hyper = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        return adamw_step(p, p.grad, self.state[p], *hyper)


# --- a 2-D surface for trajectories, and the EWMA -----------------------------------------


def surface(x: ArrayLike) -> np.ndarray:
    r"""The ill-conditioned bowl of d2l's "Optimization Algorithms" chapter.

    .. math:: f(x) = 0.1\, x_1^2 + 2\, x_2^2

    Its curvatures are 0.2 along :math:`x_1` and 4 along :math:`x_2` (condition number
    20): gradient descent with ``lr`` above ``2 / 4 = 0.5`` diverges along :math:`x_2`,
    and with ``lr`` below it crawls along :math:`x_1` (factor ``1 - 0.2 lr`` per step).

    Shape:
        - x: ``(*, 2)``, e.g. ``(2,)`` for a point or ``(H, W, 2)`` for a contour grid
        - output: ``(*)``

    Example:
        >>> float(surface(np.array([-5.0, -2.0])))
        10.5
    """
    x = _as_float(np.asarray(x))
    return 0.1 * x[..., 0] ** 2 + 2 * x[..., 1] ** 2


def surface_grad(x: ArrayLike) -> np.ndarray:
    r"""Gradient of :func:`surface`: :math:`\nabla f(x) = (0.2\, x_1,\ 4\, x_2)`.

    Shape:
        - x: ``(*, 2)``
        - output: ``(*, 2)``

    Example:
        >>> surface_grad(np.array([-5.0, -2.0]))
        array([-1., -8.])
    """
    x = _as_float(np.asarray(x))
    return x * np.array([0.2, 4.0], dtype=x.dtype)


def trajectory(
    step_fn: Callable[..., tuple[Array, State]],
    x0: ArrayLike,
    steps: int,
    grad: Callable[[np.ndarray], np.ndarray] = surface_grad,
    **hyper: Any,
) -> np.ndarray:
    """The points visited by ``steps`` steps of ``step_fn`` on a function with gradient ``grad``.

    Runs ``x, state = step_fn(x, grad(x), state, **hyper)`` from ``x0`` and an empty state.

    Args:
        step_fn: one of this module's step functions (or one with its signature).
        x0: the starting point.
        steps: how many steps.
        grad: the gradient of the function minimised; :func:`surface_grad` by default.
        hyper: passed on to ``step_fn``, e.g. ``lr=0.4``, ``momentum=0.5``.

    Shape:
        - x0: ``(D,)``, e.g. ``(2,)`` for :func:`surface`
        - output: ``(steps + 1, D)``, row 0 is ``x0``

    Example:
        >>> trajectory(sgd_step, [-5.0, -2.0], 2, lr=0.4)
        array([[-5.   , -2.   ],
               [-4.6  ,  1.2  ],
               [-4.232, -0.72 ]])
    """
    x = _as_float(np.asarray(x0))
    path, state = [x], {}
    for _ in range(steps):
        x, state = step_fn(x, grad(x), state, **hyper)
        path.append(x)
    return np.stack(path)


def ewma(values: ArrayLike, beta: float, bias_correction: bool = True) -> np.ndarray:
    r"""Exponentially weighted moving average, the running mean inside momentum and Adam.

    .. math::
        v_t = \beta\, v_{t-1} + (1 - \beta)\, x_t, \quad v_0 = 0, \qquad
        \text{returned: } \frac{v_t}{1 - \beta^t} \text{ (bias-corrected) or } v_t

    :math:`v_t = (1 - \beta) \sum_{i \le t} \beta^{t-i} x_i` averages roughly the last
    :math:`1 / (1 - \beta)` values, but its weights sum to :math:`1 - \beta^t`, not 1:
    without the correction the first values are pulled towards the zero start (for
    ``beta = 0.9``, :math:`v_1 = 0.1\, x_1`).

    Shape:
        - values: ``(T, *)``, averaged along the first axis
        - output: ``(T, *)``

    Example:
        >>> ewma([10.0, 10.0, 10.0], beta=0.9)
        array([10., 10., 10.])
        >>> ewma([10.0, 10.0, 10.0], beta=0.9, bias_correction=False).round(3)
        array([1.  , 1.9 , 2.71])
    """
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    x = _as_float(np.asarray(values))
    out = np.empty_like(x)
    v = np.zeros_like(x[0])
    for t in range(len(x)):
        v = beta * v + (1 - beta) * x[t]
        out[t] = v / (1 - beta ** (t + 1)) if bias_correction else v
    return out
