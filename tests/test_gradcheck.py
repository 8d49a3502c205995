"""dl_helpers.gradcheck on functions whose gradients are known in closed form."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from dl_helpers import gradcheck
from dl_helpers.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

SHAPES = [(), (5,), (3, 4), (2, 3, 4)]


def sample(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gradient_of_sum_of_squares_is_2x(shape):
    x = sample(shape)
    grad = numerical_gradient(lambda v: float(np.sum(v**2)), x)
    assert grad.shape == shape and grad.dtype == np.float64
    # rounding error ~ eps * |f| / h, with |f| ~ 24 for 24 elements: ~1e-9 relative
    assert rel_error(grad, 2 * x) < 1e-8


def test_gradient_of_a_quadratic_form_is_a_plus_a_transpose_times_x():
    rng = np.random.default_rng(1)
    A, x = rng.normal(size=(4, 4)), rng.normal(size=4)
    grad = numerical_gradient(lambda v: float(v @ A @ v), x)
    assert rel_error(grad, (A + A.T) @ x) < 1e-9


def test_centred_difference_error_is_h_squared_for_a_cubic():
    # (x+h)^3 - (x-h)^3 = 6x^2 h + 2h^3, so the estimate is exactly 3x^2 + h^2: error O(h^2)
    x = np.array([-1.5, 0.5, 2.0])
    for h in (1e-1, 1e-2):
        grad = numerical_gradient(lambda v: float(np.sum(v**3)), x, h=h)
        np.testing.assert_allclose(grad - 3 * x**2, h**2, rtol=1e-6)


@pytest.mark.parametrize("x_shape", [(1, 3), (5, 3), (2, 4, 3)], ids=str)
def test_vector_jacobian_product_of_a_matrix_product(x_shape):
    # y = x @ W with upstream g = dL/dy: dL/dx = g @ W.T, dL/dW = sum over rows of x^T g
    rng = np.random.default_rng(2)
    x, W = rng.normal(size=x_shape), rng.normal(size=(3, 6))
    upstream = rng.normal(size=(*x_shape[:-1], 6))
    dx = numerical_gradient_array(lambda v: v @ W, x, upstream)
    dW = numerical_gradient_array(lambda w: x @ w, W, upstream)
    assert dx.shape == x.shape and dW.shape == W.shape
    assert rel_error(dx, upstream @ W.T) < 1e-9
    assert rel_error(dW, x.reshape(-1, 3).T @ upstream.reshape(-1, 6)) < 1e-9


def test_vector_jacobian_product_when_f_returns_a_view_of_x():
    x, upstream = sample((3, 2)), sample((3, 2), seed=3)
    # f(x) = x itself: its output changes under later probes unless it is copied in time
    assert rel_error(numerical_gradient_array(lambda v: v, x, upstream), upstream) < 1e-9


def test_vector_jacobian_product_rejects_upstream_of_the_wrong_shape():
    with pytest.raises(ValueError, match="upstream"):
        numerical_gradient_array(lambda v: v @ np.ones((3, 2)), np.ones((4, 3)), np.ones((4, 3)))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_x_is_restored_exactly(shape):
    x = sample(shape, seed=4)
    before = x.copy()
    numerical_gradient(lambda v: float(np.sum(np.sin(v))), x)
    numerical_gradient_array(np.sin, x, np.ones(shape))
    assert x.tobytes() == before.tobytes()


def test_x_is_restored_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(v: np.ndarray) -> float:
        calls.append(v.copy())
        if len(calls) == 3:  # during the probes of x[1]
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(calls[2], [1.0, 2.0 + 1e-5, 3.0])  # probed in place


def test_a_float64_array_is_probed_in_place_so_f_may_use_a_closure():
    W = sample((2, 3), seed=5)
    # CS231n style: f ignores its argument and reads the parameter it shares with the model
    grad = numerical_gradient(lambda _: float(np.sum(W**2)), W)
    assert rel_error(grad, 2 * W) < 1e-9


def test_float32_and_list_inputs_are_computed_on_a_float64_copy():
    x32 = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    grad = numerical_gradient(lambda v: float(np.sum(v**2)), x32)
    assert grad.dtype == np.float64 and rel_error(grad, 2 * x32.astype(np.float64)) < 1e-9
    np.testing.assert_array_equal(x32, np.array([0.5, -1.0, 2.0], dtype=np.float32))
    assert rel_error(numerical_gradient(lambda v: float(np.sum(v**2)), [1.0, 2.0]), [2, 4]) < 1e-9


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1.0, 2.0], [1.0, 2.2], 0.2 / 4.2),  # worst element: |2 - 2.2| / (2 + 2.2)
        ([3.0], [3.0], 0.0),
        ([1.0], [-1.0], 1.0),  # opposite signs: the maximum possible
        ([0.0, 0.0], [0.0, 0.0], 0.0),  # eps keeps 0/0 at 0
        ([1e-20], [0.0], 1e-8),  # below eps the denominator is eps = 1e-12
        ([[1.0, 10.0], [100.0, 0.5]], [[1.1, 10.0], [100.0, 0.5]], 0.1 / 2.1),
        (2.0, 3.0, 1.0 / 5.0),
    ],
)
def test_rel_error_on_hand_computed_cases(a, b, expected):
    result = rel_error(a, b)
    assert isinstance(result, float)
    assert result == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_rel_error_custom_eps_and_symmetry():
    assert rel_error([1e-20], [0.0], eps=1e-10) == pytest.approx(1e-10)
    assert rel_error([1.0, 5.0], [2.0, 4.0]) == rel_error([2.0, 4.0], [1.0, 5.0])


def test_docstring_examples_are_correct():
    result = doctest.testmod(gradcheck)
    assert result.attempted >= 3 and result.failed == 0
