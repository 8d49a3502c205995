"""dl_helpers.networks against independent oracles: the same network built from
``torch.nn`` layers in float64 (outputs, autograd gradients, one SGD step, parameter counts,
``torch.utils.flop_counter``) and centred finite differences."""

from __future__ import annotations

import contextlib
import doctest
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dl_helpers import networks as net
from dl_helpers.checks import assert_not_mutated, run_cases
from dl_helpers.data import xor
from dl_helpers.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

TORCH_ACTIVATIONS = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "identity": nn.Identity,
}
NAMES = list(TORCH_ACTIVATIONS)
ARCHITECTURES = [[3, 2], [3, 5, 2], [4, 6, 5, 3], [2, 16, 16, 1]]


@contextlib.contextmanager
def strict_floats() -> Iterator[None]:
    """Every NumPy floating-point event raises and every warning is an error."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


def random_params(sizes, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(scale=1 / np.sqrt(a), size=(a, b)).astype(dtype), rng.normal(size=b))
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def random_x(n, d, seed=1):
    return np.random.default_rng(seed).normal(size=(n, d))


def torch_mlp(params, activation):
    """The same MLP as torch layers: ``nn.Linear`` stores ``W.T`` as its weight."""
    layers = []
    for i, (W, b) in enumerate(params):
        linear = nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.asarray(W, dtype=np.float64).T))
            linear.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)))
        layers.append(linear)
        if i < len(params) - 1:
            layers.append(TORCH_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def torch_grads(model):
    """``[(dW, db), ...]`` of a torch MLP, in our layout (``dW = weight.grad.T``)."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return [(m.weight.grad.numpy().T, m.bias.grad.numpy()) for m in linears]


# --- one neuron, one layer -----------------------------------------------------------------


@pytest.mark.parametrize("activation", NAMES)
@pytest.mark.parametrize("batch", [None, 6], ids=["(D,)", "(N, D)"])
def test_neuron_forward_matches_a_torch_linear_unit(batch, activation):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4,) if batch is None else (batch, 4))
    w, b = rng.normal(size=4), 0.3
    unit = torch_mlp([(w[:, None], np.array([b]))], activation)
    expected = TORCH_ACTIVATIONS[activation]()(unit(torch.from_numpy(x))).detach().numpy()
    out = net.neuron_forward(x, w, b, activation)
    assert out.shape == (() if batch is None else (batch,))
    np.testing.assert_allclose(out, expected[..., 0], rtol=1e-13)


def test_dense_forward_matches_torch_linear():
    W, b = random_params([5, 3], seed=3)[0]
    x = random_x(7, 5)
    expected = F.linear(torch.from_numpy(x), torch.from_numpy(W.T), torch.from_numpy(b))
    out = net.dense_forward(x, W, b)
    assert out.shape == (7, 3)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-13)


def test_dense_backward_matches_autograd_and_finite_differences():
    W, b = random_params([5, 3], seed=4)[0]
    x, upstream = random_x(7, 5, seed=5), random_x(7, 3, seed=6)
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    ((xt @ Wt + bt) * torch.from_numpy(upstream)).sum().backward()
    dx, dW, db = net.dense_backward(x, W, b, upstream)
    for ours, t in ((dx, xt), (dW, Wt), (db, bt)):
        assert ours.shape == t.shape
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-12)
    assert rel_error(dx, numerical_gradient_array(lambda v: net.dense_forward(v, W, b), x,
                                                  upstream)) < 1e-8  # fmt: skip
    assert rel_error(dW, numerical_gradient_array(lambda v: net.dense_forward(x, v, b), W,
                                                  upstream)) < 1e-8  # fmt: skip
    assert rel_error(db, numerical_gradient_array(lambda v: net.dense_forward(x, W, v), b,
                                                  upstream)) < 1e-8  # fmt: skip


# --- the MLP: forward, cache, backward -----------------------------------------------------


@pytest.mark.parametrize("activation", NAMES)
@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=str)
def test_mlp_forward_matches_torch_sequential(sizes, activation):
    params = random_params(sizes, seed=7)
    x = random_x(9, sizes[0], seed=8)
    out, cache = net.mlp_forward(x, params, activation)
    model = torch_mlp(params, activation)
    np.testing.assert_allclose(out, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)
    # the cache holds every layer's input and pre-activation, in order
    assert len(cache.inputs) == len(cache.pre_activations) == len(params)
    np.testing.assert_array_equal(cache.inputs[0], x)
    np.testing.assert_array_equal(cache.pre_activations[-1], out)
    with torch.no_grad():
        a = torch.from_numpy(x)
        for i, module in enumerate(model):
            a = module(a)
            if isinstance(module, nn.Linear):
                np.testing.assert_allclose(cache.pre_activations[i // 2], a.numpy(), rtol=1e-12)


@pytest.mark.parametrize("activation", NAMES)
@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=str)
def test_mlp_backward_matches_torch_autograd(sizes, activation):
    params = random_params(sizes, seed=9)
    x, upstream = random_x(9, sizes[0], seed=10), random_x(9, sizes[-1], seed=11)
    out, cache = net.mlp_forward(x, params, activation)
    model = torch_mlp(params, activation)
    (model(torch.from_numpy(x)) * torch.from_numpy(upstream)).sum().backward()
    grads = net.mlp_backward(cache, upstream)
    assert len(grads) == len(params)
    for (dW, db), (eW, eb), (W, b) in zip(grads, torch_grads(model), params, strict=True):
        assert dW.shape == W.shape and db.shape == b.shape
        np.testing.assert_allclose(dW, eW, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(db, eb, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_mlp_backward_matches_finite_differences(activation):
    sizes = [3, 5, 4, 2]
    params = random_params(sizes, seed=12)
    x, upstream = random_x(6, 3, seed=13), random_x(6, 2, seed=14)
    grads = net.mlp_backward(net.mlp_forward(x, params, activation)[1], upstream)

    def loss(_):  # numerical_gradient perturbs the parameter arrays in place
        return float(np.sum(net.mlp_forward(x, params, activation)[0] * upstream))

    # atol: a centred difference carries a rounding error of about eps * |loss| / h ~ 1e-10
    for (W, b), (dW, db) in zip(params, grads, strict=True):
        np.testing.assert_allclose(dW, numerical_gradient(loss, W), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(db, numerical_gradient(loss, b), rtol=1e-6, atol=1e-9)


def test_without_activations_an_mlp_is_one_affine_map():
    (W1, b1), (W2, b2), (W3, b3) = random_params([4, 8, 8, 3], seed=15)
    x = random_x(10, 4, seed=16)
    out, _ = net.mlp_forward(x, [(W1, b1), (W2, b2), (W3, b3)], "identity")
    W, b = W1 @ W2 @ W3, (b1 @ W2 + b2) @ W3 + b3
    np.testing.assert_allclose(out, x @ W + b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_keeps_float32_and_stays_finite_at_extreme_inputs(dtype):
    params = [(W.astype(dtype), b.astype(dtype)) for W, b in random_params([2, 8, 1], seed=17)]
    x = np.array([[1e4, -1e4], [-1e4, 1e4], [0.0, 0.0]], dtype=dtype)
    for activation in ("tanh", "sigmoid", "relu"):
        with strict_floats():
            out, cache = net.mlp_forward(x, params, activation)
            grads = net.mlp_backward(cache, np.ones((3, 1), dtype=dtype))
        assert out.dtype == dtype and np.all(np.isfinite(out))
        for dW, db in grads:
            assert dW.dtype == db.dtype == dtype
            assert np.all(np.isfinite(dW)) and np.all(np.isfinite(db))


# --- costs: parameters and multiply-adds -----------------------------------------------


@pytest.mark.parametrize("sizes", [*ARCHITECTURES, [64, 10], [784, 256, 256, 10]], ids=str)
def test_count_params_matches_torch_numel(sizes):
    model = torch_mlp(random_params(sizes), "relu")
    assert net.count_params(sizes) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("sizes", [*ARCHITECTURES, [784, 256, 256, 10]], ids=str)
def test_count_flops_is_half_of_torch_flop_counter_per_example(sizes):
    model, n = torch_mlp(random_params(sizes), "tanh"), 5
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(n, sizes[0], dtype=torch.float64))
    # torch counts a multiply and an add as two operations; we count a multiply-add once
    assert 2 * n * net.count_flops(sizes) == counter.get_total_flops()


# --- one training step -----------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.1, 2.0])
def test_train_step_matches_a_torch_sgd_step(lr):
    params = random_params([2, 4, 1], seed=18)
    X, y = xor(40, seed=1, as_tensors=False)
    x = X.astype(np.float64)
    new, loss = net.train_step(params, x, y, lr)

    model = torch_mlp(params, "tanh")
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    expected = F.binary_cross_entropy_with_logits(
        model(torch.from_numpy(x))[:, 0], torch.from_numpy(y.astype(np.float64))
    )
    expected.backward()
    opt.step()
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-13)
    for (W, b), linear in zip(new, [m for m in model if isinstance(m, nn.Linear)], strict=True):
        np.testing.assert_allclose(W, linear.weight.detach().numpy().T, rtol=1e-12)
        np.testing.assert_allclose(b, linear.bias.detach().numpy(), rtol=1e-12)


def test_train_step_learns_xor():
    X, y = xor(200, seed=2, as_tensors=False)
    params = random_params([2, 4, 1], seed=19)
    for _ in range(500):
        params, loss = net.train_step(params, X, y, lr=1.0)
    out, _ = net.mlp_forward(X, params)
    assert loss < 0.2 and np.mean((out[:, 0] > 0) == (y == 1)) > 0.95


def test_train_step_does_not_modify_its_arguments():
    X, y = xor(20, seed=3, as_tensors=False)
    params = random_params([2, 3, 1], seed=20)
    flat = [a for pair in params for a in pair]
    before = [a.copy() for a in flat]
    assert_not_mutated(net.train_step, params, X, y, 0.5)
    for now, was in zip(flat, before, strict=True):
        np.testing.assert_array_equal(now, was)


def test_mlp_forward_and_backward_do_not_modify_their_arguments():
    params = random_params([3, 4, 2], seed=21)
    x, upstream = random_x(5, 3), random_x(5, 2)
    before = [a.copy() for pair in params for a in pair]
    _, cache = assert_not_mutated(net.mlp_forward, x, params, "relu")
    assert_not_mutated(net.mlp_backward, cache, upstream)
    for now, was in zip([a for pair in params for a in pair], before, strict=True):
        np.testing.assert_array_equal(now, was)


# --- declarative cases: hand-computed values, inputs deep-copied and checked unchanged -----


@pytest.mark.parametrize(
    ("func", "cases"),
    [
        (net.neuron_forward, [
            {"args": (np.array([1.0, 2.0]), np.array([0.5, -0.25]), 0.1, "relu"),
             "expected": np.float64(0.1), "why": "0.5 - 0.5 + 0.1, positive: passes"},
            {"args": (np.array([1.0, 2.0]), np.array([-0.5, -0.25]), 0.1, "relu"),
             "expected": np.float64(0.0), "why": "negative pre-activation: relu gives 0"},
            {"args": (np.zeros((3, 2)), np.ones(2), 0.0, "sigmoid"),
             "expected": np.full(3, 0.5), "why": "a batch of three, sigmoid(0)"},
        ]),
        (net.dense_forward, [
            {"args": (np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([[1.0, 0.0, -1.0],
                      [0.0, 1.0, 1.0]]), np.array([0.0, 0.5, 0.0])),
             "expected": np.array([[1.0, 2.5, 1.0], [0.0, 1.5, 1.0]]),
             "why": "column j of W is neuron j; b is added to every row"},
        ]),
        (net.dense_backward, [
            {"args": (np.array([[1.0, 2.0]]), np.eye(2), np.zeros(2), np.array([[1.0, -1.0]])),
             "expected": (np.array([[1.0, -1.0]]), np.array([[1.0, -1.0], [2.0, -2.0]]),
                          np.array([1.0, -1.0])),
             "why": "dx = G W^T, dW = x^T G, db = sum over rows"},
        ]),
        (net.count_params, [
            {"args": ([2, 16, 16, 1],), "expected": 337, "check_dtype": False,
             "why": "micrograd's 2-16-16-1 MLP"},
            {"args": ([64, 10],), "expected": 650, "check_dtype": False,
             "why": "logistic regression on digits"},
        ]),
        (net.count_flops, [
            {"args": ([2, 16, 16, 1],), "expected": 304, "check_dtype": False,
             "why": "2*16 + 16*16 + 16*1 multiply-adds"},
        ]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)  # fmt: skip
def test_hand_computed_cases(func, cases):
    run_cases(func, cases)


# --- input checks, documentation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: net.neuron_forward(np.ones(3), np.ones(2), 0.0), "w"),
        (lambda: net.neuron_forward(np.ones(2), np.ones(2), np.zeros(2)), "scalar"),
        (lambda: net.neuron_forward(np.ones(2), np.ones(2), 0.0, "swish"), "activation"),
        (lambda: net.dense_forward(np.ones(3), np.ones((3, 2)), np.ones(2)), r"x\[None"),
        (lambda: net.dense_forward(np.ones((1, 3)), np.ones((2, 3)), np.ones(3)), "W"),
        (lambda: net.dense_forward(np.ones((1, 3)), np.ones((3, 2)), np.ones(3)), "b"),
        (lambda: net.dense_backward(np.ones((1, 3)), np.ones((3, 2)), np.ones(2), np.ones(2)),
         "upstream"),
        (lambda: net.mlp_forward(np.ones((1, 3)), []), "at least one"),
        (lambda: net.count_params([10]), "two or more"),
        (lambda: net.count_flops([10, 0, 2]), "positive"),
        (lambda: net.train_step(random_params([2, 3, 2]), np.ones((4, 2)), np.ones(4), 0.1),
         "one output"),
    ],
    ids=["neuron w", "neuron b", "activation", "dense 1-d x", "dense W", "dense b",
         "dense upstream", "no layers", "one size", "zero width", "two outputs"],
)  # fmt: skip
def test_bad_input_raises_an_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_are_correct():
    result = doctest.testmod(net, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 12 and result.failed == 0
