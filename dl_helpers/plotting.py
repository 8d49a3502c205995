"""Plotting for the course notebooks: one style, one small function per kind of figure.

Every notebook draws through this module, so all figures share a size, a font, a grid and
a colour cycle, and a notebook cell stays about the idea rather than about matplotlib::

    fig, (ax1, ax2) = figure(1, 2, title="Sigmoid vs ReLU")
    plot_activation(ax1, "sigmoid", sigmoid, sigmoid_grad)
    plot_activation(ax2, "relu", relu, relu_grad)

Each ``plot_*`` function draws on an ``Axes`` it is given and returns it, so panels combine
freely. Only matplotlib is used. The colour cycle is the Okabe-Ito palette, which stays
distinguishable for the common forms of colour blindness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

# Okabe-Ito, without its yellow (too faint on white) and black (kept for reference lines).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00")
PANEL_SIZE = (5.0, 3.5)  # inches per subplot: two side by side fit a notebook's width

_STYLE = {
    "figure.figsize": PANEL_SIZE,
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,  # titles and labels never overlap
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the course style to matplotlib's ``rcParams`` (safe to call repeatedly).

    Sets the figure size (:data:`PANEL_SIZE`) and dpi (100), font sizes, a light grid, no
    top/right spines, frameless legends and the :data:`COLORS` cycle.
    """
    mpl.rcParams.update(_STYLE)


def figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    size: tuple[float, float] | None = None,
    title: str | None = None,
) -> tuple[Figure, Axes | np.ndarray]:
    """Create a styled figure with a grid of subplots.

    Args:
        nrows, ncols: subplot grid.
        size: figure size in inches; default :data:`PANEL_SIZE` per subplot.
        title: figure title (``suptitle``), above all panels.

    Returns:
        ``(fig, axes)`` as ``plt.subplots`` returns them: one ``Axes`` for a 1x1 grid, a 1-d
        array of ``Axes`` for a single row or column, else an ``(nrows, ncols)`` array.

    Example:
        >>> fig, (left, right) = figure(1, 2, title="two panels")
        >>> fig.get_size_inches().tolist()
        [10.0, 3.5]
        >>> plt.close(fig)
    """
    use_style()
    if size is None:
        size = (PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size)
    if title is not None:
        fig.suptitle(title)
    return fig, axes


def _decorate(ax: Axes, *, xlabel: str = "", ylabel: str = "", title: str | None = None) -> None:
    """Axis labels, an optional title, and a legend when some line carries a label."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()


def plot_curves(
    ax: Axes,
    x: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
) -> Axes:
    """Several labelled curves over a shared x, e.g. training and validation loss per epoch.

    Args:
        ax: axes to draw on.
        x: shared x values.
        curves: label -> y values; one line each, in order, with a legend.
        xlabel, ylabel, title: text.
        logy: logarithmic y axis (losses spanning orders of magnitude).

    Shape:
        - x: ``(T,)``
        - each curve: ``(T,)``

    Example:
        >>> fig, ax = figure()
        >>> ax = plot_curves(ax, [1, 2, 3], {"train": [1.0, 0.5, 0.2]}, logy=True)
        >>> ax.get_yscale(), ax.get_legend().get_texts()[0].get_text()
        ('log', 'train')
        >>> plt.close(fig)
    """
    for label, y in curves.items():
        ax.plot(x, y, label=label)
    if logy:
        ax.set_yscale("log")
    _decorate(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    return ax


def plot_activation(
    ax: Axes,
    name: str,
    f: Callable[[np.ndarray], np.ndarray],
    df: Callable[[np.ndarray], np.ndarray],
    *,
    x: ArrayLike | None = None,
) -> Axes:
    """An activation ``f`` (solid) and its derivative ``df`` (dashed) on one axes.

    Thin lines mark ``x = 0`` and ``y = 0``, where most activations change behaviour. The
    lines are labelled ``"{name}(x)"`` and ``"{name}'(x)"``.

    Args:
        ax: axes to draw on.
        name: the activation's name, for the labels and the title.
        f, df: the activation and its derivative, applied elementwise.
        x: where to evaluate; default ``np.linspace(-6, 6, 601)``.

    Shape:
        - x: ``(M,)``
        - f(x), df(x): ``(M,)``

    Example:
        >>> fig, ax = figure()
        >>> ax = plot_activation(ax, "relu", lambda x: np.maximum(x, 0), lambda x: x > 0)
        >>> [line.get_label() for line in ax.get_lines()][:2]
        ['relu(x)', "relu'(x)"]
        >>> plt.close(fig)
    """
    x = np.linspace(-6.0, 6.0, 601) if x is None else np.asarray(x)
    ax.plot(x, f(x), label=f"{name}(x)")
    ax.plot(x, df(x), label=f"{name}'(x)", linestyle="--")
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.axvline(0.0, color="0.6", linewidth=0.8)
    _decorate(ax, xlabel="x", title=name)
    return ax


def plot_grad_norms_by_layer(
    ax: Axes, norms: Mapping[str, Sequence[float]], *, title: str | None = None
) -> Axes:
    """Gradient norm per layer, one line per network (e.g. per activation), log-scaled.

    Vanishing gradients show up as lines that fall by orders of magnitude towards layer 1;
    the logarithmic y axis makes a constant per-layer shrink factor a straight line.

    Args:
        ax: axes to draw on.
        norms: label -> gradient norms, ``norms[label][0]`` being layer 1, the layer closest
            to the input. Norms should be positive (a log axis cannot show 0).
        title: axes title.

    Shape:
        - each value of norms: ``(L,)``, L = number of layers (may differ between labels)

    Example:
        >>> fig, ax = figure()
        >>> ax = plot_grad_norms_by_layer(ax, {"sigmoid": [1e-4, 1e-3, 1e-2]})
        >>> ax.get_lines()[0].get_xdata().tolist(), ax.get_yscale()
        ([1, 2, 3], 'log')
        >>> plt.close(fig)
    """
    for label, values in norms.items():
        layers = np.arange(1, len(values) + 1)
        ax.plot(layers, values, marker="o", label=label)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers
    _decorate(ax, xlabel="layer (1 = closest to the input)", ylabel="gradient norm", title=title)
    return ax


def plot_bars(
    ax: Axes,
    values: Mapping[str, float],
    *,
    ylabel: str = "",
    title: str | None = None,
    fmt: str = "{:.2f}",
) -> Axes:
    """A labelled bar chart with each bar's value written above it.

    Args:
        ax: axes to draw on.
        values: bar label -> height, drawn in order, one course colour each.
        ylabel, title: text.
        fmt: format for the value annotations.

    Shape:
        - values: K entries

    Example:
        >>> fig, ax = figure()
        >>> ax = plot_bars(ax, {"sigmoid": 0.91, "relu": 0.97})
        >>> [t.get_text() for t in ax.texts]
        ['0.91', '0.97']
        >>> plt.close(fig)
    """
    labels = list(values)
    heights = [float(values[label]) for label in labels]
    colors = [COLORS[i % len(COLORS)] for i in range(len(labels))]
    bars = ax.bar(labels, heights, color=colors)
    ax.bar_label(bars, labels=[fmt.format(h) for h in heights], padding=2)
    ax.grid(False, axis="x")  # vertical grid lines through bars only add noise
    _decorate(ax, ylabel=ylabel, title=title)
    return ax


def plot_heatmap(
    ax: Axes,
    matrix: ArrayLike,
    *,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    title: str | None = None,
    fmt: str | None = "{:.2f}",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Axes:
    """A matrix as coloured cells with a colour bar, e.g. attention weights or a confusion
    matrix; row ``i`` is drawn at the top for ``i = 0``, as the matrix is printed.

    Args:
        ax: axes to draw on.
        matrix: the values.
        xlabels, ylabels: tick labels for the columns and rows (default: indices).
        title: axes title.
        fmt: format for the value written in each cell; ``None`` writes none (use it for
            large matrices).
        cmap: matplotlib colour map name.
        vmin, vmax: the values drawn with the colour map's two ends (default: the matrix's
            minimum and maximum). Give the same range to heatmaps that are to be compared
            side by side, and a range symmetric about 0 (``vmin=-v, vmax=v``) with a
            diverging map such as ``"RdBu_r"``, so that 0 is the middle colour.

    Shape:
        - matrix: ``(R, C)``
        - xlabels: ``C`` strings; ylabels: ``R`` strings

    Example:
        >>> fig, ax = figure()
        >>> ax = plot_heatmap(ax, [[0.9, 0.1], [0.2, 0.8]], xlabels=["a", "b"])
        >>> [t.get_text() for t in ax.texts]
        ['0.90', '0.10', '0.20', '0.80']
        >>> plt.close(fig)
    """
    matrix = np.asarray(matrix, dtype=float)
    image = ax.imshow(matrix, cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
    ax.figure.colorbar(image, ax=ax)
    rows, cols = matrix.shape
    ax.set_xticks(range(cols), labels=xlabels)
    ax.set_yticks(range(rows), labels=ylabels)
    ax.grid(False)
    if fmt is not None:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(
                j, i, fmt.format(value), ha="center", va="center", color=_text_color(image, value)
            )
    if title is not None:
        ax.set_title(title)
    return ax


def _text_color(image: AxesImage, value: float) -> str:
    """Black on light cells, white on dark ones, whatever the colour map."""
    red, green, blue, _ = image.cmap(image.norm(value))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def _class_colormap(n_classes: int) -> ListedColormap:
    return ListedColormap([COLORS[i % len(COLORS)] for i in range(n_classes)])


def plot_decision_boundary(
    ax: Axes,
    predict: Callable[[np.ndarray], np.ndarray],
    X: ArrayLike,
    y: ArrayLike,
    *,
    grid: int = 200,
    title: str | None = None,
) -> Axes:
    """Regions a 2-D classifier assigns to each class, with the data points on top.

    ``predict`` is evaluated on a ``grid x grid`` mesh covering the data plus a margin of
    10% of its range. Integer (or bool) predictions are class labels and fill one colour
    per class; float predictions are read as the probability of class 1 and fill a
    gradient between the first two class colours (values in ``[0, 1]``), with the 0.5
    contour drawn.

    Args:
        ax: axes to draw on.
        predict: maps points to labels or probabilities.
        X: data points.
        y: their integer class labels, ``0 .. K-1``.
        grid: mesh points per axis; ``predict`` is called once, on ``grid**2`` points.
        title: axes title.

    Shape:
        - predict: ``(M, 2) -> (M,)``, ``M = grid**2``
        - X: ``(N, 2)``
        - y: ``(N,)``

    Example:
        >>> fig, ax = figure()
        >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]])
        >>> ax = plot_decision_boundary(ax, lambda P: (P[:, 0] > 0).astype(int), X, [0, 1])
        >>> ax.collections[-1].get_offsets().tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
        >>> plt.close(fig)
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * np.where(high > low, high - low, 1.0)  # 1.0: all points on one line
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], grid)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], grid)
    xx, yy = np.meshgrid(xs, ys)
    z = np.asarray(predict(np.column_stack([xx.ravel(), yy.ravel()]))).reshape(xx.shape)
    n_classes = int(max(y.max(), z.max() if z.dtype.kind in "biu" else 1)) + 1
    classes = _class_colormap(n_classes)
    if z.dtype.kind in "biu":
        levels = np.arange(n_classes + 1) - 0.5  # one filled band per integer label
        ax.contourf(xx, yy, z, levels=levels, cmap=classes, alpha=0.25)
    else:
        gradient = LinearSegmentedColormap.from_list("p", [COLORS[0], "white", COLORS[1]])
        ax.contourf(xx, yy, z, levels=np.linspace(0.0, 1.0, 11), cmap=gradient, alpha=0.35)
        ax.contour(xx, yy, z, levels=[0.5], colors="0.2", linewidths=1.5)
    ax.scatter(
        X[:, 0], X[:, 1], c=y, cmap=classes, vmin=-0.5, vmax=n_classes - 0.5, edgecolors="white"
    )
    ax.grid(False)
    _decorate(ax, xlabel="$x_1$", ylabel="$x_2$", title=title)
    return ax
