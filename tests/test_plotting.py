"""dl_helpers.plotting: the axes each function returns carry the expected data and labels."""

from __future__ import annotations

import doctest

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex

from dl_helpers import activations, plotting
from dl_helpers.plotting import (
    figure,
    plot_activation,
    plot_bars,
    plot_curves,
    plot_decision_boundary,
    plot_grad_norms_by_layer,
    plot_heatmap,
    use_style,
)


@pytest.fixture(autouse=True, scope="module")
def _agg_backend():
    """Draw off screen, whatever backend the environment selects; restore it afterwards."""
    previous = matplotlib.get_backend()
    plt.switch_backend("Agg")
    yield
    plt.switch_backend(previous)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ax():
    return figure()[1]


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


def legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_use_style_sets_the_course_style_and_is_idempotent():
    use_style()
    first = dict(matplotlib.rcParams)
    use_style()
    assert dict(matplotlib.rcParams) == first
    rc = matplotlib.rcParams
    assert rc["figure.dpi"] == 100 and rc["axes.grid"] and not rc["axes.spines.top"]
    assert tuple(rc["figure.figsize"]) == plotting.PANEL_SIZE
    colors = [to_hex(c["color"]).upper() for c in rc["axes.prop_cycle"]]
    assert colors == list(plotting.COLORS)


@pytest.mark.parametrize(
    ("nrows", "ncols", "axes_shape"),
    [(1, 1, None), (1, 3, (3,)), (2, 1, (2,)), (2, 2, (2, 2))],
)
def test_figure_returns_axes_shaped_like_subplots(nrows, ncols, axes_shape):
    fig, axes = figure(nrows, ncols, title="overview")
    if axes_shape is None:
        assert isinstance(axes, plt.Axes)
    else:
        assert isinstance(axes, np.ndarray) and axes.shape == axes_shape
    width, height = plotting.PANEL_SIZE
    np.testing.assert_allclose(fig.get_size_inches(), [width * ncols, height * nrows])
    assert fig.get_suptitle() == "overview"


def test_figure_takes_an_explicit_size():
    fig, _ = figure(1, 2, size=(4.0, 2.0))
    np.testing.assert_allclose(fig.get_size_inches(), [4.0, 2.0])
    assert fig.get_suptitle() == ""


def test_plot_curves_draws_one_labelled_line_per_curve(ax):
    epochs = np.arange(1, 6)
    curves = {"train": np.exp(-epochs), "validation": np.exp(-epochs / 2)}
    out = plot_curves(ax, epochs, curves, xlabel="epoch", ylabel="loss", title="Loss", logy=True)
    assert out is ax
    lines = lines_by_label(ax)
    for label, values in curves.items():
        np.testing.assert_array_equal(lines[label].get_xdata(), epochs)
        np.testing.assert_array_equal(lines[label].get_ydata(), values)
    assert legend_labels(ax) == ["train", "validation"]
    assert ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("epoch", "loss", "Loss")


def test_plot_curves_keeps_a_linear_axis_by_default(ax):
    plot_curves(ax, [0, 1], {"accuracy": [0.5, 0.9]})
    assert ax.get_yscale() == "linear" and ax.get_title() == ""


def test_plot_activation_draws_the_function_and_its_derivative(ax):
    plot_activation(ax, "sigmoid", activations.sigmoid, activations.sigmoid_grad)
    lines = lines_by_label(ax)
    x = np.linspace(-6, 6, 601)
    np.testing.assert_array_equal(lines["sigmoid(x)"].get_xdata(), x)
    np.testing.assert_allclose(lines["sigmoid(x)"].get_ydata(), 1 / (1 + np.exp(-x)), rtol=1e-12)
    derivative = lines["sigmoid'(x)"]
    np.testing.assert_allclose(derivative.get_ydata(), activations.sigmoid_grad(x))
    assert derivative.get_linestyle() == "--"
    assert legend_labels(ax) == ["sigmoid(x)", "sigmoid'(x)"]
    assert ax.get_title() == "sigmoid"
    # the two zero lines: one horizontal (y = 0 throughout), one vertical (x = 0)
    unlabelled = [line for line in ax.get_lines() if line.get_label().startswith("_")]
    assert sorted((tuple(line.get_xdata()), tuple(line.get_ydata())) for line in unlabelled) == [
        ((0, 0), (0, 1)),
        ((0, 1), (0, 0)),
    ]


def test_plot_activation_evaluates_at_the_given_points(ax):
    x = np.array([-1.0, 0.5, 2.0])
    plot_activation(ax, "relu", activations.relu, activations.relu_grad, x=x)
    lines = lines_by_label(ax)
    np.testing.assert_array_equal(lines["relu(x)"].get_ydata(), [0.0, 0.5, 2.0])
    np.testing.assert_array_equal(lines["relu'(x)"].get_ydata(), [0.0, 1.0, 1.0])


def test_plot_grad_norms_by_layer_numbers_layers_from_1_on_a_log_axis(ax):
    norms = {"sigmoid": [1e-6, 1e-4, 1e-2, 1.0], "relu": [0.3, 0.5, 0.8]}
    plot_grad_norms_by_layer(ax, norms, title="Gradient norms")
    lines = lines_by_label(ax)
    for label, values in norms.items():
        np.testing.assert_array_equal(lines[label].get_xdata(), np.arange(1, len(values) + 1))
        np.testing.assert_array_equal(lines[label].get_ydata(), values)
        assert lines[label].get_marker() == "o"
    assert ax.get_yscale() == "log"
    assert legend_labels(ax) == ["sigmoid", "relu"]
    assert ax.get_xlabel() == "layer (1 = closest to the input)"
    assert ax.get_ylabel() == "gradient norm" and ax.get_title() == "Gradient norms"


def test_plot_bars_draws_labelled_annotated_bars(ax):
    values = {"sigmoid": 0.912, "tanh": 0.934, "relu": 0.971}
    plot_bars(ax, values, ylabel="accuracy", title="Test accuracy", fmt="{:.1%}")
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, list(values.values()))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(values)
    assert [t.get_text() for t in ax.texts] == ["91.2%", "93.4%", "97.1%"]
    face_colors = [to_hex(patch.get_facecolor()).upper() for patch in ax.patches]
    assert face_colors == list(plotting.COLORS[:3])
    assert (ax.get_ylabel(), ax.get_title()) == ("accuracy", "Test accuracy")


def test_plot_heatmap_shows_the_matrix_labels_and_values(ax):
    matrix = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    plot_heatmap(ax, matrix, xlabels=["a", "b", "c"], ylabels=["q1", "q2"], title="Attention")
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), matrix)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["q1", "q2"]
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert texts == {((j, i), f"{matrix[i, j]:.2f}") for i in range(2) for j in range(3)}
    assert len(ax.figure.axes) == 2  # the axes and its colour bar
    assert ax.get_title() == "Attention"


def test_plot_heatmap_text_contrasts_with_its_cell(ax):
    plot_heatmap(ax, [[0.0, 1.0]], cmap="gray")  # black cell, then white cell
    assert [t.get_color() for t in ax.texts] == ["white", "black"]


def test_plot_heatmap_colour_range_is_the_one_given(ax):
    # a range symmetric about 0: the value 0 gets the diverging map's middle colour, and a
    # small matrix is not stretched to the full range (side-by-side panels stay comparable)
    plot_heatmap(ax, [[0.0, 0.5]], cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    image = ax.get_images()[0]
    assert image.get_clim() == (-1.0, 1.0)
    np.testing.assert_allclose(image.to_rgba(0.0), plt.get_cmap("RdBu_r")(0.5))
    colorbar_axes = ax.figure.axes[1]
    assert colorbar_axes.get_ylim() == (-1.0, 1.0)


def test_plot_heatmap_default_range_is_the_data_range(ax):
    plot_heatmap(ax, [[-2.0, 3.0]])
    assert ax.get_images()[0].get_clim() == (-2.0, 3.0)


def test_plot_heatmap_without_annotations(ax):
    plot_heatmap(ax, np.eye(3), fmt=None)
    assert len(ax.texts) == 0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]


def test_plot_decision_boundary_with_class_labels(ax):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    calls = []

    def predict(points):
        calls.append(points.copy())
        return (points[:, 0] > 0).astype(int)

    plot_decision_boundary(ax, predict, X, y, grid=50, title="Boundary")
    assert len(calls) == 1 and calls[0].shape == (50 * 50, 2)  # one batched call
    # the mesh covers the data with a margin
    assert np.all(calls[0].min(axis=0) < X.min(axis=0))
    assert np.all(calls[0].max(axis=0) > X.max(axis=0))
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 1
    np.testing.assert_array_equal(points[0].get_offsets(), X)
    np.testing.assert_array_equal(points[0].get_array(), y)
    assert len(ax.collections) == 2  # filled regions, then the points
    assert ax.get_title() == "Boundary"


def test_plot_decision_boundary_with_probabilities_draws_the_half_contour(ax):
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [0.5, -0.5]])
    y = np.array([0, 1, 1])
    plot_decision_boundary(ax, lambda p: 1 / (1 + np.exp(-p.sum(axis=1))), X, y, grid=30)
    contour_sets = [c for c in ax.collections if hasattr(c, "levels")]
    assert [list(c.levels) for c in contour_sets][-1] == [0.5]  # the decision boundary
    assert list(contour_sets[0].levels) == pytest.approx(np.linspace(0, 1, 11))


def test_docstring_examples_are_correct():
    result = doctest.testmod(plotting)
    assert result.attempted >= 7 and result.failed == 0
