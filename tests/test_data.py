"""dl_helpers.data: each data set's defining property, checked from the outside (scikit-learn
as the oracle for the digits, the geometry of the drawn shapes, the sequence rules), plus
determinism, dtypes and the offline guard."""

from __future__ import annotations

import doctest
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch

from dl_helpers import data


@pytest.fixture(scope="module")
def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def row_multiset(X: np.ndarray) -> Counter:
    return Counter(map(bytes, np.ascontiguousarray(X, dtype=np.float64)))


# --- digits ------------------------------------------------------------------------------


def test_digits_read_from_the_csv_equal_sklearn_load_digits(sklearn_digits):
    X, y = data._digits_raw()
    np.testing.assert_array_equal(X, sklearn_digits[0])
    np.testing.assert_array_equal(y, sklearn_digits[1])
    assert X.dtype == np.float64 and y.dtype == np.int64
    with pytest.raises(ValueError):  # the cache cannot be altered by a caller
        X[0, 0] = 1.0


def test_module_import_does_not_import_sklearn():
    code = "import sys, dl_helpers.data; print('sklearn' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False" and run.stderr == ""


@pytest.mark.parametrize("scaling", ["global", "pixel", "none"])
def test_scaler_uses_training_rows_only_and_parts_partition_the_data(sklearn_digits, scaling):
    d = data.digits_split(seed=3, val=0.2, test=0.25, scaling=scaling, as_tensors=False)
    X_all, _ = sklearn_digits
    # recover each part's raw pixels: they are whole rows of the original data set
    # (+ 0.0 turns the -0.0 that rounding can give into 0.0, so the bytes compare equal)
    raw = {n: d.unscale(getattr(d, f"X_{n}")).round() + 0.0 for n in ("train", "val", "test")}
    np.testing.assert_allclose(d.unscale(d.X_train), raw["train"], atol=1e-4)
    assert sum(map(row_multiset, raw.values()), Counter()) == row_multiset(X_all)
    # the statistics, recomputed from the training rows alone
    expected_mean = {"none": 0.0}.get(scaling, raw["train"].mean(axis=0))
    expected_scale = {
        "global": raw["train"].std(),
        "pixel": np.where(raw["train"].std(axis=0) > 0, raw["train"].std(axis=0), 1.0),
        "none": 1.0,
    }[scaling]
    np.testing.assert_allclose(d.mean, expected_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.scale, expected_scale, rtol=1e-12)
    np.testing.assert_allclose(
        d.X_val, (raw["val"] - expected_mean) / expected_scale, rtol=1e-6, atol=1e-6
    )
    if scaling != "none":  # training pixels are centred; held-out ones, by others' means
        np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-5)
        assert np.abs(d.X_val.mean(axis=0)).max() > 0.05


def test_split_is_stratified_with_the_requested_sizes(sklearn_digits):
    d = data.digits_split(seed=0, val=0.2, test=0.1, as_tensors=False)
    class_counts = np.bincount(sklearn_digits[1])
    for part, fraction in [("val", 0.2), ("test", 0.1), ("train", 0.7)]:
        counts = np.bincount(getattr(d, f"y_{part}"), minlength=10)
        assert np.all(np.abs(counts - fraction * class_counts) <= 1), (part, counts)
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 1797


def test_parts_are_disjoint():
    d = data.digits_split(seed=1, as_tensors=False)
    rows = {name: set(map(bytes, getattr(d, f"X_{name}"))) for name in ("train", "val", "test")}
    # the 1797 images are all distinct, so shared rows would be shared samples
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"]
    assert not rows["val"] & rows["test"]


def test_split_is_deterministic_and_depends_on_the_seed():
    a, b, c = data.digits_split(seed=5), data.digits_split(seed=5), data.digits_split(seed=6)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.y_train, c.y_train)


def test_digits_dtypes_shapes_and_two_way_split():
    d = data.digits_split(val=0.3, test=0.0)
    assert isinstance(d.X_train, torch.Tensor) and d.X_train.dtype == torch.float32
    assert d.y_train.dtype == torch.int64 and d.X_train.shape[1] == 64
    assert d.X_test.shape == (0, 64) and d.y_test.shape == (0,)
    assert len(d.y_val) == pytest.approx(0.3 * 1797, abs=5)
    with pytest.raises(ValueError, match="val"):
        data.digits_split(val=0.6, test=0.5)
    with pytest.raises(ValueError, match="scaling"):
        data.digits_split(scaling="minmax")


def test_global_scaling_keeps_rare_pixels_small_where_per_pixel_scaling_blows_them_up():
    # the reason for the default, as the docstring states it
    global_ = data.digits_split(scaling="global", as_tensors=False)
    pixel = data.digits_split(scaling="pixel", as_tensors=False)
    assert np.abs(global_.X_train).max() < 5 < 10 < np.abs(pixel.X_train).max()


# --- two-dimensional toy sets ------------------------------------------------------------


def test_moons_and_circles_are_sklearns_generators_in_float32():
    from sklearn.datasets import make_circles, make_moons

    X, y = data.moons(101, noise=0.3, seed=4, as_tensors=False)
    X_ref, y_ref = make_moons(101, noise=0.3, random_state=4)
    np.testing.assert_array_equal(X, X_ref.astype(np.float32))
    np.testing.assert_array_equal(y, y_ref)
    X, y = data.circles(60, noise=0.0, factor=0.3, seed=1)
    X_ref, y_ref = make_circles(60, noise=0.0, factor=0.3, random_state=1)
    assert X.dtype == torch.float32 and y.dtype == torch.int64
    np.testing.assert_array_equal(X.numpy(), X_ref.astype(np.float32))
    np.testing.assert_allclose(X.norm(dim=1).numpy(), np.where(y_ref == 1, 0.3, 1.0), rtol=1e-6)


def test_xor_labels_are_the_sign_parity_of_the_blob_centres():
    X, y = data.xor(400, noise=0.0, seed=2, as_tensors=False)
    np.testing.assert_array_equal(np.abs(X), 1.0)  # noise 0: exactly at the centres
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert np.bincount(y).tolist() == [200, 200]
    X_noisy, y_noisy = data.xor(400, noise=0.3, seed=2, as_tensors=False)
    np.testing.assert_array_equal(y_noisy, y)  # noise moves the points, not the labels
    assert 0.1 < np.std(X_noisy - X) < 0.5


def test_spirals_arms_follow_the_documented_angle():
    X, y = data.spirals(300, k=3, noise=0.0, seed=0, as_tensors=False)
    assert X.shape == (300, 2) and np.bincount(y).tolist() == [100, 100, 100]
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() <= 1 + 1e-6
    # noise 0: theta = 4 (arm + r), so the point is r (sin theta, cos theta)
    theta = 4 * (y + r)
    np.testing.assert_allclose(
        X, r[:, None] * np.stack([np.sin(theta), np.cos(theta)], 1), atol=1e-5
    )
    assert not np.all(np.diff(y) >= 0)  # rows are shuffled, not in arm order


@pytest.mark.parametrize("fn", [data.moons, data.circles, data.xor, data.spirals])
def test_toy_sets_are_deterministic_and_seeded(fn):
    X1, y1 = fn(50, seed=7)
    X2, y2 = fn(50, seed=7)
    X3, _ = fn(50, seed=8)
    assert torch.equal(X1, X2) and torch.equal(y1, y2) and not torch.equal(X1, X3)
    assert X1.shape == (50, 2) and X1.dtype == torch.float32 and y1.dtype == torch.int64


def test_generators_leave_the_global_torch_random_state_alone():
    torch_state = torch.get_rng_state()
    data.xor(10)
    data.spirals(10)
    data.shapes(3)
    data.copy_task(3)
    assert torch.equal(torch.get_rng_state(), torch_state)


# --- shapes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shape_set() -> data.Shapes:
    return data.shapes(300, size=32, seed=1, as_tensors=False)


def test_shapes_types_and_ranges(shape_set):
    s = shape_set
    assert s.images.shape == (300, 1, 32, 32) and s.images.dtype == np.float32
    assert s.images.min() >= 0 and s.images.max() <= 1
    assert s.labels.dtype == np.int64 and set(s.labels) == {0, 1, 2}
    assert s.boxes.shape == (300, 4) and s.boxes.dtype == np.float32
    assert s.masks.shape == (300, 32, 32) and s.masks.dtype == bool
    assert np.all(s.boxes[:, :2] < s.boxes[:, 2:]) and s.boxes.min() >= 0 and s.boxes.max() <= 1


def test_mask_bounding_box_equals_the_box(shape_set):
    for mask, box in zip(shape_set.masks, shape_set.boxes, strict=True):
        rows, cols = np.nonzero(mask)
        pixel_box = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        np.testing.assert_allclose(box * 32, pixel_box, atol=1e-5)


def test_class_is_recoverable_from_the_masks_fill_of_its_box(shape_set):
    s = shape_set
    box_area = (s.boxes[:, 2] - s.boxes[:, 0]) * (s.boxes[:, 3] - s.boxes[:, 1]) * 32 * 32
    fill = s.masks.sum(axis=(1, 2)) / box_area
    # square: the whole box; disc: ~pi/4; triangle: ~1/2 (the ranges the docstring gives)
    predicted = np.where(fill > 0.95, 0, np.where(fill > 0.68, 1, 2))
    np.testing.assert_array_equal(predicted, s.labels)
    assert np.all(fill[s.labels == 1] > 0.77) and np.all(fill[s.labels == 2] < 0.58)


def test_shapes_are_brighter_than_their_background(shape_set):
    s = shape_set
    images = s.images[:, 0]
    inside = (images * s.masks).sum(axis=(1, 2)) / s.masks.sum(axis=(1, 2))
    outside = (images * ~s.masks).sum(axis=(1, 2)) / (~s.masks).sum(axis=(1, 2))
    assert np.all(inside > outside + 0.25)


def test_shapes_are_deterministic_and_return_tensors():
    a, b = data.shapes(20, seed=4), data.shapes(20, seed=4)
    for name in ("images", "labels", "boxes", "masks"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert a.masks.dtype == torch.bool and a.images.dtype == torch.float32
    assert not torch.equal(a.images, data.shapes(20, seed=5).images)
    with pytest.raises(ValueError, match="size"):
        data.shapes(4, size=12)


# --- sequence tasks ----------------------------------------------------------------------


def test_copy_task_targets_are_the_tokens_delayed():
    tokens, targets = data.copy_task(50, 12, vocab=5, delay=4, seed=1)
    assert tokens.shape == targets.shape == (50, 12) and tokens.dtype == torch.int64
    assert tokens.min() >= 0 and tokens.max() <= 4
    assert torch.equal(targets[:, 4:], tokens[:, :8])
    assert torch.all(targets[:, :4] == -100)
    # the ignored positions are skipped by cross-entropy's default
    logits = torch.randn(50, 12, 5, generator=torch.Generator().manual_seed(0))
    full = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1))
    scored = torch.nn.functional.cross_entropy(
        logits[:, 4:].reshape(-1, 5), tokens[:, :8].reshape(-1)
    )
    assert torch.allclose(full, scored)
    with pytest.raises(ValueError, match="delay"):
        data.copy_task(5, 4, delay=4)


def test_reverse_and_recall_first_tasks():
    tokens, targets = data.reverse_task(30, 7, vocab=6, seed=2)
    for i in range(30):
        assert targets[i].tolist() == tokens[i].tolist()[::-1]
    tokens, targets = data.recall_first_task(30, 9, vocab=6, seed=2, as_tensors=False)
    assert targets.shape == (30,) and targets.dtype == np.int64
    np.testing.assert_array_equal(targets, tokens[:, 0])
    assert len(set(tokens[:, 0])) > 3  # the answer varies: it must be remembered


def test_noisy_sine_targets_are_the_next_step():
    inputs, targets = data.noisy_sine(20, 40, noise=0.2, seed=3)
    assert inputs.shape == targets.shape == (20, 40, 1) and inputs.dtype == torch.float32
    assert torch.equal(targets[:, :-1], inputs[:, 1:])


def test_noise_free_sine_obeys_the_sinusoid_recurrence():
    # a sinusoid satisfies s[t+1] + s[t-1] = 2 cos(2 pi f) s[t] for one constant per series
    inputs, targets = data.noisy_sine(10, 30, noise=0.0, seed=4, as_tensors=False)
    s = np.concatenate([inputs[:, :, 0], targets[:, -1:, 0]], axis=1).astype(np.float64)
    for series in s:
        lhs, mid = series[2:] + series[:-2], series[1:-1]
        c = lhs @ mid / (mid @ mid)
        np.testing.assert_allclose(lhs, c * mid, atol=1e-5)
        frequency = np.arccos(c / 2) / (2 * np.pi)
        assert 1 / 32 - 1e-4 <= frequency <= 1 / 8 + 1e-4
    assert np.abs(s).max() <= 1.0


@pytest.mark.parametrize("fn", [data.copy_task, data.reverse_task, data.recall_first_task])
def test_sequence_tasks_are_deterministic(fn):
    assert all(torch.equal(a, b) for a, b in zip(fn(8, seed=1), fn(8, seed=1), strict=True))
    assert not torch.equal(fn(8, seed=1)[0], fn(8, seed=2)[0])


# --- by name, offline ----------------------------------------------------------------------


def test_load_dispatches_to_the_functions():
    X, y = data.load("Noisy-Sine", n=3, T=5)
    assert X.shape == (3, 5, 1)
    assert torch.equal(data.load("xor", n=6, seed=1)[0], data.xor(6, seed=1)[0])
    assert data.load("digits", val=0.3, test=0.0).X_test.shape == (0, 64)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("mnist", "digits"), ("CIFAR-10", "shapes"), ("fashion_mnist", "digits"), ("imdb", "copy")],
)
def test_download_only_sets_raise_a_clear_offline_error(name, suggestion):
    with pytest.raises(data.OfflineError) as err:
        data.load(name)
    message = str(err.value)
    assert name in message and "offline" in message and suggestion in message
    assert isinstance(err.value, ValueError)


def test_unknown_name_lists_the_bundled_sets():
    with pytest.raises(ValueError, match="unknown data set 'nope'.*digits.*spirals"):
        data.load("nope")


def test_bad_sizes_are_rejected():
    for call in (lambda: data.moons(0), lambda: data.spirals(10, k=0), lambda: data.xor(-1)):
        with pytest.raises(ValueError, match="positive"):
            call()


def test_docstring_examples_are_correct():
    result = doctest.testmod(data, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 20 and result.failed == 0
