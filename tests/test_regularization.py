"""dl_helpers.regularization against independent oracles: torch float64 (F.dropout,
F.batch_norm, nn.BatchNorm1d over several steps, autograd, torch.optim.SGD's weight_decay),
centred finite differences, and the statistics of many random masks."""

from __future__ import annotations

import copy
import doctest
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dl_helpers import regularization as reg
from dl_helpers.gradcheck import numerical_gradient, numerical_gradient_array, rel_error


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: torch's thread pool only adds overhead, and thrashes on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def weights(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(4, 3)), rng.normal(size=(3,)), rng.normal(size=(2, 2, 2))]


# --- L2 penalty ----------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.5])
def test_l2_penalty_and_its_gradient_match_torch_autograd(lam):
    params = weights()
    tensors = [torch.tensor(w, requires_grad=True) for w in params]
    penalty = 0.5 * lam * sum((t**2).sum() for t in tensors)
    (3.0 * penalty).backward()  # upstream 3: the penalty enters the loss times 3
    assert reg.l2_penalty(params, lam) == pytest.approx(penalty.item(), rel=1e-14)
    grads = reg.l2_penalty_backward(params, lam, upstream=3.0)
    assert isinstance(grads, list) and len(grads) == 3
    for grad, t in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-14)


def test_l2_penalty_gradient_matches_finite_differences_and_accepts_one_array():
    w = weights()[0]
    assert reg.l2_penalty(w, 0.3) == pytest.approx(0.15 * np.sum(w**2))
    numeric = numerical_gradient(lambda v: reg.l2_penalty(v, 0.3), w)
    grad = reg.l2_penalty_backward(w, 0.3)
    assert isinstance(grad, np.ndarray) and rel_error(grad, numeric) < 1e-8


def test_sgd_on_the_penalised_loss_is_torch_weight_decay_and_shrinks_by_one_minus_lr_lam():
    lr, lam = 0.1, 0.05
    rng = np.random.default_rng(1)
    X, y = torch.tensor(rng.normal(size=(16, 3))), torch.tensor(rng.normal(size=(16, 2)))
    net = nn.Linear(3, 2).double()
    torch_net = copy.deepcopy(net)
    sgd = torch.optim.SGD(torch_net.parameters(), lr=lr, weight_decay=lam)
    params = [p.detach().numpy().copy() for p in net.parameters()]
    for _ in range(5):
        # the loss's own gradient at our parameters, by autograd
        with torch.no_grad():
            for p, w in zip(net.parameters(), params, strict=True):
                p.copy_(torch.from_numpy(w))
        net.zero_grad()
        F.mse_loss(net(X), y).backward()
        grads = [p.grad.numpy() for p in net.parameters()]
        decay = reg.l2_penalty_backward(params, lam)
        new = [w - lr * (g + d) for w, g, d in zip(params, grads, decay, strict=True)]
        for w, g, n in zip(params, grads, new, strict=True):  # the weight-decay form
            np.testing.assert_allclose(n, (1 - lr * lam) * w - lr * g, rtol=1e-13, atol=1e-15)
        params = new
        sgd.zero_grad()
        F.mse_loss(torch_net(X), y).backward()
        sgd.step()
        for w, p in zip(params, torch_net.parameters(), strict=True):
            np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_l2_penalty_keeps_float32_and_does_not_mutate():
    params = [w.astype(np.float32) for w in weights()]
    before = copy.deepcopy(params)
    grads = reg.l2_penalty_backward(params, 0.1)
    assert all(g.dtype == np.float32 for g in grads)
    assert isinstance(reg.l2_penalty(params, 0.1), float)
    np.testing.assert_equal(params, before)
    assert reg.l2_penalty_backward([np.array([1, 2])], 0.5)[0].dtype == np.float64


# --- dropout -------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.8])
def test_dropout_train_keeps_x_over_one_minus_p_like_torch(p):
    x = np.random.default_rng(2).normal(size=(200, 50)) + 5.0  # no zeros in x
    out, mask = reg.dropout_forward(x, p, True, np.random.default_rng(3))
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    np.testing.assert_array_equal(mask, np.where(kept, 1 / (1 - p), 0.0))
    # torch: the same two values, zero or x / (1 - p)
    torch_out = F.dropout(torch.from_numpy(x), p, training=True).numpy()
    torch_kept = torch_out != 0
    np.testing.assert_allclose(torch_out[torch_kept] / x[torch_kept], 1 / (1 - p), rtol=1e-15)
    # and about the same fraction dropped, p, within 5 binomial standard deviations
    sd = np.sqrt(p * (1 - p) / x.size)
    assert abs((~kept).mean() - p) <= 5 * sd + 1e-12
    assert abs((~torch_kept).mean() - p) <= 5 * sd + 1e-12


def test_dropout_preserves_the_mean_in_expectation():
    # CS231n's check: averaged over many masks, the train-mode output is the input
    x = np.linspace(-2.0, 3.0, 40)
    rng = np.random.default_rng(4)
    draws = 4000
    mean = sum(reg.dropout_forward(x, 0.6, True, rng)[0] for _ in range(draws)) / draws
    sd = np.abs(x) * np.sqrt(0.6 / 0.4 / draws)  # the standard error of each mean
    assert np.all(np.abs(mean - x) <= 5 * sd + 1e-12)


def test_dropout_eval_is_the_identity_and_p_one_drops_everything():
    x = np.random.default_rng(5).normal(size=(6, 7))
    out, mask = reg.dropout_forward(x, 0.5, False)
    np.testing.assert_array_equal(out, F.dropout(torch.from_numpy(x), 0.5, training=False))
    assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(reg.dropout_backward(mask, x), x)
    out, mask = reg.dropout_forward(x, 1.0, True, np.random.default_rng(0))
    np.testing.assert_array_equal(out, F.dropout(torch.from_numpy(x), 1.0, training=True))
    np.testing.assert_array_equal(reg.dropout_backward(mask, x), np.zeros_like(x))


@pytest.mark.parametrize("train", [True, False])
def test_dropout_backward_matches_finite_differences_and_autograd(train):
    rng = np.random.default_rng(6)
    x, upstream = rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    _, mask = reg.dropout_forward(x, 0.3, train, np.random.default_rng(7))
    dx = reg.dropout_backward(mask, upstream)
    # the same seed draws the same mask at every probe: the layer is then a fixed function
    numeric = numerical_gradient_array(
        lambda v: reg.dropout_forward(v, 0.3, train, np.random.default_rng(7))[0], x, upstream
    )
    assert rel_error(dx, numeric) < 1e-8
    xt = torch.tensor(x, requires_grad=True)
    (xt * torch.from_numpy(mask) * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-15)
    if train:
        assert np.all(dx[mask == 0] == 0)  # a dropped unit passes no gradient


def test_dropout_keeps_dtype_does_not_mutate_and_checks_its_arguments():
    x = np.ones((3, 4), dtype=np.float32)
    before = x.copy()
    out, mask = reg.dropout_forward(x, 0.5, True, np.random.default_rng(0))
    assert out.dtype == mask.dtype == np.float32
    assert reg.dropout_backward(mask, np.ones((3, 4))).dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert reg.dropout_forward([1, 2], 0.5, False)[0].dtype == np.float64
    with pytest.raises(ValueError, match="rng"):
        reg.dropout_forward(x, 0.5, True)
    with pytest.raises(ValueError, match="drop probability"):
        reg.dropout_forward(x, 1.5, True, np.random.default_rng(0))
    with pytest.raises(ValueError, match="upstream"):
        reg.dropout_backward(mask, np.ones(4))


# --- batch norm ----------------------------------------------------------------------------


def bn_inputs(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=3.0, scale=2.0, size=(n, d))
    gamma, beta = rng.uniform(0.5, 2.0, size=d), rng.normal(size=d)
    running_mean, running_var = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    return x, gamma, beta, running_mean, running_var


BN_CASES = [(2, 3, {}), (8, 5, {}), (32, 4, {"momentum": 0.3, "eps": 1e-3})]
BN_IDS = ["N=2", "N=8", "momentum 0.3 eps 1e-3"]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("n", "d", "options"), BN_CASES, ids=BN_IDS)
def test_batchnorm_forward_and_running_stats_match_torch(n, d, options, train):
    x, gamma, beta, running_mean, running_var = bn_inputs(n, d)
    rm_t, rv_t = torch.tensor(running_mean), torch.tensor(running_var)  # torch updates these
    expected = F.batch_norm(
        torch.tensor(x),
        rm_t,
        rv_t,
        torch.tensor(gamma),
        torch.tensor(beta),
        training=train,
        **options,
    )
    out, _, new_mean, new_var = reg.batchnorm_forward(
        x, gamma, beta, running_mean, running_var, train, **options
    )
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(new_mean, rm_t.numpy(), rtol=1e-13)
    np.testing.assert_allclose(new_var, rv_t.numpy(), rtol=1e-13)


def test_batchnorm_running_stats_over_several_steps_match_nn_batchnorm1d():
    d = 4
    layer = nn.BatchNorm1d(d).double()
    _, gamma, beta, _, _ = bn_inputs(1, d)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    running_mean, running_var = np.zeros(d), np.ones(d)  # BatchNorm1d's initial values
    for step in range(6):
        x = bn_inputs(10, d, seed=step)[0] * (step + 1)
        layer.train()
        expected = layer(torch.from_numpy(x)).detach().numpy()
        out, _, running_mean, running_var = reg.batchnorm_forward(
            x, gamma, beta, running_mean, running_var, train=True
        )
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(running_mean, layer.running_mean.numpy(), rtol=1e-13)
        np.testing.assert_allclose(running_var, layer.running_var.numpy(), rtol=1e-13)
    x_test = bn_inputs(3, d, seed=99)[0]
    layer.eval()
    out, *_ = reg.batchnorm_forward(x_test, gamma, beta, running_mean, running_var, train=False)
    np.testing.assert_allclose(out, layer(torch.from_numpy(x_test)).detach(), rtol=1e-12)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("n", "d", "options"), BN_CASES, ids=BN_IDS)
def test_batchnorm_backward_matches_torch_autograd_and_finite_differences(n, d, options, train):
    x, gamma, beta, running_mean, running_var = bn_inputs(n, d, seed=1)
    upstream = np.random.default_rng(2).normal(size=(n, d))
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out_t = F.batch_norm(
        tensors[0],
        torch.tensor(running_mean),
        torch.tensor(running_var),
        tensors[1],
        tensors[2],
        training=train,
        **options,
    )
    (out_t * torch.from_numpy(upstream)).sum().backward()

    def forward(x_, gamma_, beta_):
        return reg.batchnorm_forward(
            x_, gamma_, beta_, running_mean, running_var, train, **options
        )[0]

    _, cache, _, _ = reg.batchnorm_forward(
        x, gamma, beta, running_mean, running_var, train, **options
    )
    grads = reg.batchnorm_backward(cache, upstream)
    numerics = [
        numerical_gradient_array(lambda v: forward(v, gamma, beta), x, upstream),
        numerical_gradient_array(lambda v: forward(x, v, beta), gamma, upstream),
        numerical_gradient_array(lambda v: forward(x, gamma, v), beta, upstream),
    ]
    for grad, t, numeric in zip(grads, tensors, numerics, strict=True):
        assert grad.shape == t.shape
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    if train:  # the batch mean is subtracted: shifting all of x changes nothing
        np.testing.assert_allclose(grads[0].sum(axis=0), 0.0, atol=1e-12)


def test_batchnorm_does_not_mutate_keeps_float32_and_checks_its_input():
    args = [a.astype(np.float32) for a in bn_inputs(6, 3)]
    for train in (True, False):
        before = copy.deepcopy(args)
        out, cache, new_mean, new_var = reg.batchnorm_forward(*args, train=train)
        np.testing.assert_equal(args, before)
        assert not np.shares_memory(new_mean, args[3]) and not np.shares_memory(new_var, args[4])
        assert out.dtype == new_mean.dtype == new_var.dtype == np.float32
        upstream = np.ones((6, 3), dtype=np.float32)
        assert all(g.dtype == np.float32 for g in reg.batchnorm_backward(cache, upstream))
        np.testing.assert_array_equal(upstream, 1.0)
    with pytest.raises(ValueError, match="N >= 2"):
        reg.batchnorm_forward(*[a[:1] if a.ndim == 2 else a for a in args], train=True)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        reg.batchnorm_forward(np.ones(3), *args[1:], train=True)
    one_sample, *_ = reg.batchnorm_forward(args[0][:1], *args[1:], train=False)  # eval: fine
    assert one_sample.shape == (1, 3)


# --- early stopping ------------------------------------------------------------------------

# metric per epoch, settings, expected (epoch at which step() returns True or None, best epoch)
STOPPING_CASES = [
    ([1.0, 0.5, 0.6, 0.55], {"patience": 2}, (4, 2)),
    ([1.0, 0.5, 0.6, 0.4, 0.45, 0.5], {"patience": 2}, (6, 4)),
    ([1.0, 0.9, 0.8, 0.7], {"patience": 1}, (None, 4)),
    ([1.0, 1.0, 1.0], {"patience": 2}, (3, 1)),  # equal is not better
    ([1.0, 0.95, 0.92, 0.5], {"patience": 2, "min_delta": 0.1}, (3, 1)),  # steps too small
    ([1.0, 0.85, 0.7, 0.8], {"patience": 2, "min_delta": 0.1}, (None, 3)),
    ([0.5, 0.7, 0.6, 0.65], {"patience": 2, "mode": "max"}, (4, 2)),
    ([float("nan"), 1.0, float("nan"), float("nan")], {"patience": 2}, (4, 2)),
]


@pytest.mark.parametrize(("metrics", "settings", "expected"), STOPPING_CASES)
def test_early_stopping_stops_at_the_right_epoch(metrics, settings, expected):
    stopper = reg.EarlyStopping(**settings, restore_best=False)
    stop_epoch = None
    for epoch, metric in enumerate(metrics, start=1):
        if stopper.step(metric):
            stop_epoch = epoch
            break
    assert (stop_epoch, stopper.best_epoch) == expected
    assert stopper.epoch == (stop_epoch or len(metrics))


class Scalar(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))
        self.register_buffer("steps", torch.zeros(()))


def train_with_early_stopping(stopper, val_losses):
    """Each epoch, an in-place SGD step adds 1 to every weight (as real training does, in
    place); returns the model and the weights it had after each epoch."""
    model = Scalar()
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    seen = []
    for loss in val_losses:
        sgd.zero_grad()
        (-model.w.sum()).backward()
        sgd.step()
        model.steps += 1
        seen.append(model.w.detach().clone())
        if stopper.step(loss, model):
            break
    return model, seen


def test_early_stopping_restores_the_best_weights_not_the_last():
    stopper = reg.EarlyStopping(patience=2)
    model, seen = train_with_early_stopping(stopper, [3.0, 1.0, 2.0, 2.5, 0.1])
    assert len(seen) == 4 and stopper.best_epoch == 2
    assert torch.equal(model.w.detach(), seen[1]) and model.steps.item() == 2  # buffers too
    # ran to the end without stopping: restore() gives the best weights back
    stopper = reg.EarlyStopping(patience=5)
    model, seen = train_with_early_stopping(stopper, [3.0, 1.0, 2.0])
    assert torch.equal(model.w.detach(), seen[2])
    stopper.restore(model)
    assert torch.equal(model.w.detach(), seen[1])


def test_a_state_dict_that_is_not_deep_copied_would_be_caught(monkeypatch):
    # the bug: keeping model.state_dict() itself, whose tensors are the live parameters
    monkeypatch.setattr(reg, "copy", types.SimpleNamespace(deepcopy=lambda state: state))
    stopper = reg.EarlyStopping(patience=2)
    model, seen = train_with_early_stopping(stopper, [3.0, 1.0, 2.0, 2.5])
    assert torch.equal(model.w.detach(), seen[-1])  # "restored" the last weights
    assert not torch.equal(model.w.detach(), seen[1])  # what the test above demands


def test_early_stopping_state_dict_round_trip_continues_the_same_run():
    losses = [3.0, 1.0, 2.0, 0.5, 0.7, 0.8, 0.9]
    straight = reg.EarlyStopping(patience=3, restore_best=False)
    decisions = [straight.step(m) for m in losses]
    first = reg.EarlyStopping(patience=3, restore_best=False)
    head = [first.step(m) for m in losses[:3]]
    second = reg.EarlyStopping(patience=3, restore_best=False)
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    assert head + [second.step(m) for m in losses[3:]] == decisions
    assert second.state_dict() == straight.state_dict()


def test_early_stopping_checks_its_settings():
    for bad, match in [
        ({"patience": 0}, "patience"),
        ({"patience": 2, "min_delta": -0.1}, "min_delta"),
        ({"patience": 2, "mode": "best"}, "mode"),
    ]:
        with pytest.raises(ValueError, match=match):
            reg.EarlyStopping(**bad)
    with pytest.raises(ValueError, match="model"):
        reg.EarlyStopping(patience=2).step(1.0)
    with pytest.raises(ValueError, match="restore_best"):
        reg.EarlyStopping(patience=2, restore_best=False).restore(Scalar())


def test_docstring_examples_are_correct():
    result = doctest.testmod(reg, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 14 and result.failed == 0
