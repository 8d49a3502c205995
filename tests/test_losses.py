"""dl_helpers.losses against independent oracles: ``torch.nn.functional`` losses in float64
(values, and gradients by autograd) for every reduction, and centred finite differences."""

from __future__ import annotations

import contextlib
import doctest
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dl_helpers import losses as L
from dl_helpers.activations import sigmoid, sigmoid_grad
from dl_helpers.checks import run_cases
from dl_helpers.gradcheck import numerical_gradient

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(7,), (4, 3), (2, 3, 2)]


@contextlib.contextmanager
def strict_floats() -> Iterator[None]:
    """Every NumPy floating-point event raises and every warning is an error."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


def regression_data(shape, seed=0):
    """Predictions and targets whose residuals avoid 0 and +-delta (where losses kink)."""
    rng = np.random.default_rng(seed)
    target = rng.normal(size=shape)
    residual = rng.choice([-1, 1], size=shape) * rng.uniform(0.05, 4.0, size=shape)
    residual = np.where(np.abs(np.abs(residual) - 1.0) < 0.02, 1.3, residual)
    return target + residual, target


def binary_data(shape, seed=1):
    """Logits and targets, hard (0/1) in half of the entries and soft elsewhere."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=3.0, size=shape)
    y = np.where(rng.random(shape) < 0.5, rng.integers(0, 2, size=shape), rng.random(shape))
    return z, y.astype(np.float64)


# name, forward, backward, torch oracle, options (keyword arguments of all three)
ELEMENTWISE = [
    ("mse", L.mse, L.mse_backward, F.mse_loss, {}),
    ("mae", L.mae, L.mae_backward, F.l1_loss, {}),
    ("huber", L.huber, L.huber_backward, F.huber_loss, {}),
    ("huber(delta=0.5)", L.huber, L.huber_backward, F.huber_loss, {"delta": 0.5}),
    ("huber(delta=2.5)", L.huber, L.huber_backward, F.huber_loss, {"delta": 2.5}),
    ("bce_with_logits", L.bce_with_logits, L.bce_with_logits_backward,
     F.binary_cross_entropy_with_logits, {}),
]  # fmt: skip
IDS = [e[0] for e in ELEMENTWISE]


def data_for(name, shape, seed=0):
    return binary_data(shape, seed) if name.startswith("bce") else regression_data(shape, seed)


def torch_loss_and_grad(oracle, pred, target, upstream, **kwargs):
    """torch's loss, and the gradient of ``sum(upstream * loss)`` with respect to ``pred``."""
    p = torch.tensor(pred, requires_grad=True)
    out = oracle(p, torch.from_numpy(target), **kwargs)
    (out * torch.from_numpy(np.asarray(upstream, dtype=np.float64))).sum().backward()
    return out.detach().numpy(), p.grad.numpy()


def upstream_for(reduction, shape, seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) if reduction == "none" else np.float64(rng.normal())


# --- values and gradients against torch float64, every reduction --------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "ours", "ours_backward", "oracle", "opts"), ELEMENTWISE, ids=IDS)
def test_elementwise_losses_match_torch(name, ours, ours_backward, oracle, opts, reduction, shape):
    pred, target = data_for(name, shape)
    upstream = upstream_for(reduction, shape)
    expected, expected_grad = torch_loss_and_grad(
        oracle, pred, target, upstream, reduction=reduction, **opts
    )
    loss = ours(pred, target, reduction=reduction, **opts)
    assert isinstance(loss, np.ndarray) and loss.dtype == np.float64
    assert loss.shape == (shape if reduction == "none" else ())
    np.testing.assert_allclose(loss, expected, rtol=1e-12, atol=1e-15)
    grad = ours_backward(pred, target, upstream, reduction=reduction, **opts)
    assert grad.shape == shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(("name", "ours", "ours_backward", "oracle", "opts"), ELEMENTWISE, ids=IDS)
def test_elementwise_gradients_match_finite_differences(
    name, ours, ours_backward, oracle, opts, reduction
):
    pred, target = data_for(name, (3, 4), seed=3)
    numeric = numerical_gradient(lambda p: ours(p, target, reduction=reduction, **opts), pred)
    grad = ours_backward(pred, target, reduction=reduction, **opts)  # upstream = 1.0 default
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("name", "ours", "ours_backward", "oracle", "opts"), ELEMENTWISE, ids=IDS)
def test_mean_divides_the_sum_by_the_number_of_elements_not_rows(
    name, ours, ours_backward, oracle, opts
):
    pred, target = data_for(name, (5, 3), seed=4)  # 15 elements in 5 rows
    total = ours(pred, target, reduction="sum", **opts)
    np.testing.assert_allclose(ours(pred, target, **opts), total / 15, rtol=1e-14)
    np.testing.assert_allclose(
        ours_backward(pred, target, **opts),
        ours_backward(pred, target, 1.0, reduction="sum", **opts) / 15,
        rtol=1e-14,
    )


def test_mae_and_huber_gradients_at_a_zero_residual_match_torch():
    pred = np.array([0.0, 1.0, -2.0])
    for ours, oracle in ((L.mae_backward, F.l1_loss), (L.huber_backward, F.huber_loss)):
        _, expected = torch_loss_and_grad(oracle, pred, pred.copy(), 1.0)
        np.testing.assert_array_equal(ours(pred, pred.copy()), expected)  # all zero


@pytest.mark.parametrize("delta", [0.25, 1.0, 3.0])
def test_huber_is_delta_times_smooth_l1_with_beta_equal_to_delta(delta):
    pred, target = regression_data((20,), seed=5)
    p, t = torch.from_numpy(pred), torch.from_numpy(target)
    smooth = F.smooth_l1_loss(p, t, beta=delta).item()
    np.testing.assert_allclose(L.huber(pred, target, delta=delta), delta * smooth, rtol=1e-12)
    # the two coincide only at delta = beta = 1
    assert (delta == 1.0) == np.isclose(L.huber(pred, target, delta=delta), smooth, rtol=1e-12)


# --- cross-entropy: class indices, weights, label smoothing -------------------------------

CE_OPTIONS = [
    {},
    {"label_smoothing": 0.1},
    {"weight": np.array([0.5, 2.0, 1.0, 3.0])},
    {"weight": np.array([0.5, 2.0, 1.0, 3.0]), "label_smoothing": 0.3},
]
CE_IDS = ["plain", "smoothing", "weight", "weight+smoothing"]


def ce_data(n=6, c=4, seed=6):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    labels[0] = labels[1]  # a repeated class: weighted means divide by the weight twice
    return rng.normal(scale=3.0, size=(n, c)), labels


def torch_ce(logits, labels, upstream, reduction, weight=None, label_smoothing=0.0):
    z = torch.tensor(logits, requires_grad=True)
    out = F.cross_entropy(
        z,
        torch.from_numpy(labels),
        weight=None if weight is None else torch.from_numpy(weight),
        label_smoothing=label_smoothing,
        reduction=reduction,
    )
    (out * torch.from_numpy(np.asarray(upstream, dtype=np.float64))).sum().backward()
    return out.detach().numpy(), z.grad.numpy()


@pytest.mark.parametrize("opts", CE_OPTIONS, ids=CE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(reduction, opts):
    logits, labels = ce_data()
    upstream = upstream_for(reduction, labels.shape)
    expected, expected_grad = torch_ce(logits, labels, upstream, reduction, **opts)
    loss = L.cross_entropy(logits, labels, reduction=reduction, **opts)
    assert loss.shape == (labels.shape if reduction == "none" else ())
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    grad = L.cross_entropy_backward(logits, labels, upstream, reduction=reduction, **opts)
    assert grad.shape == logits.shape
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-11, atol=1e-16)


@pytest.mark.parametrize("opts", CE_OPTIONS, ids=CE_IDS)
def test_cross_entropy_gradient_matches_finite_differences(opts):
    logits, labels = ce_data(seed=7)
    numeric = numerical_gradient(lambda z: L.cross_entropy(z, labels, **opts), logits)
    np.testing.assert_allclose(
        L.cross_entropy_backward(logits, labels, **opts), numeric, rtol=1e-6, atol=1e-10
    )


def test_cross_entropy_mean_gradient_is_softmax_minus_onehot_over_n():
    logits, labels = ce_data(n=8, c=5, seed=8)
    p = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    onehot = np.eye(5)[labels]
    np.testing.assert_allclose(
        L.cross_entropy_backward(logits, labels), (p - onehot) / 8, rtol=1e-12, atol=1e-17
    )
    np.testing.assert_allclose(
        L.cross_entropy(logits, labels), L.cross_entropy(logits, labels, reduction="sum") / 8
    )


def test_weighted_mean_divides_by_the_weights_of_the_true_classes():
    logits, labels = ce_data(seed=9)
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    per_sample = L.cross_entropy(logits, labels, weight=weight, reduction="none")
    np.testing.assert_allclose(
        L.cross_entropy(logits, labels, weight=weight), per_sample.sum() / weight[labels].sum()
    )


def test_losses_match_scikit_learn_metrics():
    from sklearn import metrics

    pred, target = regression_data((30,), seed=12)
    np.testing.assert_allclose(L.mse(pred, target), metrics.mean_squared_error(target, pred))
    np.testing.assert_allclose(L.mae(pred, target), metrics.mean_absolute_error(target, pred))
    z = np.random.default_rng(13).normal(scale=3.0, size=30)
    y = (np.arange(30) % 2).astype(np.float64)
    np.testing.assert_allclose(L.bce_with_logits(z, y), metrics.log_loss(y, sigmoid(z)))
    logits, labels = ce_data(n=12, seed=14)
    probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    np.testing.assert_allclose(
        L.cross_entropy(logits, labels), metrics.log_loss(labels, probs, labels=range(4))
    )
    # class weights = sample weights of each sample's true class; both divide by their sum
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    np.testing.assert_allclose(
        L.cross_entropy(logits, labels, weight=weight),
        metrics.log_loss(labels, probs, labels=range(4), sample_weight=weight[labels]),
    )


# --- extreme logits: finite, correct, warning-free, dtype kept ----------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_at_extreme_logits(dtype):
    z = np.array([1e4, 1e4, -1e4, -1e4, 0.0, 30.0], dtype=dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], dtype=dtype)
    with strict_floats():
        loss = L.bce_with_logits(z, y, reduction="none")
        grad = L.bce_with_logits_backward(z, y, np.ones(6, dtype=dtype), reduction="none")
        mean = L.bce_with_logits(z, y)
    assert loss.dtype == grad.dtype == mean.dtype == dtype
    np.testing.assert_allclose(loss, [0.0, 1e4, 1e4, 0.0, np.log(2), 30.0], rtol=1e-6)
    np.testing.assert_allclose(grad, [0.0, 1.0, -1.0, 0.0, -0.5, 1.0], rtol=1e-6)
    z64, y64 = z.astype(np.float64), y.astype(np.float64)
    expected, expected_grad = torch_loss_and_grad(F.binary_cross_entropy_with_logits, z64, y64, 1.0)
    np.testing.assert_allclose(mean, expected, rtol=1e-6)
    np.testing.assert_allclose(L.bce_with_logits_backward(z, y), expected_grad, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", CE_OPTIONS, ids=CE_IDS)
def test_cross_entropy_at_extreme_logits(opts, dtype):
    logits = np.array(
        [[1e4, -1e4, 0.0, 0.0], [1e4, -1e4, 0.0, 0.0], [-1e4] * 4, [1e4, 1e4, -1e4, 5.0]]
    ).astype(dtype)
    labels = np.array([0, 1, 2, 3])
    with strict_floats():
        losses = L.cross_entropy(logits, labels, reduction="none", **opts)
        grad = L.cross_entropy_backward(logits, labels, **opts)
    assert losses.dtype == grad.dtype == dtype
    assert np.all(np.isfinite(losses)) and np.all(np.isfinite(grad))
    expected, expected_grad = torch_ce(logits.astype(np.float64), labels, 1.0, "mean", **opts)
    expected_none, _ = torch_ce(logits.astype(np.float64), labels, np.ones(4), "none", **opts)
    np.testing.assert_allclose(losses, expected_none, rtol=1e-6)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-6, atol=1e-7)
    if not opts:  # by hand: 0, 2e4 (the true logit is 2e4 below the max), log 4, 1e4 + log 2
        np.testing.assert_allclose(losses, [0.0, 2e4, np.log(4), 1e4 - 5 + np.log(2)], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_losses_at_large_residuals(dtype):
    pred, target = np.array([1e4, -1e4, 0.5], dtype=dtype), np.zeros(3, dtype=dtype)
    with strict_floats():
        np.testing.assert_allclose(L.mse(pred, target, reduction="none"), [1e8, 1e8, 0.25])
        np.testing.assert_allclose(L.mae(pred, target, reduction="sum"), 20000.5)
        np.testing.assert_allclose(L.huber(pred, target, reduction="none"), [9999.5, 9999.5, 0.125])
        np.testing.assert_allclose(L.huber_backward(pred, target, reduction="sum"), [1, -1, 0.5])


def test_a_confidently_wrong_prediction_gets_a_large_gradient_from_bce_only():
    # z = -10 for a positive example: sigmoid + MSE barely moves it, BCE pushes with ~1
    z, y = np.array([-10.0]), np.array([1.0])
    bce = L.bce_with_logits_backward(z, y)
    mse_chain = L.mse_backward(sigmoid(z), y) * sigmoid_grad(z)
    zt = torch.tensor(z, requires_grad=True)
    F.mse_loss(torch.sigmoid(zt), torch.from_numpy(y)).backward()
    np.testing.assert_allclose(mse_chain, zt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bce, [-0.9999546], rtol=1e-6)
    assert 8e-5 < -mse_chain[0] < 1e-4  # about 1e4 times smaller


# --- declarative cases: hand-computed values, inputs deep-copied and checked unchanged -----

Z = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
LOG3 = np.log(3.0)
LSE = np.log(np.exp(2.0) + 2.0)  # log-sum-exp of row 0


@pytest.mark.parametrize(
    ("func", "cases"),
    [
        (L.mse, [
            {"args": ([1.0, 2.0, 4.0], [1.0, 1.0, 1.0]), "expected": np.float64(10 / 3),
             "why": "mean over the elements"},
            {"args": (np.ones((2, 2)), np.zeros((2, 2))), "kwargs": {"reduction": "sum"},
             "expected": np.float64(4.0), "why": "sum"},
        ]),
        (L.mse_backward, [
            {"args": (np.array([1.0, 3.0]), np.array([0.0, 0.0]), np.array([1.0, -1.0])),
             "kwargs": {"reduction": "none"}, "expected": np.array([2.0, -6.0]),
             "why": "2 r times upstream, per element"},
        ]),
        (L.mae_backward, [
            {"args": (np.array([1.0, -3.0, 0.0, 2.0]), np.zeros(4)),
             "expected": np.array([0.25, -0.25, 0.0, 0.25]), "why": "sign(r) / n"},
        ]),
        (L.huber, [
            {"args": (np.array([0.5, -3.0]), np.zeros(2)), "kwargs": {"delta": 2.0},
             "expected": np.float64((0.125 + 2.0 * (3.0 - 1.0)) / 2),
             "why": "one quadratic and one linear residual"},
        ]),
        (L.huber_backward, [
            {"args": (np.array([0.5, -3.0]), np.zeros(2)),
             "kwargs": {"delta": 2.0, "reduction": "sum"}, "expected": np.array([0.5, -2.0]),
             "why": "the residual clipped to [-delta, delta]"},
        ]),
        (L.bce_with_logits, [
            {"args": (np.array([0.0, 0.0]), np.array([0.0, 1.0])), "expected": np.log(2.0),
             "why": "logit 0 is p = 1/2 whatever the label"},
            {"args": (np.array([-1e4]), np.array([1.0])), "expected": np.float64(1e4),
             "why": "a confidently wrong logit costs |z|, not inf"},
        ]),
        (L.cross_entropy, [
            {"args": (Z, np.array([0, 2])), "kwargs": {"reduction": "none"},
             "expected": np.array([LSE - 2.0, LOG3]), "why": "log-sum-exp minus the true logit"},
            {"args": (Z, np.array([1, 2])), "kwargs": {"weight": np.array([1.0, 3.0, 1.0])},
             "expected": np.float64((3 * LSE + LOG3) / 4),
             "why": "a weighted mean divides by 3 + 1, not by N = 2"},
        ]),
        (L.cross_entropy_backward, [
            {"args": (np.zeros((2, 2)), np.array([0, 1])),
             "expected": np.array([[-0.25, 0.25], [0.25, -0.25]]),
             "why": "(softmax - onehot) / N"},
            {"args": (np.zeros((1, 2)), np.array([0])), "kwargs": {"label_smoothing": 0.5},
             "expected": np.array([[-0.25, 0.25]]),
             "why": "the target (0.75, 0.25) replaces the one-hot (1, 0)"},
        ]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)  # fmt: skip
def test_hand_computed_cases(func, cases):
    run_cases(func, cases)


# --- dtypes, input checks, documentation --------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "ours", "ours_backward", "oracle", "opts"), ELEMENTWISE, ids=IDS)
def test_float_dtype_is_kept_and_integers_are_computed_in_float64(
    name, ours, ours_backward, oracle, opts, dtype
):
    pred, target = data_for(name, (3, 4), seed=10)
    loss = ours(pred.astype(dtype), target, **opts)
    grad = ours_backward(pred.astype(dtype), target, **opts)
    assert loss.dtype == grad.dtype == dtype
    np.testing.assert_allclose(loss, ours(pred, target, **opts), rtol=1e-5)
    ints = np.array([[3, -1], [0, 2]])
    assert ours(ints, np.ones((2, 2), dtype=int), **opts).dtype == np.float64


def test_cross_entropy_keeps_float32():
    logits, labels = ce_data(seed=11)
    assert L.cross_entropy(logits.astype(np.float32), labels).dtype == np.float32
    assert L.cross_entropy_backward(logits.astype(np.float32), labels).dtype == np.float32


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: L.mse(np.zeros((4, 1)), np.zeros(4)), "shape"),
        (lambda: L.mae(np.zeros(3), np.zeros(3), reduction="avg"), "reduction"),
        (lambda: L.huber(np.zeros(3), np.zeros(3), delta=0.0), "delta"),
        (lambda: L.mse_backward(np.zeros(3), np.zeros(3), np.ones(2), reduction="none"),
         "upstream"),
        (lambda: L.mse_backward(np.zeros(3), np.zeros(3), np.ones(3)), "scalar"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), "integer"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"\[0, 3\)"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([[0], [1]])), r"shape \(2,\)"),
        (lambda: L.cross_entropy(np.zeros(3), np.array([0])), r"\(N, C\)"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), weight=np.ones(2)),
         "weight"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5),
         "label_smoothing"),
    ],
    ids=["broadcasting shapes", "reduction", "delta", "upstream none", "upstream mean",
         "float labels", "label range", "label shape", "1-d logits", "weight", "smoothing"],
)  # fmt: skip
def test_bad_input_raises_an_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_are_correct():
    result = doctest.testmod(L, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 12 and result.failed == 0
