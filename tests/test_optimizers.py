"""dl_helpers.optimizers against independent oracles: torch.optim's own optimisers in float64
(step by step, parameters and state) and on a small network trained on moons (ARENA's test),
d2l's published trajectories on f = 0.1 x1^2 + 2 x2^2, closed forms and autograd."""

from __future__ import annotations

import copy
import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dl_helpers import optimizers as opt
from dl_helpers.data import moons
from dl_helpers.training import fit, make_mlp

# name, our step function, torch's optimiser, hyperparameters, gradient scale. The tiny
# gradients (1e-6) make eps matter: inside the square root it would dominate the step.
CONFIGS = [
    ("sgd", opt.sgd_step, torch.optim.SGD, {"lr": 0.1}, 1.0),
    ("sgd wd", opt.sgd_step, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.05}, 1.0),
    ("momentum", opt.momentum_step, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}, 1.0),
    (
        "momentum dampening wd",
        opt.momentum_step,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
        1.0,
    ),
    (
        "nesterov wd",
        opt.momentum_step,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        1.0,
    ),
    ("rmsprop", opt.rmsprop_step, torch.optim.RMSprop, {"lr": 0.01}, 1.0),
    (
        "rmsprop alpha wd",
        opt.rmsprop_step,
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1},
        1.0,
    ),
    ("rmsprop tiny grads", opt.rmsprop_step, torch.optim.RMSprop, {"lr": 0.01}, 1e-6),
    ("adam", opt.adam_step, torch.optim.Adam, {"lr": 0.01}, 1.0),
    (
        "adam betas eps wd",
        opt.adam_step,
        torch.optim.Adam,
        {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
        1.0,
    ),
    ("adam tiny grads", opt.adam_step, torch.optim.Adam, {"lr": 0.01}, 1e-6),
    ("adamw default wd", opt.adamw_step, torch.optim.AdamW, {"lr": 0.01}, 1.0),
    (
        "adamw wd",
        opt.adamw_step,
        torch.optim.AdamW,
        {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.5},
        1.0,
    ),
]
CONFIG_IDS = [c[0] for c in CONFIGS]
STEP_FUNCTIONS = [opt.sgd_step, opt.momentum_step, opt.rmsprop_step, opt.adam_step, opt.adamw_step]
# our class, torch's, hyperparameters: for the training runs
CLASS_CONFIGS = [
    (opt.SGD, torch.optim.SGD, {"lr": 0.1}),
    (opt.SGD, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.01}),
    (opt.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (opt.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    (opt.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1}),
    (opt.RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    (opt.RMSprop, torch.optim.RMSprop, {"lr": 0.005, "alpha": 0.9, "weight_decay": 0.1}),
    (opt.Adam, torch.optim.Adam, {"lr": 0.01}),
    (opt.Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.05}),
    (opt.AdamW, torch.optim.AdamW, {"lr": 0.01}),
    (opt.AdamW, torch.optim.AdamW, {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.5}),
]
CLASS_IDS = [f"{ours.__name__} {kw}" for ours, _, kw in CLASS_CONFIGS]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: torch's thread pool only adds overhead, and thrashes on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gradients(steps: int, scale: float, shape=(3, 4), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=shape) for _ in range(steps)]


def torch_states(cls, hyper, w0, grads):
    """(parameters, state) after each step of torch's optimiser fed the given gradients."""
    p = torch.tensor(w0, requires_grad=True)
    optimizer = cls([p], **hyper)
    for g in grads:
        p.grad = torch.tensor(g)
        optimizer.step()
        state = {k: np.array(v.tolist()) for k, v in optimizer.state[p].items() if v is not None}
        yield p.detach().numpy().copy(), state


# --- step functions: step by step against torch.optim, float64 -----------------------------


@pytest.mark.parametrize(("name", "step_fn", "cls", "hyper", "scale"), CONFIGS, ids=CONFIG_IDS)
def test_step_function_matches_torch_optim_step_by_step(name, step_fn, cls, hyper, scale):
    w0 = np.random.default_rng(1).normal(size=(3, 4))
    grads = gradients(6, scale)
    w, state = w0, {}
    for t, (g, (w_torch, state_torch)) in enumerate(
        zip(grads, torch_states(cls, hyper, w0, grads), strict=True), start=1
    ):
        w, state = step_fn(w, g, state, **hyper)
        np.testing.assert_allclose(w, w_torch, rtol=1e-13, atol=1e-15, err_msg=f"step {t}")
        # the same state under torch's key names (torch's SGD without momentum keeps a
        # momentum_buffer of None, and its RMSprop counts steps, which we do not need)
        if step_fn is opt.rmsprop_step:
            state_torch.pop("step")
        assert state.keys() == state_torch.keys()
        for key, value in state.items():
            np.testing.assert_allclose(value, state_torch[key], rtol=1e-13, atol=1e-300)


def test_first_adam_step_is_bias_corrected():
    # t = 1: m_hat = g and v_hat = g^2, so each coordinate moves by lr * g / (|g| + eps)
    w, g = np.array([1.0, 1.0, 1.0]), np.array([1e3, -1e-3, 2.0])
    new_w, state = opt.adam_step(w, g, {}, lr=0.1, eps=1e-8)
    np.testing.assert_allclose(new_w, w - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-15)
    np.testing.assert_allclose(state["exp_avg"], 0.1 * g)  # stored uncorrected
    np.testing.assert_allclose(state["exp_avg_sq"], 0.001 * g**2)
    assert state["step"] == 1


def test_rmsprop_eps_is_outside_the_square_root():
    w, g = np.zeros(1), np.array([1e-6])
    new_w, _ = opt.rmsprop_step(w, g, {}, lr=1.0, alpha=0.99, eps=1e-8)
    np.testing.assert_allclose(new_w, -1e-6 / (np.sqrt(0.01) * 1e-6 + 1e-8), rtol=1e-14)


def test_momentum_buffer_starts_at_the_gradient_and_is_not_an_average():
    w, state = np.zeros(1), {}
    for _ in range(200):  # constant gradient 1: the buffer tends to 1 / (1 - momentum)
        w, state = opt.momentum_step(w, np.ones(1), state, lr=0.0, momentum=0.9)
        if _ == 0:
            np.testing.assert_array_equal(state["momentum_buffer"], [1.0])
    np.testing.assert_allclose(state["momentum_buffer"], [10.0], rtol=1e-8)


def test_adamw_decay_is_decoupled_and_adam_decay_is_not():
    w, g = np.array([2.0, -4.0]), np.zeros(2)
    new_w, _ = opt.adamw_step(w, g, {}, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(new_w, w * (1 - 0.1 * 0.5), rtol=1e-15)  # every weight x 0.95
    new_w, _ = opt.adam_step(w, g, {}, lr=0.1, weight_decay=0.5)
    # L2 in the gradient is normalised like any gradient: a step of lr for both weights
    np.testing.assert_allclose(new_w, w - 0.1 * np.sign(w), rtol=1e-7)


# --- the Optimizer classes: a network trained on moons, ARENA's test ------------------------


def train_moons(make_optimizer, dtype, steps=20, seed=0):
    """A 2-16-16-2 tanh net trained on moons by mini-batches; returns it and its optimiser."""
    X, y = moons(128, seed=0)
    X = X.to(dtype)
    net = make_mlp(nn.Tanh, [2, 16, 16, 2], seed=seed).to(dtype)
    # biases in their own group with no weight decay and half the learning rate
    decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in net.named_parameters() if n.endswith("bias")]
    optimizer = make_optimizer([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}])
    optimizer.param_groups[1]["lr"] /= 2
    batches = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = torch.randint(len(X), (32,), generator=batches)
        optimizer.zero_grad()
        F.cross_entropy(net(X[rows]), y[rows]).backward()
        optimizer.step()
    return net, optimizer


@pytest.mark.parametrize(
    ("dtype", "tolerance"),
    [(torch.float64, {"rtol": 1e-11, "atol": 1e-13}), (torch.float32, {})],
    ids=["float64", "float32"],
)
@pytest.mark.parametrize(("ours", "theirs", "hyper"), CLASS_CONFIGS, ids=CLASS_IDS)
def test_optimizer_class_trains_a_net_exactly_like_torch(ours, theirs, hyper, dtype, tolerance):
    net, optimizer = train_moons(lambda groups: ours(groups, **hyper), dtype)
    net_torch, optimizer_torch = train_moons(lambda groups: theirs(groups, **hyper), dtype)
    start = make_mlp(nn.Tanh, [2, 16, 16, 2], seed=0)
    for p, p_torch, p0 in zip(
        net.parameters(), net_torch.parameters(), start.parameters(), strict=True
    ):
        assert not torch.equal(p.detach().float(), p0.detach())  # training moved it
        torch.testing.assert_close(p, p_torch, **tolerance)
        state, state_torch = optimizer.state[p], optimizer_torch.state[p_torch]
        for key, value in state.items():
            expected = state_torch[key]
            torch.testing.assert_close(torch.as_tensor(value, dtype=expected.dtype), expected)


def test_optimizer_class_skips_parameters_without_gradient_and_returns_the_closure_loss():
    used, unused = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    optimizer = opt.Adam([used, unused], lr=0.1)
    loss = optimizer.step(lambda: (used.sum().backward(), used.sum().detach())[1])
    assert loss.item() == 2.0
    torch.testing.assert_close(used.detach(), torch.full((2,), 0.9))
    assert torch.equal(unused.detach(), torch.ones(2)) and len(optimizer.state[unused]) == 0


def test_optimizer_state_dict_round_trip_continues_the_same_run():
    def run(split: bool):
        p = nn.Parameter(torch.linspace(-1, 1, 5, dtype=torch.float64))
        optimizer = opt.AdamW([p], lr=0.05)
        for t in range(6):
            if split and t == 3:  # a fresh optimiser loaded from the saved one
                saved = copy.deepcopy(optimizer.state_dict())
                optimizer = opt.AdamW([p], lr=0.05)
                optimizer.load_state_dict(saved)
            p.grad = torch.sin(3.0 * p.detach() + t)
            optimizer.step()
        return p.detach()

    assert torch.equal(run(split=False), run(split=True))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (opt.SGD, torch.optim.SGD),
        (opt.RMSprop, torch.optim.RMSprop),
        (opt.AdamW, torch.optim.AdamW),
    ],
    ids=["SGD", "RMSprop", "AdamW"],
)
def test_optimizer_class_follows_a_learning_rate_scheduler_and_runs_in_fit(ours, theirs):
    results = []
    for cls in (ours, theirs):
        p = nn.Parameter(torch.linspace(-1, 1, 4, dtype=torch.float64))
        optimizer = cls([p], lr=0.1)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        for t in range(6):
            p.grad = torch.cos(3.0 * p.detach() + t)
            optimizer.step()
            schedule.step()
        net = make_mlp(nn.Tanh, [2, 8, 2], seed=1)
        X, y = moons(64, seed=1)
        history = fit(net, X, y, steps=10, batch_size=16, optimizer=lambda q, c=cls: c(q, lr=0.05))
        results.append((p.detach(), history.loss, [q.detach() for q in net.parameters()]))
    (p, loss, params), (p_torch, loss_torch, params_torch) = results
    torch.testing.assert_close(p, p_torch, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(loss, loss_torch, rtol=1e-5)
    torch.testing.assert_close(params, params_torch)


def test_step_functions_run_on_tensors_as_on_arrays():
    w, g = np.linspace(-1, 1, 6), np.cos(np.arange(6.0))
    for step_fn in STEP_FUNCTIONS:
        w_np, state_np = step_fn(w, g, {}, lr=0.1)
        w_np, state_np = step_fn(w_np, g, state_np, lr=0.1)
        w_t, state_t = step_fn(torch.from_numpy(w), torch.from_numpy(g), {}, lr=0.1)
        w_t, state_t = step_fn(w_t, torch.from_numpy(g), state_t, lr=0.1)
        assert isinstance(w_t, torch.Tensor)
        np.testing.assert_allclose(w_t.numpy(), w_np, rtol=1e-15)


# --- contract: no mutation, dtypes, errors -------------------------------------------------


@pytest.mark.parametrize(("name", "step_fn", "cls", "hyper", "scale"), CONFIGS, ids=CONFIG_IDS)
def test_inputs_and_state_are_not_mutated(name, step_fn, cls, hyper, scale):
    w, g = np.linspace(-1, 1, 6), np.cos(np.arange(6.0))
    _, state = step_fn(w, g, {}, **hyper)
    args = (w, g, state)
    before = copy.deepcopy(args)
    new_w, new_state = step_fn(*args, **hyper)
    for arg, arg_before in zip(args, before, strict=True):
        np.testing.assert_equal(arg, arg_before)
    assert new_state is not state and new_w is not w
    # the first momentum buffer must not alias the caller's gradient
    _, fresh = step_fn(w, g, {}, **hyper)
    assert not any(isinstance(v, np.ndarray) and np.shares_memory(v, g) for v in fresh.values())


@pytest.mark.parametrize("step_fn", STEP_FUNCTIONS, ids=lambda f: f.__name__)
def test_float_dtype_is_kept_and_integers_become_float64(step_fn):
    w, g = np.array([1.0, -2.0], dtype=np.float32), np.array([0.5, 0.25], dtype=np.float32)
    new_w, state = step_fn(w, g, None, lr=0.1)
    new_w, state = step_fn(new_w, g, state, lr=0.1)
    assert new_w.dtype == np.float32
    assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))
    assert step_fn(w, g.astype(np.float64), {}, lr=0.1)[0].dtype == np.float32  # w's dtype
    new_w, _ = step_fn([1, -2], np.array([1, 1]), {}, lr=0.1)
    assert new_w.dtype == np.float64
    np.testing.assert_allclose(new_w, step_fn(np.array([1.0, -2.0]), np.ones(2), {}, lr=0.1)[0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: opt.sgd_step(np.ones(2), np.ones(2), {}, lr=-0.1), "lr"),
        (lambda: opt.momentum_step(np.ones(2), np.ones(2), {}, lr=0.1, momentum=1.0), "momentum"),
        (lambda: opt.momentum_step(np.ones(2), np.ones(2), {}, 0.1, 0, nesterov=True), "nesterov"),
        (lambda: opt.rmsprop_step(np.ones(2), np.ones(2), {}, lr=0.1, alpha=1.5), "alpha"),
        (lambda: opt.adam_step(np.ones(2), np.ones(2), {}, lr=0.1, betas=(0.9, 1.0)), "beta2"),
        (lambda: opt.ewma(np.ones(3), beta=-0.1), "beta"),
        (lambda: opt.adamw_step(np.ones(3), np.ones((3, 1)), {}, lr=0.1), "shape"),
        (lambda: opt.SGD([nn.Parameter(torch.ones(2))], lr=0.1, nesterov=True), "nesterov"),
    ],
)
def test_bad_hyperparameters_raise_an_error_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- the surface, trajectories (d2l's published numbers) and the EWMA ----------------------


def test_surface_and_its_gradient_match_autograd():
    x = np.random.default_rng(2).normal(scale=3.0, size=(5, 4, 2))
    xt = torch.tensor(x, requires_grad=True)
    value = 0.1 * xt[..., 0] ** 2 + 2 * xt[..., 1] ** 2
    value.sum().backward()
    np.testing.assert_allclose(opt.surface(x), value.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(opt.surface_grad(x), xt.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize(
    ("step_fn", "hyper", "d2l_x20"),
    [  # d2l "Optimization Algorithms", 20 steps from (-5, -2): the printed final points
        (opt.sgd_step, {"lr": 0.4}, (-0.943467, -0.000073)),  # crawls along x1
        (opt.sgd_step, {"lr": 0.6}, (-0.387814, -1673.365109)),  # diverges along x2
        (opt.momentum_step, {"lr": 0.6, "momentum": 0.5}, (0.007188, 0.002553)),  # converges
    ],
    ids=["gd lr 0.4", "gd lr 0.6", "momentum lr 0.6 beta 0.5"],
)
def test_trajectories_reproduce_d2l(step_fn, hyper, d2l_x20):
    path = opt.trajectory(step_fn, [-5.0, -2.0], 20, **hyper)
    assert path.shape == (21, 2)
    np.testing.assert_array_equal(path[0], [-5.0, -2.0])
    np.testing.assert_allclose(path[-1], d2l_x20, rtol=1e-5, atol=1e-6)


def test_gradient_descent_trajectory_has_its_closed_form():
    # x_t = (1 - lr * curvature)^t x_0 per coordinate, curvatures 0.2 and 4
    t = np.arange(21)[:, None]
    expected = np.array([-5.0, -2.0]) * (1 - 0.4 * np.array([0.2, 4.0])) ** t
    np.testing.assert_allclose(opt.trajectory(opt.sgd_step, [-5.0, -2.0], 20, lr=0.4), expected)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.98])
@pytest.mark.parametrize("bias_correction", [True, False])
def test_ewma_matches_its_direct_formula(beta, bias_correction):
    x = np.random.default_rng(3).normal(size=(50, 3))
    out = opt.ewma(x, beta, bias_correction=bias_correction)
    for t in range(1, 51):  # v_t = (1 - beta) sum_{i <= t} beta^(t - i) x_i
        weights = (1 - beta) * beta ** (t - np.arange(1, t + 1))
        expected = weights @ x[:t]
        if bias_correction:
            expected = expected / weights.sum()  # = 1 - beta^t
        np.testing.assert_allclose(out[t - 1], expected, rtol=1e-12, atol=1e-15)


def test_ewma_keeps_float32_and_does_not_mutate():
    x = np.linspace(0, 1, 10, dtype=np.float32)
    before = x.copy()
    assert opt.ewma(x, 0.9).dtype == np.float32
    np.testing.assert_array_equal(x, before)


def test_docstring_examples_are_correct():
    result = doctest.testmod(opt, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15 and result.failed == 0
