"""Every data set the course uses, generated or read from disk: nothing is ever downloaded.

Notebooks run, and are graded, on machines without internet, so each data set here is either
bundled with an installed package (scikit-learn's 8x8 digits) or synthesised from a seed.
The same arguments give the same arrays on every run and every machine.

=========================================  =================================================
function                                   returns
=========================================  =================================================
``digits_split(seed, val, test)``          :class:`Split`: standardised 8x8 digits, 10 classes
``moons(n)``, ``circles(n)``, ``xor(n)``   ``X: (N, 2)``, ``y: (N,)``, two classes
``spirals(n, k)``                          ``X: (N, 2)``, ``y: (N,)``, ``k`` classes (arms)
``shapes(n, size)``                        :class:`Shapes`: images, labels, boxes, masks
``copy_task(n, T)``                        ``tokens: (N, T)``, ``targets: (N, T)``
``reverse_task(n, T)``                     ``tokens: (N, T)``, ``targets: (N, T)``
``recall_first_task(n, T)``                ``tokens: (N, T)``, ``targets: (N,)``
``noisy_sine(n, T)``                       ``inputs: (N, T, 1)``, ``targets: (N, T, 1)``
``load(name, **kw)``                       any of the above by name; a clear error for sets
                                           that would need a download (MNIST, CIFAR, ...)
=========================================  =================================================

Conventions shared by every function:

* Features are float32 and labels (class indices, tokens) int64: what ``nn.Linear`` and
  ``F.cross_entropy`` expect. ``as_tensors=True`` (the default) gives torch tensors,
  ``as_tensors=False`` NumPy arrays of the same dtypes.
* Randomness comes only from ``np.random.default_rng(seed)``: the global NumPy and torch
  random states are neither read nor changed.
* Rows are in random order, so a prefix ``X[:k]`` is a random sample.
* scikit-learn is imported only inside the functions that call it (``moons``, ``circles``):
  ``import sklearn.datasets`` costs most of a second, which a notebook that never draws
  moons should not pay. The digits are read straight from the CSV file scikit-learn ships.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

Array = torch.Tensor | np.ndarray

#: Target of the positions a sequence task does not score: ``F.cross_entropy`` skips it.
IGNORE_INDEX = -100
#: Class names of :func:`shapes`, indexed by label.
SHAPE_CLASSES = ("square", "circle", "triangle")


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _out(as_tensors: bool, *arrays: np.ndarray) -> tuple[Array, ...]:
    return tuple(torch.from_numpy(a) for a in arrays) if as_tensors else arrays


# --- digits ------------------------------------------------------------------------------


@functools.cache
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits, ``X: (1797, 64)`` float64 in 0..16 and ``y: (1797,)`` int64.

    Read from the ``digits.csv.gz`` file inside the installed scikit-learn, located with
    ``find_spec``, which finds a package without importing it. Cached read-only arrays: the
    file is parsed once per process and no caller can alter what the next one gets.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the digits data set is read from scikit-learn: install it")
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")  # 1797 rows: 64 pixels, then the label
    X, y = data[:, :-1], data[:, -1].astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


@dataclass(frozen=True, eq=False)
class Split:
    """A standardised train/validation/test split of the digits; see :func:`digits_split`.

    Shape:
        - X_train, X_val, X_test: ``(N_part, 64)`` float32, row-major 8x8 images
        - y_train, y_val, y_test: ``(N_part,)`` int64 in ``0..9``
        - mean: ``(64,)`` float64, the training mean of each pixel
        - scale: ``()`` (one common factor) or ``(64,)`` (per pixel), float64
    """

    X_train: Array
    y_train: Array
    X_val: Array
    y_val: Array
    X_test: Array
    y_test: Array
    mean: np.ndarray
    scale: np.ndarray

    def unscale(self, X: Array) -> np.ndarray:
        """Undo the standardisation: raw pixel values ``0..16``, e.g. for ``plt.imshow``.

        Shape:
            - X: ``(N, 64)``
            - output: ``(N, 64)`` float64; ``.reshape(-1, 8, 8)`` gives the images
        """
        return np.asarray(X, dtype=np.float64) * self.scale + self.mean


def _stratified_indices(
    y: np.ndarray, fractions: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of (train, val, test): every class split in the same proportions.

    Each class's rows are shuffled, then ``round(fraction * count)`` of them go to
    validation and to test, the rest to training. Each part is shuffled again so that its
    classes are interleaved rather than in blocks.
    """
    val, test = fractions
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        n_val, n_test = round(val * len(rows)), round(test * len(rows))
        parts[1].append(rows[:n_val])
        parts[2].append(rows[n_val : n_val + n_test])
        parts[0].append(rows[n_val + n_test :])
    train, val_rows, test_rows = (rng.permutation(np.concatenate(p)) for p in parts)
    return train, val_rows, test_rows


def digits_split(
    seed: int = 0,
    *,
    val: float = 0.2,
    test: float = 0.2,
    scaling: str = "global",
    as_tensors: bool = True,
) -> Split:
    r"""scikit-learn's handwritten digits, split three ways and standardised.

    1797 grey-level 8x8 images of the digits 0-9 (pixel values 0..16), about 180 per
    class, bundled with scikit-learn: the course's offline stand-in for MNIST. The split is
    stratified (each class in the same proportions in every part), and the standardisation
    uses statistics of the TRAINING rows only, then applies them unchanged to validation and
    test rows: statistics computed on all rows would leak information about the held-out
    data into training.

    ``scaling`` chooses the standardisation :math:`x' = (x - \mu) / s`:

    * ``"global"`` (default): :math:`\mu` is each pixel's training mean and :math:`s` is ONE
      common factor, the standard deviation of all training pixel values. The pixels share
      a unit (ink), and the border pixels are blank in almost every image: their
      per-pixel standard deviation is close to 0, so dividing by it would turn a single
      stray dot into a value of 10-40 and let those pixels dominate the first layer.
    * ``"pixel"``: :math:`s` is each pixel's own training standard deviation (1 for the
      pixels that are constant in training); shows the blow-up described above.
    * ``"none"``: raw pixel values (:math:`\mu = 0, s = 1`).

    Args:
        seed: seed of the split.
        val, test: fractions of each class held out for validation and for test;
            ``test=0`` gives an empty test part (two-way split).
        scaling: ``"global"``, ``"pixel"`` or ``"none"``, as above.
        as_tensors: torch tensors (default) or NumPy arrays.

    Shape:
        - output: a :class:`Split`; ``X_*``: ``(N_part, 64)`` float32, ``y_*``: ``(N_part,)``
          int64, with ``N_train + N_val + N_test = 1797``

    Example:
        >>> d = digits_split(seed=0)
        >>> tuple(d.X_train.shape), tuple(d.X_val.shape), tuple(d.X_test.shape)
        ((1079, 64), (359, 64), (359, 64))
        >>> d.X_train.dtype, d.y_train.dtype
        (torch.float32, torch.int64)
    """
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val and test must be fractions with val + test < 1, got {val}, {test}")
    if scaling not in ("global", "pixel", "none"):
        raise ValueError(f"scaling must be 'global', 'pixel' or 'none', got {scaling!r}")
    X, y = _digits_raw()
    train, val_rows, test_rows = _stratified_indices(y, (val, test), np.random.default_rng(seed))
    X_train = X[train]
    mean, scale = X_train.mean(axis=0), np.asarray(X_train.std())
    if scaling == "pixel":
        scale = X_train.std(axis=0)
        scale[scale == 0] = 1.0  # a constant pixel: centring alone already makes it 0
    elif scaling == "none":
        mean, scale = np.zeros_like(mean), np.asarray(1.0)
    parts = []
    for rows in (train, val_rows, test_rows):
        parts += [((X[rows] - mean) / scale).astype(np.float32), y[rows]]
    return Split(*_out(as_tensors, *parts), mean=mean, scale=scale)


# --- two-dimensional toy sets --------------------------------------------------------------


def _two_d(X: np.ndarray, y: np.ndarray, as_tensors: bool) -> tuple[Array, Array]:
    X, y = X.astype(np.float32), y.astype(np.int64)
    return (torch.from_numpy(X), torch.from_numpy(y)) if as_tensors else (X, y)


def moons(
    n: int = 200, *, noise: float = 0.2, seed: int = 0, as_tensors: bool = True
) -> tuple[Array, Array]:
    """Two interleaving half circles (scikit-learn's ``make_moons``): not linearly separable.

    Class 0 is the upper moon (centre (0, 0), radius 1), class 1 the lower one, shifted to
    (1, 0.5); Gaussian noise of standard deviation ``noise`` is added to both coordinates.

    Shape:
        - output: ``X: (n, 2)`` float32, ``y: (n,)`` int64 in ``{0, 1}``

    Example:
        >>> X, y = moons(100, noise=0.1, seed=0)
        >>> tuple(X.shape), y.bincount().tolist()
        ((100, 2), [50, 50])
    """
    _check_positive(n=n)
    from sklearn.datasets import make_moons  # lazy: see the module docstring

    return _two_d(*make_moons(n, noise=noise, random_state=seed), as_tensors)


def circles(
    n: int = 200,
    *,
    noise: float = 0.1,
    factor: float = 0.5,
    seed: int = 0,
    as_tensors: bool = True,
) -> tuple[Array, Array]:
    """Two concentric circles (scikit-learn's ``make_circles``): class 1 is the inner one.

    The outer circle has radius 1, the inner one radius ``factor``; Gaussian noise of
    standard deviation ``noise`` is added to both coordinates.

    Shape:
        - output: ``X: (n, 2)`` float32, ``y: (n,)`` int64 in ``{0, 1}``

    Example:
        >>> X, y = circles(100, noise=0.0, seed=0)
        >>> float(X[y == 1].norm(dim=1).max().round(decimals=3))
        0.5
    """
    _check_positive(n=n)
    from sklearn.datasets import make_circles  # lazy: see the module docstring

    return _two_d(*make_circles(n, noise=noise, factor=factor, random_state=seed), as_tensors)


def xor(
    n: int = 200, *, noise: float = 0.3, seed: int = 0, as_tensors: bool = True
) -> tuple[Array, Array]:
    r"""The XOR problem: four Gaussian blobs at ``(+-1, +-1)``; no line separates the classes.

    .. math:: y = [\,\mathrm{sign}(c_1) \ne \mathrm{sign}(c_2)\,], \quad
        x = c + \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, \mathrm{noise}^2 I)

    with ``c`` the blob's centre. The label depends on the product of the coordinates'
    signs, which no single linear unit can compute: the classic case for a hidden layer.

    Shape:
        - output: ``X: (n, 2)`` float32, ``y: (n,)`` int64 in ``{0, 1}``

    Example:
        >>> X, y = xor(8, noise=0.0, seed=0)
        >>> bool(((X[:, 0] * X[:, 1] < 0) == (y == 1)).all())
        True
    """
    _check_positive(n=n)
    rng = np.random.default_rng(seed)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    blob = rng.permutation(np.arange(n) % 4)  # equal blob sizes (up to one), random order
    X = centres[blob] + noise * rng.standard_normal((n, 2))
    return _two_d(X, (blob >= 2).astype(np.int64), as_tensors)


def spirals(
    n: int = 300, *, k: int = 3, noise: float = 0.2, seed: int = 0, as_tensors: bool = True
) -> tuple[Array, Array]:
    """``k`` interleaved spiral arms, one class each (the CS231n spiral data set).

    Arm ``j`` has points at radius ``r`` evenly spaced in ``[0, 1]`` and angle
    ``theta = 4 (j + r) + noise * N(0, 1)`` (radians), at ``x = r (sin theta, cos theta)``:
    each arm turns through 4 radians, and the noise jitters the angle, so points far from
    the centre move more.

    Shape:
        - output: ``X: (n, 2)`` float32 inside the unit disc, ``y: (n,)`` int64 in
          ``0..k-1``; arm sizes differ by at most one point

    Example:
        >>> X, y = spirals(300, k=3, seed=0)
        >>> tuple(X.shape), y.bincount().tolist()
        ((300, 2), [100, 100, 100])
    """
    _check_positive(n=n, k=k)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    r = np.empty(n)
    for j in range(k):  # radii evenly spaced along each arm
        r[y == j] = np.linspace(0.0, 1.0, np.count_nonzero(y == j))
    theta = 4 * (y + r) + noise * rng.standard_normal(n)
    order = rng.permutation(n)
    X = r[:, None] * np.stack([np.sin(theta), np.cos(theta)], axis=1)
    return _two_d(X[order], y[order], as_tensors)


# --- images with boxes and masks ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Shapes:
    """Synthetic shape images for classification, detection and segmentation.

    Shape:
        - images: ``(N, 1, H, W)`` float32 in ``[0, 1]``
        - labels: ``(N,)`` int64, index into :data:`SHAPE_CLASSES`
        - boxes: ``(N, 4)`` float32 ``(x0, y0, x1, y1)`` in ``[0, 1]``
        - masks: ``(N, H, W)`` bool
    """

    images: Array
    labels: Array
    boxes: Array
    masks: Array


def shapes(
    n: int = 512,
    size: int = 32,
    *,
    noise: float = 0.05,
    seed: int = 0,
    as_tensors: bool = True,
) -> Shapes:
    """One square, circle or triangle per image, on a noisy background (notebook 12).

    Each image gets a class drawn uniformly from :data:`SHAPE_CLASSES` and a square frame of
    side ``s`` pixels, ``s`` uniform in ``[max(8, size // 4), 3 * size // 4]``, at a random
    position. The shape fills the frame: the whole square, the inscribed disc, or the
    triangle with its base on the frame's bottom edge and its apex at the top middle. A
    pixel belongs to the shape when its centre does. Sides of 8 pixels and more keep the
    classes apart: the mask fills all of its box for a square, 0.78-0.86 of it for a
    circle, 0.50-0.58 for a triangle.

    ``boxes`` is the tight bounding box of the mask in pixel-edge coordinates divided by
    the image size: ``x0 = first column / W``, ``x1 = (last column + 1) / W``, so
    ``masks[i]`` is non-zero exactly inside ``boxes[i] * size``. The image is a background
    level uniform in ``[0, 0.3]``, the shape at a brightness uniform in ``[0.6, 1]``, plus
    Gaussian noise of standard deviation ``noise``, clipped to ``[0, 1]``.

    Shape:
        - output: a :class:`Shapes` with ``images: (n, 1, size, size)`` float32,
          ``labels: (n,)`` int64, ``boxes: (n, 4)`` float32, ``masks: (n, size, size)`` bool

    Example:
        >>> s = shapes(4, size=32, seed=0)
        >>> tuple(s.images.shape), tuple(s.boxes.shape), tuple(s.masks.shape)
        ((4, 1, 32, 32), (4, 4), (4, 32, 32))
    """
    _check_positive(n=n, size=size)
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels (shapes need 8), got {size}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPE_CLASSES), n)
    side = rng.integers(max(8, size // 4), 3 * size // 4 + 1, n)
    left, top = rng.integers(0, size - side + 1), rng.integers(0, size - side + 1)
    # (u, v): each pixel centre in its image's frame coordinates, [0, 1] inside the frame
    centres = np.arange(size) + 0.5
    s = side[:, None, None]
    u = (centres[None, None, :] - left[:, None, None]) / s
    v = (centres[None, :, None] - top[:, None, None]) / s
    in_frame = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    drawn = {
        "square": in_frame,
        "circle": (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25,
        "triangle": in_frame & (np.abs(u - 0.5) <= v / 2),  # half-width grows to 1/2 at v=1
    }
    masks = np.select([labels[:, None, None] == i for i in range(3)], list(drawn.values()))
    masks = masks.astype(bool)

    def extent(any_along: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = any_along.argmax(axis=1)
        return first, size - any_along[:, ::-1].argmax(axis=1)

    (x0, x1), (y0, y1) = extent(masks.any(axis=1)), extent(masks.any(axis=2))
    boxes = (np.stack([x0, y0, x1, y1], axis=1) / size).astype(np.float32)

    background = rng.uniform(0.0, 0.3, (n, 1, 1))
    brightness = rng.uniform(0.6, 1.0, (n, 1, 1))
    images = background + (brightness - background) * masks
    images += noise * rng.standard_normal(images.shape)
    images = np.clip(images, 0.0, 1.0).astype(np.float32)[:, None]
    return Shapes(*_out(as_tensors, images, labels.astype(np.int64), boxes, masks))


# --- sequence tasks ----------------------------------------------------------------------


def _tokens(n: int, T: int, vocab: int, seed: int) -> np.ndarray:
    _check_positive(n=n, T=T, vocab=vocab)
    return np.random.default_rng(seed).integers(0, vocab, (n, T), dtype=np.int64)


def copy_task(
    n: int, T: int = 10, *, vocab: int = 8, delay: int = 3, seed: int = 0, as_tensors: bool = True
) -> tuple[Array, Array]:
    r"""Output the token seen ``delay`` steps earlier: a memory span of exactly ``delay``.

    .. math:: \mathrm{target}_t = \mathrm{token}_{t - \mathrm{delay}} \quad
        (t \ge \mathrm{delay}), \qquad \mathrm{target}_t = -100 \quad (t < \mathrm{delay})

    Tokens are uniform in ``0..vocab-1``. The first ``delay`` targets are
    :data:`IGNORE_INDEX` (-100), which ``F.cross_entropy`` skips by default: nothing has
    been seen yet that they could copy.

    Shape:
        - output: ``tokens: (n, T)`` int64, ``targets: (n, T)`` int64

    Example:
        >>> tokens, targets = copy_task(1, 6, delay=2, seed=0)
        >>> tokens.tolist(), targets.tolist()
        ([[6, 5, 4, 2, 2, 0]], [[-100, -100, 6, 5, 4, 2]])
    """
    if not 0 <= delay < T:
        raise ValueError(f"delay must be in 0..T-1 = 0..{T - 1}, got {delay}")
    tokens = _tokens(n, T, vocab, seed)
    targets = np.full_like(tokens, IGNORE_INDEX)
    targets[:, delay:] = tokens[:, : T - delay]
    return _out(as_tensors, tokens, targets)


def reverse_task(
    n: int, T: int = 10, *, vocab: int = 8, seed: int = 0, as_tensors: bool = True
) -> tuple[Array, Array]:
    """Output the sequence backwards: ``target_t = token_{T-1-t}``.

    Every output depends on the whole input, so a causal model must read all of it first
    (an encoder-decoder, or a bidirectional encoder). Tokens are uniform in ``0..vocab-1``.

    Shape:
        - output: ``tokens: (n, T)`` int64, ``targets: (n, T)`` int64

    Example:
        >>> tokens, targets = reverse_task(1, 4, seed=0)
        >>> tokens.tolist(), targets.tolist()
        ([[6, 5, 4, 2]], [[2, 4, 5, 6]])
    """
    tokens = _tokens(n, T, vocab, seed)
    return _out(as_tensors, tokens, np.ascontiguousarray(tokens[:, ::-1]))


def recall_first_task(
    n: int, T: int = 10, *, vocab: int = 8, seed: int = 0, as_tensors: bool = True
) -> tuple[Array, Array]:
    """One label per sequence, its FIRST token: a memory span of ``T - 1`` steps.

    Read from the last time step, the answer must survive ``T - 1`` updates of the state
    while the other tokens are noise: a direct probe of vanishing gradients as ``T`` grows.
    Tokens are uniform in ``0..vocab-1``.

    Shape:
        - output: ``tokens: (n, T)`` int64, ``targets: (n,)`` int64

    Example:
        >>> tokens, targets = recall_first_task(2, 3, seed=0)
        >>> tokens.tolist(), targets.tolist()
        ([[6, 5, 4], [2, 2, 0]], [6, 2])
    """
    tokens = _tokens(n, T, vocab, seed)
    return _out(as_tensors, tokens, tokens[:, 0].copy())


def noisy_sine(
    n: int, T: int = 50, *, noise: float = 0.1, seed: int = 0, as_tensors: bool = True
) -> tuple[Array, Array]:
    r"""Next-step prediction on noisy sine waves of random frequency and phase.

    .. math:: s_t = \sin(2\pi f t + \varphi) + \mathrm{noise}\cdot\varepsilon_t,
        \quad t = 0, \dots, T

    with ``f`` uniform in ``[1/32, 1/8]`` cycles per step (periods of 8 to 32 steps),
    ``phi`` uniform in ``[0, 2 pi)`` and ``eps_t ~ N(0, 1)``, one draw per sequence. The
    inputs are ``s_0 .. s_{T-1}`` and the targets the same series one step ahead,
    ``s_1 .. s_T``: ``targets[:, t] == inputs[:, t + 1]``.

    Shape:
        - output: ``inputs: (n, T, 1)`` float32, ``targets: (n, T, 1)`` float32

    Example:
        >>> inputs, targets = noisy_sine(2, 20, seed=0)
        >>> bool((targets[:, :-1] == inputs[:, 1:]).all())
        True
    """
    _check_positive(n=n, T=T)
    rng = np.random.default_rng(seed)
    freq = rng.uniform(1 / 32, 1 / 8, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    series = np.sin(2 * np.pi * freq * np.arange(T + 1) + phase)
    series = (series + noise * rng.standard_normal(series.shape)).astype(np.float32)
    return _out(as_tensors, series[:, :-1, None], series[:, 1:, None])


# --- by name -------------------------------------------------------------------------------


class OfflineError(ValueError):
    """A data set that would have to be downloaded: the course runs offline."""


_BUNDLED = {
    "digits": digits_split,
    "moons": moons,
    "circles": circles,
    "xor": xor,
    "spirals": spirals,
    "shapes": shapes,
    "copy": copy_task,
    "reverse": reverse_task,
    "recall_first": recall_first_task,
    "noisy_sine": noisy_sine,
}
_DIGITS = "'digits' (scikit-learn's 8x8 handwritten digits, 10 classes)"
_IMAGES = "'shapes' (synthetic images with labels, boxes and masks) or 'digits'"
_TEXT = "'copy', 'reverse', 'recall_first' or 'noisy_sine' (synthetic sequence tasks)"
_NEEDS_DOWNLOAD = {
    **dict.fromkeys(["mnist", "fashionmnist", "emnist", "kmnist", "qmnist", "usps"], _DIGITS),
    **dict.fromkeys(["svhn", "cifar10", "cifar100", "stl10", "imagenet", "tinyimagenet"], _IMAGES),
    **dict.fromkeys(["voc", "coco", "celeba", "oxfordpets", "cityscapes"], _IMAGES),
    **dict.fromkeys(["imdb", "agnews", "sst2", "ptb", "wikitext2", "wikitext103"], _TEXT),
    **dict.fromkeys(["shakespeare", "tinyshakespeare"], _TEXT),
}


def _key(name: str) -> str:
    """``"CIFAR-10"``, ``"cifar_10"`` and ``"cifar10"`` name the same set."""
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def load(name: str, **kwargs: object) -> object:
    """The bundled data set ``name``, built by its function with ``kwargs``.

    ``load("moons", n=500)`` is ``moons(n=500)``; the names are ``"digits"``
    (:func:`digits_split`), ``"moons"``, ``"circles"``, ``"xor"``, ``"spirals"``,
    ``"shapes"``, ``"copy"``, ``"reverse"``, ``"recall_first"`` and ``"noisy_sine"``. Case,
    ``-`` and ``_`` are ignored.

    Raises:
        OfflineError: for a data set that needs a download (MNIST, CIFAR-10, IMDB, ...),
            naming the bundled set to use instead.
        ValueError: for a name that is neither.

    Example:
        >>> X, y = load("xor", n=4)
        >>> tuple(X.shape)
        (4, 2)
    """
    key = _key(name)
    bundled = {_key(k): f for k, f in _BUNDLED.items()}
    if key in bundled:
        return bundled[key](**kwargs)
    if key in _NEEDS_DOWNLOAD:
        raise OfflineError(
            f"data set {name!r} must be downloaded, and this course runs offline (no internet "
            f"when notebooks run or are graded): use the bundled {_NEEDS_DOWNLOAD[key]} "
            "instead, with dl_helpers.data.load(name)"
        )
    raise ValueError(f"unknown data set {name!r}; bundled: {', '.join(_BUNDLED)}")
