"""Models and a trainer for the notebooks' experiments: ``make_mlp``, ``fit``, ``evaluate``.

The experiments of every notebook train small networks the same way: build an MLP from a
list of layer sizes, run an optimiser from ``torch.optim`` on mini-batches, look at the
loss curve, the validation accuracy, or some quantity of the model recorded along the way.

================================================  ===========================================
function                                          does
================================================  ===========================================
``make_mlp(activation, sizes, seed)``             ``nn.Sequential`` of ``Linear`` + activation
``fit(model, X, y, steps=... | epochs=...)``      trains in place, returns a :class:`History`
``evaluate(model, X, y, metric)``                 ``metric(model(X), y)``, eval mode, no grad
``accuracy(model, X, y)``                         fraction of correct predictions
``hidden_outputs(model, X)``                      every activation's output, as NumPy arrays
================================================  ===========================================

Conventions: data are tensors with the samples along the first axis (``X: (N, ...)``,
``y: (N, ...)``); a model's outputs for classification are logits ``(N, K)``. Nothing is
printed and nothing goes to stderr, unless ``fit(progress=True)`` asks for a bar.

``torch.optim`` costs about one second once per process: creating the first optimiser
imports ``torch._dynamo`` (its methods are wrapped to opt out of ``torch.compile``). The
cost is paid by the first ``fit`` of a notebook, not by importing this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from dl_helpers.regularization import EarlyStopping

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Metric = Callable[[torch.Tensor, torch.Tensor], float | torch.Tensor]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]

#: Optimiser names accepted by :func:`fit`.
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


def make_mlp(
    activation: type[nn.Module] | Callable[[], nn.Module], sizes: Iterable[int], seed: int = 0
) -> nn.Sequential:
    """A multi-layer perceptron: ``Linear`` layers with a fresh activation between them.

    ``sizes = [D, H1, ..., K]`` gives ``Linear(D, H1), act, Linear(H1, H2), act, ...,
    Linear(H_last, K)``: no activation after the last layer, whose outputs are logits.
    ``activation`` is called once per hidden layer, so each layer gets its own module (and
    its own parameters, for ``nn.PReLU``).

    The weights are PyTorch's default initialisation drawn right after
    ``torch.manual_seed(seed)``, inside ``torch.random.fork_rng``: the same ``seed`` gives
    the same network, and the caller's global torch random state is restored afterwards,
    so building a model never shifts the random numbers of the code around it.

    Args:
        activation: a module class (``nn.ReLU``) or a factory with no arguments
            (``lambda: nn.LeakyReLU(0.1)``), not a module instance.
        sizes: layer widths, input first; at least two.
        seed: seed of the initial weights.

    Shape:
        - input of the model: ``(N, sizes[0])``
        - output of the model: ``(N, sizes[-1])``

    Example:
        >>> make_mlp(nn.ReLU, [64, 32, 10])
        Sequential(
          (0): Linear(in_features=64, out_features=32, bias=True)
          (1): ReLU()
          (2): Linear(in_features=32, out_features=10, bias=True)
        )
    """
    if isinstance(activation, nn.Module):
        raise TypeError(
            f"activation must be a module class or a factory, such as nn.ReLU or "
            f"lambda: nn.LeakyReLU(0.1), not the instance {activation!r} (one instance would "
            "be shared by every layer)"
        )
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ValueError(f"sizes must be two or more positive integers, got {sizes}")
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, (d_in, d_out) in enumerate(pairwise(sizes)):
            layers.append(nn.Linear(d_in, d_out))
            if i < len(sizes) - 2:
                layers.append(activation())
    if not all(isinstance(m, nn.Module) for m in layers):
        raise TypeError(f"activation() must return an nn.Module, got {layers[1]!r}")
    return nn.Sequential(*layers)


# --- evaluation --------------------------------------------------------------------------


@contextlib.contextmanager
def _modes_restored(model: nn.Module) -> Iterator[None]:
    """Restore every submodule's own train/eval flag on exit, also after an error.

    ``model.train(mode)`` would set one flag for all submodules; a model with some layers
    deliberately in eval mode (a frozen batch norm) must get exactly its own flags back.
    """
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for m, mode in modes:  # parents come before their children: children win
            m.train(mode)


def _device_of(model: nn.Module) -> torch.device:
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _check_pair(X: torch.Tensor, y: torch.Tensor, what: str = "X, y") -> None:
    for name, t in zip(what.split(", "), (X, y), strict=True):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor, got {type(t).__name__} "
                "(convert with torch.as_tensor, float32 for inputs)"
            )
    if len(X) != len(y):
        raise ValueError(f"{what} must have the same number of rows, got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError(f"{what} are empty")


def _outputs(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """``model(X)`` in eval mode, without a graph; modes restored afterwards."""
    with _modes_restored(model), torch.no_grad():
        model.eval()
        return model(X.to(_device_of(model)))


def fraction_correct(outputs: torch.Tensor, y: torch.Tensor) -> float:
    r"""Accuracy of predictions given as logits: the fraction of rows predicted right.

    .. math:: \mathrm{acc} = \frac{1}{N} \sum_i [\hat y_i = y_i]

    For ``K >= 2`` logits per row the prediction is the arg-max; for one logit per row
    (binary classification with ``binary_cross_entropy_with_logits``) it is ``logit > 0``,
    i.e. probability above 1/2, compared with ``y > 0.5``.

    Shape:
        - outputs: ``(N, K)`` logits, or ``(N, 1)`` for binary classification
        - y: ``(N,)`` class indices, or ``(N,)`` / ``(N, 1)`` 0/1 labels when ``K = 1``
        - output: a Python float in ``[0, 1]``

    Example:
        >>> fraction_correct(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        0.5
    """
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        hits = (outputs[:, 0] > 0) == (y.reshape(-1) > 0.5)
    else:
        hits = outputs.argmax(dim=1) == y
    return hits.float().mean().item()


def evaluate(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, metric: Metric = F.cross_entropy
) -> float:
    """``metric(model(X), y)`` with the model in eval mode and no gradient recorded.

    Eval mode switches dropout off and makes batch norm use its running statistics: the
    network as it will be used. Every submodule's train/eval flag is restored afterwards,
    and parameter gradients are left untouched. ``X`` and ``y`` are moved to the model's
    device.

    Args:
        metric: ``metric(outputs, y)`` returning a number or a 0-d tensor; the default is
            the mean cross-entropy loss, :func:`fraction_correct` gives the accuracy.

    Shape:
        - X: ``(N, *)``; y: ``(N, *)``
        - output: a Python float

    Example:
        >>> net = make_mlp(nn.ReLU, [2, 8, 2])
        >>> round(evaluate(net, torch.zeros(4, 2), torch.tensor([0, 1, 0, 1])), 4)
        0.6967
    """
    _check_pair(X, y)
    outputs = _outputs(model, X)
    return float(metric(outputs, y.to(outputs.device)))


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``X`` the model classifies right: :func:`evaluate` with
    :func:`fraction_correct`.

    Shape:
        - X: ``(N, *)``; y: ``(N,)`` class indices (or 0/1 labels for a one-logit model)
        - output: a Python float in ``[0, 1]``
    """
    return evaluate(model, X, y, metric=fraction_correct)


def hidden_outputs(model: nn.Sequential, X: torch.Tensor) -> list[np.ndarray]:
    """The output of every module of a ``Sequential`` that is not ``nn.Linear``.

    For a :func:`make_mlp` network these are the hidden layers' activations, in order:
    what the next layer sees. Computed in eval mode without a graph (modes restored).

    Shape:
        - X: ``(N, D)``
        - output: a list with one float array ``(N, H_l)`` per activation module
          (``(N, *)`` for modules that produce other shapes)

    Example:
        >>> h = hidden_outputs(make_mlp(nn.ReLU, [2, 5, 3, 2]), torch.ones(4, 2))
        >>> [a.shape for a in h], bool((h[0] >= 0).all())
        ([(4, 5), (4, 3)], True)
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    outs = []
    with _modes_restored(model), torch.no_grad():
        model.eval()
        h = X.to(_device_of(model))
        for layer in model:
            h = layer(h)
            if not isinstance(layer, nn.Linear):
                outs.append(h.cpu().numpy())
    return outs


# --- training ----------------------------------------------------------------------------


@dataclass
class History:
    """What :func:`fit` recorded. Steps are counted from 1; ``step`` values are the number
    of optimisation steps done when the entry was recorded.

    Attributes:
        loss: ``(steps,)`` the mini-batch training loss of every step, before its update.
        eval_step: ``(E,)`` the step of each evaluation point.
        train_loss: ``(E,)`` mean of ``loss`` over the steps since the previous point.
        val_loss: ``(E,)`` ``loss_fn`` on the whole validation set; empty without ``val``.
        val_metric: ``(E,)`` ``metric`` on the validation set; empty without ``metric``.
        monitor: ``(M,)`` the values returned by ``monitor(model)``.
        monitor_step: ``(M,)`` the step of each monitor value.
        best_step: with ``patience``, the evaluation step of the lowest validation loss,
            whose weights the model holds at the end; ``None`` without ``patience``, or
            while no validation loss has been a number (NaN never counts as best).
        stopped_early: whether ``patience`` ended training before its last step.
    """

    loss: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    monitor: list[Any] = field(default_factory=list)
    monitor_step: list[int] = field(default_factory=list)
    best_step: int | None = None
    stopped_early: bool = False


class _Batches:
    """Mini-batch row indices, from a generator of their own.

    ``per_epoch=False``: every step draws ``batch_size`` rows independently, with
    replacement, by ``torch.randint(n, (batch_size,), generator=g)``. ``per_epoch=True``:
    every epoch draws ``torch.randperm(n, generator=g)`` and cuts it into consecutive
    batches, the last one smaller when ``batch_size`` does not divide ``n``.
    """

    def __init__(self, n: int, batch_size: int, per_epoch: bool, seed: int) -> None:
        self.n, self.batch_size, self.per_epoch = n, batch_size, per_epoch
        self.per_epoch_steps = math.ceil(n / batch_size)
        self.generator = torch.Generator().manual_seed(seed)
        self.order: torch.Tensor | None = None  # this epoch's permutation

    def rows(self, done: int) -> torch.Tensor:
        """Row indices of the batch after ``done`` steps."""
        if not self.per_epoch:
            return torch.randint(self.n, (self.batch_size,), generator=self.generator)
        k = done % self.per_epoch_steps
        if k == 0:
            self.order = torch.randperm(self.n, generator=self.generator)
        return self.order[k * self.batch_size : (k + 1) * self.batch_size]

    def state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": self.order}

    def load(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"]


def _make_optimizer(
    optimizer: str | OptimizerFactory, params: Iterable[nn.Parameter], lr: float | None
) -> torch.optim.Optimizer:
    if isinstance(optimizer, str):
        if optimizer.lower() not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)} "
                "(or pass a factory, e.g. lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))"
            )
        return OPTIMIZERS[optimizer.lower()](params, **({} if lr is None else {"lr": lr}))
    if lr is not None:
        raise ValueError("lr is for an optimizer given by name; a factory sets its own lr")
    made = optimizer(params)
    if not isinstance(made, torch.optim.Optimizer):
        raise TypeError(f"the optimizer factory returned {type(made).__name__}, not an Optimizer")
    return made


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}, but torch.cuda.is_available() is False")
    return device


def _check_counts(**counts: int | None) -> None:
    for name, value in counts.items():
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _save(path: Path, state: dict[str, Any]) -> None:
    # Write then rename: a run killed while writing leaves the previous checkpoint intact.
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def fit(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 128,
    optimizer: str | OptimizerFactory = "adam",
    lr: float | None = None,
    loss_fn: LossFn = F.cross_entropy,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    metric: Metric | None = None,
    eval_every: int | None = None,
    patience: int | None = None,
    monitor: Callable[[nn.Module], Any] | None = None,
    monitor_every: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = False,
) -> History:
    """Train ``model`` in place by mini-batch gradient descent; return its :class:`History`.

    Each step draws a mini-batch, computes ``loss = loss_fn(model(X[b]), y[b])``, and lets
    the optimiser update the parameters from ``loss.backward()``. Give exactly one length:

    * ``steps=S``: ``S`` steps, each on ``batch_size`` rows drawn at random WITH
      replacement, ``torch.randint(N, (batch_size,), generator=g)`` with ``g`` seeded by
      ``seed`` (notebook 01's original loop);
    * ``epochs=E``: ``E`` passes over a fresh random permutation of the rows, cut into
      ``ceil(N / batch_size)`` batches (each row seen once per epoch).

    Evaluation points come every ``eval_every`` steps (default: at the end of each epoch,
    or only after the last step with ``steps=``), and always after the last step. Each
    records the mean training loss since the previous point and, with ``val=(X_val,
    y_val)``, the validation loss (``loss_fn``) and ``metric``, computed in eval mode.

    With ``patience=P``, training stops once the validation loss has not improved (strictly
    decreased) for ``P`` evaluation points in a row, and the model gets back the weights of
    its best point (``history.best_step``), also when training ran to the end: this is
    :class:`dl_helpers.regularization.EarlyStopping` with ``min_delta=0``.

    Reproducible: batches come from their own generator, and the global torch random state
    (used by dropout) is seeded with ``seed`` for the duration of the call and then put
    back as it was (``torch.random.fork_rng``). The same call gives the same history and
    weights, bit for bit, on the same machine and device (CPU; GPU kernels may not be
    deterministic).

    Checkpoints: with ``checkpoint=path``, the model, the optimiser, the step count, the
    batch generator, the random state, the history and the early-stopping state are saved
    every ``checkpoint_every`` steps (default: at every evaluation point) and after the last
    step. ``resume=True`` continues from that file when it exists (from scratch when not):
    a run interrupted after a checkpoint and resumed gives exactly the history and weights
    of an uninterrupted run. Resuming with a larger ``steps`` or ``epochs`` trains further.
    The file is a pickle: load only checkpoints you wrote.

    Args:
        model: trained in place; moved to ``device``.
        X, y: the training set, tensors with one row per sample.
        steps, epochs: the length of training; exactly one of them.
        batch_size: rows per mini-batch.
        optimizer: a name from :data:`OPTIMIZERS` (``"sgd"``, ``"adam"``, ``"adamw"``,
            ``"rmsprop"``, ``"adagrad"``) with learning rate ``lr`` (torch's default when
            ``None``), or a factory ``params -> Optimizer`` such as
            ``lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)`` (then leave ``lr`` out).
        loss_fn: ``loss_fn(outputs, y_batch)`` returning a scalar tensor.
        val: ``(X_val, y_val)``, evaluated at every evaluation point.
        metric: ``metric(outputs, y_val)`` recorded on ``val``, e.g.
            :func:`fraction_correct`.
        eval_every: steps between evaluation points.
        patience: evaluation points without improvement before stopping; needs ``val``.
        monitor: called as ``monitor(model)`` under ``torch.no_grad()`` before the first
            step, then every ``monitor_every`` steps, and after the last step; what it
            returns is stored in ``history.monitor``.
        checkpoint, checkpoint_every, resume: see above.
        device: ``"cpu"``, ``"cuda"``, or ``None`` for CUDA when available.
        seed: seed of the batches and of the random state during training.
        progress: show a tqdm bar, on stdout (stderr stays empty, as graded notebooks
            require); its cell needs the ``nbval-ignore-output`` tag.

    Shape:
        - X: ``(N, *)``, e.g. ``(N, D)`` for an MLP or ``(N, C, H, W)`` for a CNN
        - y: ``(N, *)``: ``(N,)`` int64 class indices for the default cross-entropy
        - val: ``((N_val, *), (N_val, *))``
        - output: a :class:`History`

    Example:
        >>> X, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
        >>> net = make_mlp(nn.Tanh, [2, 8, 2])
        >>> h = fit(net, X, y, epochs=3, batch_size=16, lr=0.01, val=(X, y),
        ...         metric=fraction_correct)
        >>> len(h.loss), h.eval_step, len(h.val_metric)
        (12, [4, 8, 12], 3)
    """
    _check_pair(X, y)
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= and epochs=")
    _check_counts(
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        eval_every=eval_every,
        patience=patience,
        monitor_every=monitor_every,
        checkpoint_every=checkpoint_every,
    )
    if val is not None:
        _check_pair(*val, what="X_val, y_val")
    elif patience is not None or metric is not None:
        raise ValueError("patience= and metric= are computed on validation data: pass val=")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path>")

    dev = _resolve_device(device)
    model.to(dev)
    X, y = X.to(dev), y.to(dev)
    if val is not None:
        val = (val[0].to(dev), val[1].to(dev))
    opt = _make_optimizer(optimizer, model.parameters(), lr)
    batches = _Batches(len(X), batch_size, per_epoch=epochs is not None, seed=seed)
    total = steps if steps is not None else epochs * batches.per_epoch_steps
    eval_every = eval_every or (total if steps is not None else batches.per_epoch_steps)
    checkpoint_every = checkpoint_every or eval_every
    path = None if checkpoint is None else Path(checkpoint)
    run = {"per_epoch": batches.per_epoch, "batch_size": batch_size, "rows": len(X), "seed": seed}
    history = History()
    stopper = None if patience is None else EarlyStopping(patience)
    cuda = (
        [torch.cuda.current_device() if dev.index is None else dev.index]
        if dev.type == "cuda"
        else []
    )

    def record_monitor() -> None:
        with torch.no_grad():
            history.monitor.append(monitor(model))
        history.monitor_step.append(len(history.loss))

    def evaluation_point() -> None:
        done = len(history.loss)
        since = history.eval_step[-1] if history.eval_step else 0
        history.eval_step.append(done)
        history.train_loss.append(float(np.mean(history.loss[since:])))
        if val is None:
            return
        outputs = _outputs(model, val[0])
        history.val_loss.append(float(loss_fn(outputs, val[1])))
        if metric is not None:
            history.val_metric.append(float(metric(outputs, val[1])))
        if stopper is None:
            return
        history.stopped_early = stopper.step(history.val_loss[-1], model)
        if stopper.best_epoch is not None:
            history.best_step = history.eval_step[stopper.best_epoch - 1]

    def save() -> None:
        state = {
            "run": run,
            "step": len(history.loss),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "batches": batches.state(),
            "rng": torch.get_rng_state(),
            "cuda_rng": [torch.cuda.get_rng_state(d) for d in cuda],
            "history": dataclasses.asdict(history),
            "early_stopping": None if stopper is None else stopper.state_dict(),
        }
        _save(path, state)

    with (
        torch.random.fork_rng(devices=cuda),
        _modes_restored(model),
        contextlib.ExitStack() as stack,
    ):
        torch.manual_seed(seed)
        if resume and path.exists():
            saved = torch.load(path, map_location="cpu", weights_only=False)
            if saved["run"] != run:
                raise ValueError(f"{path} was written by a run with {saved['run']}, not {run}")
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            batches.load(saved["batches"])
            torch.set_rng_state(saved["rng"])
            for d, state in zip(cuda, saved["cuda_rng"], strict=True):
                torch.cuda.set_rng_state(state, d)
            history = History(**saved["history"])
            if stopper is not None and saved["early_stopping"] is not None:
                stopper.load_state_dict(saved["early_stopping"])
        bar = None
        if progress:
            bar = stack.enter_context(
                tqdm(total=total, initial=len(history.loss), file=sys.stdout, unit="step")
            )
        model.train()
        while len(history.loss) < total and not history.stopped_early:
            if monitor is not None and len(history.loss) % monitor_every == 0:
                record_monitor()
            rows = batches.rows(len(history.loss)).to(dev)
            opt.zero_grad()
            loss = loss_fn(model(X[rows]), y[rows])
            loss.backward()
            opt.step()
            history.loss.append(loss.item())
            done = len(history.loss)
            if done % eval_every == 0 or done == total:
                evaluation_point()
                if bar is not None:
                    bar.set_postfix(train_loss=history.train_loss[-1], refresh=False)
            if path is not None and (
                done % checkpoint_every == 0 or done == total or history.stopped_early
            ):
                save()
            if bar is not None:
                bar.update()
        if monitor is not None and history.monitor_step[-1:] != [len(history.loss)]:
            record_monitor()
        if stopper is not None:
            stopper.restore(model)
    return history
