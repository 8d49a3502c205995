"""dl_helpers.batching against independent oracles: ``torch.utils.data.DataLoader`` (batch
order and sizes), exhaustive enumeration of every possible batch (the exact gradient noise),
and the exact formula against the Monte Carlo estimate within its sampling error."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pytest
from torch.utils.data import DataLoader

from dl_helpers import batching as bt
from dl_helpers.checks import assert_not_mutated, run_cases

SIZES = [(1, 1), (5, 2), (10, 5), (10, 3), (7, 10), (100, 32), (64, 64)]  # (N, B)


def loader_batches(N, B, drop_last):
    """Batches of ``range(N)`` as torch's DataLoader cuts them, unshuffled."""
    loader = DataLoader(range(N), batch_size=B, shuffle=False, drop_last=drop_last)
    return [batch.numpy() for batch in loader]


# --- minibatch_indices and num_updates -----------------------------------------------------


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize(("N", "B"), SIZES, ids=str)
def test_unshuffled_batches_are_those_of_torch_dataloader(N, B, drop_last):
    ours = bt.minibatch_indices(N, B, shuffle=False, drop_last=drop_last)
    expected = loader_batches(N, B, drop_last)
    assert len(ours) == len(expected)
    for batch, want in zip(ours, expected, strict=True):
        assert batch.dtype == np.int64
        np.testing.assert_array_equal(batch, want)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize(("N", "B"), SIZES, ids=str)
def test_shuffled_batches_have_dataloaders_sizes_and_cover_every_row_once(N, B, drop_last):
    ours = bt.minibatch_indices(N, B, rng=np.random.default_rng(0), drop_last=drop_last)
    assert [len(b) for b in ours] == [len(b) for b in loader_batches(N, B, drop_last)]
    seen = np.concatenate(ours) if ours else np.array([], dtype=np.int64)
    assert len(np.unique(seen)) == len(seen)  # no row twice
    assert set(seen) <= set(range(N))
    assert len(seen) == (N - N % B if drop_last else N)  # all rows unless the tail is dropped


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize(("N", "B"), SIZES, ids=str)
def test_num_updates_counts_dataloader_batches(N, B, drop_last):
    per_epoch = len(DataLoader(range(N), batch_size=B, drop_last=drop_last))
    assert bt.num_updates(N, B, epochs=3, drop_last=drop_last) == 3 * per_epoch
    assert len(bt.minibatch_indices(N, B, rng=0, drop_last=drop_last)) == per_epoch


def test_the_same_seed_gives_the_same_epoch_and_a_generator_gives_new_epochs():
    first = bt.minibatch_indices(50, 8, rng=123)
    again = bt.minibatch_indices(50, 8, rng=123)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    gen = np.random.default_rng(123)
    epoch1 = np.concatenate(bt.minibatch_indices(50, 8, rng=gen))
    epoch2 = np.concatenate(bt.minibatch_indices(50, 8, rng=gen))
    np.testing.assert_array_equal(epoch1, np.concatenate(first))
    assert not np.array_equal(epoch1, epoch2)


def test_shuffling_puts_every_row_in_the_first_batch_equally_often():
    gen, N, B, epochs = np.random.default_rng(1), 6, 2, 6000
    counts = np.zeros(N)
    for _ in range(epochs):
        counts[bt.minibatch_indices(N, B, rng=gen)[0]] += 1
    # each row is in the first batch with probability B / N; binomial sd ~ 29 here
    np.testing.assert_allclose(counts, epochs * B / N, atol=4 * np.sqrt(epochs * B / N))


def test_a_dropped_tail_is_not_always_the_same_rows():
    gen = np.random.default_rng(2)
    skipped = [
        set(range(10)) - set(np.concatenate(bt.minibatch_indices(10, 4, rng=gen, drop_last=True)))
        for _ in range(20)
    ]
    assert all(len(s) == 2 for s in skipped) and len({frozenset(s) for s in skipped}) > 1


# --- gradient noise: exact value ----------------------------------------------------------


def brute_force_noise(per_example, B, replace):
    """E ||g_B - g||^2 by averaging over every possible batch, each equally likely."""
    g = per_example.mean(axis=0)
    N = len(per_example)
    batches = (
        itertools.product(range(N), repeat=B)  # ordered draws with replacement
        if replace
        else itertools.combinations(range(N), B)  # subsets without
    )
    errors = [np.sum((per_example[list(rows)].mean(axis=0) - g) ** 2) for rows in batches]
    return float(np.mean(errors))


@pytest.mark.parametrize("replace", [False, True], ids=["without", "with"])
@pytest.mark.parametrize("B", [1, 2, 3, 4, 5])
def test_exact_noise_matches_enumeration_of_every_batch(B, replace):
    per_example = np.random.default_rng(3).normal(size=(5, 3))
    np.testing.assert_allclose(
        bt.gradient_noise_exact(per_example, B, replace=replace),
        brute_force_noise(per_example, B, replace),
        rtol=1e-12,
        atol=1e-15,
    )


def test_exact_noise_accepts_gradients_of_any_shape():
    per_example = np.random.default_rng(4).normal(size=(5, 2, 3))
    np.testing.assert_allclose(
        bt.gradient_noise_exact(per_example, 2),
        bt.gradient_noise_exact(per_example.reshape(5, 6), 2),
        rtol=1e-14,
    )


# --- gradient noise: the estimate, on linear regression -----------------------------------


def regression_problem(N=400, seed=5):
    rng = np.random.default_rng(seed)
    # correlated features (x_1 ~ -x_0) give correlated gradient components: the squared
    # norm of a sum is then far from the sum of squared norms
    X = rng.normal(size=(N, 3)) @ np.array([[1.0, -1.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 1.0]])
    y = X @ rng.normal(size=3) + rng.normal(scale=0.5, size=N)
    w = rng.normal(size=3)  # a fixed point away from the optimum
    return X, y, w


def mse_grad(w, X, y):
    """Gradient of mean((X w - y)^2) over the rows given."""
    return 2 * X.T @ (X @ w - y) / len(X)


def per_example_grads(w, X, y):
    return 2 * X * (X @ w - y)[:, None]


@pytest.mark.parametrize("replace", [False, True], ids=["without", "with"])
@pytest.mark.parametrize("B", [1, 10, 100, 300])
def test_estimate_agrees_with_the_exact_value_within_sampling_error(B, replace):
    X, y, w = regression_problem()
    exact = bt.gradient_noise_exact(per_example_grads(w, X, y), B, replace=replace)
    draws = 1500
    estimate = bt.gradient_noise(mse_grad, w, X, y, B, draws, rng=6, replace=replace)
    # the standard error of a mean of `draws` squared errors, from independent draws
    gen = np.random.default_rng(7)
    singles = [bt.gradient_noise(mse_grad, w, X, y, B, 1, gen, replace) for _ in range(draws)]
    standard_error = np.std(singles) / np.sqrt(draws)
    assert abs(estimate - exact) < 4 * standard_error
    assert standard_error < 0.1 * exact  # the check above has teeth


def test_without_replacement_the_noise_carries_the_finite_population_factor():
    X, y, w = regression_problem(N=200)
    for B in (50, 100, 150):
        ratio = bt.gradient_noise(mse_grad, w, X, y, B, 2000, rng=8) / bt.gradient_noise(
            mse_grad, w, X, y, B, 2000, rng=8, replace=True
        )
        assert abs(ratio - (200 - B) / 199) < 0.1
    assert bt.gradient_noise(mse_grad, w, X, y, 200, 5, rng=9) < 1e-25  # the batch is the data


def test_noise_falls_as_one_over_b_on_log_log_axes():
    X, y, w = regression_problem(N=5000)
    batch_sizes = np.array([1, 2, 4, 8, 16, 32])
    noise = [bt.gradient_noise(mse_grad, w, X, y, int(B), 800, rng=10) for B in batch_sizes]
    slope = np.polyfit(np.log(batch_sizes), np.log(noise), 1)[0]
    assert -1.1 < slope < -0.9


def test_gradient_noise_does_not_modify_the_data_or_the_parameters():
    X, y, w = regression_problem(N=50)
    assert_not_mutated(bt.gradient_noise, mse_grad, w, X, y, 5, 10, 0)


# --- declarative cases: hand-computed values, inputs deep-copied and checked unchanged -----


PLUS_MINUS = np.array([[1.0], [-1.0], [1.0], [-1.0]])  # per-example gradients, mean 0


def mean_of_rows(params, X_rows, y_rows):
    """A gradient function whose per-example gradient is the example itself."""
    return X_rows.mean(axis=0)


@pytest.mark.parametrize(
    ("func", "cases"),
    [
        (bt.minibatch_indices, [
            {"args": (5, 2, False), "expected": (np.array([0, 1]), np.array([2, 3]),
                                                 np.array([4])),
             "why": "a partial last batch"},
            {"args": (5, 2, False), "kwargs": {"drop_last": True},
             "expected": (np.array([0, 1]), np.array([2, 3])), "why": "drop_last"},
            {"args": (3, 8, False), "expected": (np.array([0, 1, 2]),),
             "why": "B larger than N: one batch of all rows"},
        ]),
        (bt.num_updates, [
            {"args": (1000, 64, 10), "expected": 160, "check_dtype": False,
             "why": "ceil(1000 / 64) = 16 per epoch"},
            {"args": (1000, 64, 10, True), "expected": 150, "check_dtype": False,
             "why": "floor with drop_last"},
            {"args": (3, 8, 2, True), "expected": 0, "check_dtype": False,
             "why": "no full batch at all"},
        ]),
        (bt.gradient_noise, [
            {"args": (mean_of_rows, None, PLUS_MINUS, np.zeros(4), 1, 3, 0), "expected": 1.0,
             "why": "g = 0 and every single row is 1 away from it: the mean of 3 draws is 1"},
            {"args": (mean_of_rows, None, PLUS_MINUS, np.zeros(4), 4, 3, 0), "expected": 0.0,
             "why": "a batch of every row has no noise"},
        ]),
        (bt.gradient_noise_exact, [
            {"args": (np.array([[1.0], [-1.0], [1.0], [-1.0]]), 2),
             "expected": 1 / 3, "why": "sigma^2 / B * (N - B) / (N - 1) = 1/2 * 2/3"},
            {"args": (np.array([[1.0], [-1.0], [1.0], [-1.0]]), 2),
             "kwargs": {"replace": True}, "expected": 0.5, "why": "sigma^2 / B"},
            {"args": (np.array([[1.0], [-1.0], [1.0], [-1.0]]), 4),
             "expected": 0.0, "why": "a batch of every row has no noise"},
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
        (lambda: bt.minibatch_indices(10, 0), "B"),
        (lambda: bt.minibatch_indices(10.0, 2), "N"),
        (lambda: bt.num_updates(10, 2, epochs=-1), "epochs"),
        (lambda: bt.gradient_noise(mse_grad, np.zeros(2), np.ones((3, 2)), np.ones(3), 4, 1),
         "without replacement"),
        (lambda: bt.gradient_noise(mse_grad, np.zeros(2), np.ones((3, 2)), np.ones(2), 2, 1),
         "rows"),
        (lambda: bt.gradient_noise_exact(np.ones((3, 2)), 5), "without replacement"),
    ],
    ids=["B = 0", "float N", "negative epochs", "B > N", "X and y", "exact B > N"],
)  # fmt: skip
def test_bad_input_raises_an_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_are_correct():
    result = doctest.testmod(bt, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
