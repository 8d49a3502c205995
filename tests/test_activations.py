"""dl_helpers.activations against independent oracles: PyTorch in float64 (values and
autograd derivatives) and centred finite differences."""

from __future__ import annotations

import contextlib
import doctest
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dl_helpers import activations as act
from dl_helpers.gradcheck import numerical_gradient_array, rel_error

SHAPES = [(), (7,), (4, 5), (2, 3, 4)]
EXTREMES = np.array([-1e4, -1000.0, -30.0, -1.5, -0.0, 0.0, 1.5, 30.0, 1000.0, 1e4])


@contextlib.contextmanager
def strict_floats() -> Iterator[None]:
    """Every NumPy floating-point event raises and every warning is an error."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


def random_input(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Normal(0, 3) values kept at least 1e-3 from 0, where ReLU-like functions kink."""
    x = np.random.default_rng(seed).normal(scale=3.0, size=shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def torch_apply(fn: Callable, x: np.ndarray, *args: object) -> np.ndarray:
    return fn(torch.from_numpy(np.asarray(x, dtype=np.float64)), *args).numpy()


def torch_derivative(fn: Callable, x: np.ndarray) -> np.ndarray:
    """d fn(x) / dx elementwise, by autograd: the gradient of sum(fn(x))."""
    t = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    fn(t).sum().backward()
    return t.grad.numpy()


def sum_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes along which an array of ``shape`` was broadcast to g.shape."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


# name, our function, torch oracle (all elementwise, one argument)
ELEMENTWISE = [
    ("sigmoid", act.sigmoid, torch.sigmoid),
    ("tanh", act.tanh, torch.tanh),
    ("relu", act.relu, torch.relu),
    ("leaky_relu", act.leaky_relu, F.leaky_relu),
    (
        "leaky_relu(alpha=0.2)",
        lambda x: act.leaky_relu(x, alpha=0.2),
        lambda t: F.leaky_relu(t, 0.2),
    ),
    ("elu", act.elu, F.elu),
    ("elu(alpha=0.5)", lambda x: act.elu(x, alpha=0.5), lambda t: F.elu(t, 0.5)),
    ("silu", act.silu, F.silu),
]
# name, our derivative, our forward function, torch oracle for the forward function
DERIVATIVES = [
    ("sigmoid_grad", act.sigmoid_grad, act.sigmoid, torch.sigmoid),
    ("tanh_grad", act.tanh_grad, act.tanh, torch.tanh),
    ("relu_grad", act.relu_grad, act.relu, torch.relu),
    ("leaky_relu_grad", act.leaky_relu_grad, act.leaky_relu, F.leaky_relu),
    (
        "leaky_relu_grad(alpha=0.2)",
        lambda x: act.leaky_relu_grad(x, alpha=0.2),
        lambda x: act.leaky_relu(x, alpha=0.2),
        lambda t: F.leaky_relu(t, 0.2),
    ),
    ("elu_grad", act.elu_grad, act.elu, F.elu),
    (
        "elu_grad(alpha=0.5)",
        lambda x: act.elu_grad(x, alpha=0.5),
        lambda x: act.elu(x, alpha=0.5),
        lambda t: F.elu(t, 0.5),
    ),
    ("silu_grad", act.silu_grad, act.silu, F.silu),
    # GELU's values have their own tests below: torch's float64 F.gelu loses relative
    # accuracy in the left tail, ours does not; its derivative (from exp) is accurate
    ("gelu_grad", act.gelu_grad, act.gelu, F.gelu),
]
DERIVATIVE_IDS = [d[0] for d in DERIVATIVES]
SOFTMAX_CASES = [(shape, axis) for shape in SHAPES[1:] for axis in range(-1, len(shape))]
ALL_FUNCTIONS = [
    *[(name, f) for name, f, *_ in ELEMENTWISE + DERIVATIVES],
    ("prelu", lambda x: act.prelu(x, 0.25)),
    ("prelu_grad[dx]", lambda x: act.prelu_grad(x, 0.25)[0]),
    ("prelu_grad[da]", lambda x: act.prelu_grad(x, 0.25)[1]),
    ("gelu", act.gelu),
    ("softmax", act.softmax),
    ("log_softmax", act.log_softmax),
    (
        "softmax_backward",
        lambda x: act.softmax_backward(x, np.linspace(-1, 1, np.size(x)).reshape(np.shape(x))),
    ),
]


# --- values and derivatives against torch float64 ---------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "ours", "oracle"), ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_matches_torch(name, ours, oracle, shape):
    x = random_input(shape)
    out = ours(x)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64
    np.testing.assert_allclose(out, torch_apply(oracle, x), rtol=1e-13, atol=0)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "ours", "forward", "oracle"), DERIVATIVES, ids=DERIVATIVE_IDS)
def test_derivative_matches_torch_autograd(name, ours, forward, oracle, shape):
    x = random_input(shape, seed=1)
    out = ours(x)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64
    # atol: torch computes sigmoid' as s * (1 - s), which keeps only ~1e-16 absolute accuracy
    np.testing.assert_allclose(out, torch_derivative(oracle, x), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize(("name", "ours", "forward", "oracle"), DERIVATIVES, ids=DERIVATIVE_IDS)
def test_derivative_matches_torch_at_zero_and_extremes(name, ours, forward, oracle):
    # relu'(0) = 0 and leaky_relu'(0) = alpha: the conventions PyTorch uses
    np.testing.assert_allclose(
        ours(EXTREMES), torch_derivative(oracle, EXTREMES), rtol=1e-12, atol=1e-16
    )


@pytest.mark.parametrize(("name", "ours", "forward", "oracle"), DERIVATIVES, ids=DERIVATIVE_IDS)
def test_derivative_matches_finite_differences_of_the_forward_function(name, ours, forward, oracle):
    x = random_input((3, 4), seed=2)
    # elementwise: the vector-Jacobian product with an all-ones upstream is the derivative
    numeric = numerical_gradient_array(forward, x, np.ones_like(x))
    # atol: a centred difference carries a rounding error of about eps * |f| / h ~ 1e-11
    np.testing.assert_allclose(ours(x), numeric, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_prelu_scalar_slope_matches_torch(shape):
    x = random_input(shape, seed=3)
    weight = torch.tensor([0.25], dtype=torch.float64)
    np.testing.assert_allclose(act.prelu(x, 0.25), torch_apply(F.prelu, x, weight), rtol=1e-14)
    dy_dx, dy_da = act.prelu_grad(x, 0.25)
    np.testing.assert_allclose(dy_dx, torch_derivative(lambda t: F.prelu(t, weight), x))
    np.testing.assert_array_equal(dy_da, np.where(x > 0, 0.0, x))


@pytest.mark.parametrize(
    ("shape", "slope_shape"),
    [((4, 5), (5,)), ((2, 3, 4), (3, 1))],  # torch's channel axis is 1: ours broadcasts
    ids=["(N,C)", "(N,C,L)"],
)
def test_prelu_per_channel_slope_matches_torch_autograd(shape, slope_shape):
    rng = np.random.default_rng(4)
    x = random_input(shape, seed=4)
    a = rng.uniform(0.05, 0.5, size=slope_shape)
    upstream = rng.normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    at = torch.tensor(a.reshape(-1), requires_grad=True)
    yt = F.prelu(xt, at)
    (yt * torch.from_numpy(upstream)).sum().backward()

    np.testing.assert_allclose(act.prelu(x, a), yt.detach().numpy(), rtol=1e-14)
    dy_dx, dy_da = act.prelu_grad(x, a)
    assert dy_dx.shape == dy_da.shape == shape  # elementwise, as documented
    np.testing.assert_allclose(upstream * dy_dx, xt.grad.numpy(), rtol=1e-12)
    # summing over the axes `a` was broadcast along gives the gradient of `a`
    grad_a = sum_to_shape(upstream * dy_da, slope_shape)
    np.testing.assert_allclose(grad_a.reshape(-1), at.grad.numpy(), rtol=1e-12)
    numeric = numerical_gradient_array(lambda v: act.prelu(x, v), a, upstream)
    assert rel_error(grad_a, numeric) < 1e-8


def test_prelu_rejects_a_slope_that_does_not_broadcast_to_x():
    with pytest.raises(ValueError):
        act.prelu(np.ones((2, 3, 4)), np.ones(3))  # (3,) aligns with the last axis (4)


@pytest.mark.parametrize(("shape", "axis"), [((), -1), *SOFTMAX_CASES], ids=str)
def test_softmax_and_log_softmax_match_torch(shape, axis):
    x = random_input(shape, seed=5)
    s = act.softmax(x, axis=axis)
    assert s.shape == shape
    np.testing.assert_allclose(s, torch_apply(torch.softmax, x, axis), rtol=1e-13)
    np.testing.assert_allclose(np.sum(s, axis=axis if shape else None), 1.0, rtol=1e-14)
    np.testing.assert_allclose(
        act.log_softmax(x, axis=axis),
        torch_apply(torch.log_softmax, x, axis),
        rtol=1e-13,
        atol=1e-15,
    )


@pytest.mark.parametrize(("shape", "axis"), [((), -1), *SOFTMAX_CASES], ids=str)
def test_softmax_backward_matches_torch_autograd_and_finite_differences(shape, axis):
    rng = np.random.default_rng(6)
    x = random_input(shape, seed=6)
    upstream = rng.normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    (torch.softmax(xt, axis) * torch.from_numpy(upstream)).sum().backward()

    grad = act.softmax_backward(x, upstream, axis=axis)
    assert grad.shape == shape
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-10, atol=1e-15)
    numeric = numerical_gradient_array(lambda v: act.softmax(v, axis=axis), x, upstream)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-10)


def test_softmax_backward_rejects_upstream_of_another_shape():
    with pytest.raises(ValueError, match="upstream"):
        act.softmax_backward(np.zeros((2, 3)), np.zeros(3))


# --- stability: extreme inputs, no warnings ----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("name", "ours", "expected"),
    [(name, f, lambda x, o=oracle: torch_apply(o, x)) for name, f, oracle in ELEMENTWISE]
    + [(name, f, lambda x, o=oracle: torch_derivative(o, x)) for name, f, _, oracle in DERIVATIVES],
    ids=[e[0] for e in ELEMENTWISE] + DERIVATIVE_IDS,
)
def test_extreme_inputs_are_finite_warning_free_and_correct(name, ours, expected, dtype):
    x = EXTREMES.astype(dtype)
    with strict_floats():
        out = ours(x)
    assert out.dtype == dtype and np.all(np.isfinite(out))
    np.testing.assert_allclose(out, expected(x), rtol=1e-6, atol=1e-16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_extreme_logits(dtype):
    logits = np.array(
        [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 1e4], [3.0, 3.0, 3.0]], dtype=dtype
    )
    with strict_floats():
        s = act.softmax(logits)
        log_s = act.log_softmax(logits)
        grad = act.softmax_backward(logits, np.ones_like(logits))
    assert s.dtype == log_s.dtype == grad.dtype == dtype
    third = np.full(3, 1 / 3)
    np.testing.assert_allclose(s, [[1.0, 0.0, 0.0], third, third, third], rtol=1e-6, atol=0)
    np.testing.assert_allclose(log_s[0], [0.0, -2e4, -1e4], rtol=1e-6)  # finite, not -inf
    np.testing.assert_allclose(log_s[1:], np.log(1 / 3), rtol=1e-6)
    np.testing.assert_allclose(grad, 0.0, atol=1e-7)  # softmax sums to 1: no gradient


def test_sigmoid_grad_keeps_its_digits_where_sigmoid_rounds_to_one():
    # closed form: sigma'(x) = e^-|x| / (1 + e^-|x|)^2, symmetric in x
    x = np.array([-40.0, -30.0, 30.0, 40.0])
    exact = np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2
    np.testing.assert_allclose(act.sigmoid_grad(x), exact, rtol=1e-14)
    np.testing.assert_allclose(act.sigmoid_grad(x.astype(np.float32)), exact, rtol=1e-6)


def test_sigmoid_saturates_to_exact_limits():
    with strict_floats():
        np.testing.assert_array_equal(act.sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])
        assert act.sigmoid(-0.0) == act.sigmoid(0.0) == 0.5


def normal_cdf_left_tail(x: np.ndarray) -> np.ndarray:
    """Phi(x) for x <= -8 by its asymptotic series, an oracle independent of erf/erfc:
    phi(x) / |x| * (1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8), relative error < 945/x^10 (1e-6)."""
    u = 1 / (x * x)
    series = 1 - u + 3 * u**2 - 15 * u**3 + 105 * u**4
    return np.exp(-x * x / 2) / np.sqrt(2 * np.pi) / np.abs(x) * series


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gelu_matches_torch(shape):
    x = random_input(shape, seed=9)
    out = act.gelu(x)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64
    # atol: torch computes x * (1 + erf(x / sqrt 2)) / 2, whose 1 + erf cancels for x << 0
    np.testing.assert_allclose(out, torch_apply(F.gelu, x), rtol=1e-13, atol=1e-15)


def test_gelu_keeps_relative_accuracy_in_the_left_tail():
    x = np.array([-8.0, -10.0, -20.0, -30.0])
    with strict_floats():
        out = act.gelu(x)
    np.testing.assert_allclose(out, x * normal_cdf_left_tail(x), rtol=2e-6)
    assert np.all(out < 0)  # torch's float64 F.gelu gives -0.0 from x = -10 on


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_at_extreme_inputs_is_finite_warning_free_and_correct(dtype):
    x = EXTREMES.astype(dtype)
    with strict_floats():
        out = act.gelu(x)
        grad = act.gelu_grad(x)
    assert out.dtype == grad.dtype == dtype and np.all(np.isfinite(out) & np.isfinite(grad))
    # GELU(x) = x for large x, 0 for very negative x; its slope 1 and 0
    big = np.abs(EXTREMES) >= 1000
    np.testing.assert_array_equal(out[big], np.where(EXTREMES[big] > 0, EXTREMES[big], 0))
    np.testing.assert_array_equal(grad[big], (EXTREMES[big] > 0).astype(dtype))
    np.testing.assert_allclose(out, torch_apply(F.gelu, x), rtol=1e-6, atol=1e-16)
    np.testing.assert_allclose(grad, torch_derivative(F.gelu, x), rtol=1e-6, atol=1e-16)


def test_elu_keeps_its_digits_near_zero_and_silu_grad_in_the_tails():
    tiny = np.array([-1e-10, -1e-300])
    # ELU(x) = x - x^2/2 + ... for small |x|: expm1 keeps it; exp(x) - 1 would give 0
    np.testing.assert_allclose(act.elu(tiny), tiny, rtol=1e-9)
    # SiLU'(x) = sigma(x) (1 + x sigma(-x)), closed form with e = e^-|x|, at x = +-40 where
    # sigma(40) rounds to 1: the slope is 1 on the right and about -39 e^-40 on the left
    x = np.array([-40.0, 40.0])
    e = np.exp(-40.0)
    s = np.array([e / (1 + e), 1 / (1 + e)])
    np.testing.assert_allclose(act.silu_grad(x), s * (1 + x * s[::-1]), rtol=1e-14)


def test_new_activations_relations():
    x = np.linspace(-6, 6, 1201)
    # ELU with alpha = 1 is continuously differentiable at 0; SiLU(x) = x sigmoid(x)
    assert act.elu_grad(0.0) == act.elu_grad(1e-12) == 1.0
    np.testing.assert_allclose(act.silu(x), x * act.sigmoid(x), rtol=1e-15)
    # the documented minima: GELU about -0.17 at -0.75, SiLU about -0.28 at -1.28
    assert abs(act.gelu(x).min() + 0.17) < 0.005 and abs(x[act.gelu(x).argmin()] + 0.75) < 0.01
    assert abs(act.silu(x).min() + 0.278) < 0.001 and abs(x[act.silu(x).argmin()] + 1.28) < 0.01


# --- dtypes, shapes, scalars, no mutation ------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "f"), ALL_FUNCTIONS, ids=[f[0] for f in ALL_FUNCTIONS])
def test_float_dtype_and_shape_are_preserved(name, f, dtype):
    x = random_input((3, 4), seed=7).astype(dtype)
    out = f(x)
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == (3, 4)
    np.testing.assert_allclose(out, f(x.astype(np.float64)), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "x",
    [np.array([-2, 0, 3]), np.array([True, False, True]), [-2, 0, 3], [-2.0, 0.0, 3.0]],
    ids=["int", "bool", "int list", "float list"],
)
@pytest.mark.parametrize(("name", "f"), ALL_FUNCTIONS, ids=[f[0] for f in ALL_FUNCTIONS])
def test_integer_bool_and_list_input_is_computed_in_float64(name, f, x):
    out = f(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, f(np.asarray(x, dtype=np.float64)), rtol=1e-15)


@pytest.mark.parametrize(("name", "f"), ALL_FUNCTIONS, ids=[f[0] for f in ALL_FUNCTIONS])
def test_scalar_input_gives_a_0d_array(name, f):
    for x in (1.5, np.float32(1.5), np.array(1.5)):
        out = f(x)
        assert isinstance(out, np.ndarray) and out.shape == ()
    assert f(np.float32(1.5)).dtype == np.float32


@pytest.mark.parametrize(("name", "f"), ALL_FUNCTIONS, ids=[f[0] for f in ALL_FUNCTIONS])
def test_inputs_are_not_mutated(name, f):
    x = random_input((4, 5), seed=8)
    x_before = x.copy()
    f(x)
    np.testing.assert_array_equal(x, x_before)


def test_gradient_functions_do_not_mutate_their_other_arguments():
    x, a, upstream = random_input((4, 5)), np.full(5, 0.2), np.ones((4, 5))
    a_before, upstream_before = a.copy(), upstream.copy()
    act.prelu_grad(x, a)
    act.softmax_backward(x, upstream)
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(upstream, upstream_before)


# --- identities and documentation --------------------------------------------------------


def test_tanh_is_a_rescaled_sigmoid():
    x = np.linspace(-20, 20, 401)
    np.testing.assert_allclose(act.tanh(x), 2 * act.sigmoid(2 * x) - 1, rtol=1e-12, atol=1e-15)


def test_relu_propagates_nan():
    assert np.isnan(act.relu(np.array([np.nan])))[0]


def test_docstring_examples_are_correct():
    result = doctest.testmod(act, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 12 and result.failed == 0
