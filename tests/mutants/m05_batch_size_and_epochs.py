"""Planted wrong answers for notebook 05 (batch size and epochs).

Each entry maps an answer cell's ``grade_id`` to plausible wrong answers a student could
submit: ``(name, complete replacement source of the answer cell)``. ``tests/test_mutants.py``
runs the setup cell and every solution answer in one kernel, then for each mutant runs its
source followed by the exercise's test cells (hidden tests included), and requires at least
one of those test cells to fail; the solution is restored before the next mutant.

Every mutant of a function exercise fails a *visible* test (each property a hidden test
checks is stated in the exercise and probed by a visible case); comments say which visible
case catches the subtle ones. The two interpretation questions are checked hidden only.
Every mutant is also caught by the grader's own comparison of values (``graded_values``).
"""

NOTEBOOK = "05_batch_size_and_epochs"

# --- minibatch_indices -------------------------------------------------------------------

_BATCHES = [
    ("never shuffles", '''
def minibatch_indices(N, B, shuffle=True, rng=None, drop_last=False):
    order = np.arange(N)
    stop = N - N % B if drop_last else N
    return [order[s : s + B] for s in range(0, stop, B)]
'''),
    ("drop_last ignored", '''
def minibatch_indices(N, B, shuffle=True, rng=None, drop_last=False):
    order = np.random.default_rng(rng).permutation(N) if shuffle else np.arange(N)
    return [order[s : s + B] for s in range(0, N, B)]
'''),
    ("partial last batch always dropped", '''
def minibatch_indices(N, B, shuffle=True, rng=None, drop_last=False):
    order = np.random.default_rng(rng).permutation(N) if shuffle else np.arange(N)
    return [order[s : s + B] for s in range(0, N - N % B, B)]
'''),
    # visible: the rng=0 case (the global NumPy generator, not rng)
    ("the global generator instead of rng", '''
def minibatch_indices(N, B, shuffle=True, rng=None, drop_last=False):
    order = np.random.permutation(N) if shuffle else np.arange(N)
    stop = N - N % B if drop_last else N
    return [order[s : s + B] for s in range(0, stop, B)]
'''),
    # visible: "two calls with the same Generator must give two different epochs"
    ("a copy of the Generator: every epoch the same order", '''
import copy


def minibatch_indices(N, B, shuffle=True, rng=None, drop_last=False):
    order = np.random.default_rng(copy.deepcopy(rng)).permutation(N) if shuffle else np.arange(N)
    stop = N - N % B if drop_last else N
    return [order[s : s + B] for s in range(0, stop, B)]
'''),
    ("lists instead of arrays", '''
def minibatch_indices(N, B, shuffle=True, rng=None, drop_last=False):
    order = np.random.default_rng(rng).permutation(N) if shuffle else np.arange(N)
    stop = N - N % B if drop_last else N
    return [order[s : s + B].tolist() for s in range(0, stop, B)]
'''),
]

# --- num_updates -------------------------------------------------------------------------

_UPDATES = [
    # visible: N = 1e17 + 1 (float division rounds to 1.0)
    ("ceil of a float division", '''
def num_updates(N, B, epochs, drop_last=False):
    per_epoch = int(np.floor(N / B)) if drop_last else int(np.ceil(N / B))
    return int(epochs) * per_epoch
'''),
    ("drop_last ignored", '''
def num_updates(N, B, epochs, drop_last=False):
    return int(epochs) * (-(-N // B))
'''),
    ("floor always: the partial batch not counted", '''
def num_updates(N, B, epochs, drop_last=False):
    return int(epochs) * (N // B)
'''),
    ("one epoch only", '''
def num_updates(N, B, epochs, drop_last=False):
    return N // B if drop_last else -(-N // B)
'''),
]

# --- logistic_grad -----------------------------------------------------------------------

_GIVEN = '''
def sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))


def logistic_loss(w, X, y):
    z = X @ w
    return float(np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))))
'''

_GRAD = [
    ("sum instead of mean", _GIVEN + '''
def logistic_grad(w, X, y):
    return X.T @ (sigmoid(X @ w) - y.astype(X.dtype))
'''),
    ("sign flipped: y - p", _GIVEN + '''
def logistic_grad(w, X, y):
    return X.T @ (y.astype(X.dtype) - sigmoid(X @ w)) / X.dtype.type(len(X))
'''),
    # visible: assert_no_warnings at logits of +-1e4
    ("textbook sigmoid overflows", _GIVEN + '''
def logistic_grad(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return X.T @ (p - y.astype(X.dtype)) / X.dtype.type(len(X))
'''),
    # visible: the float32 case
    ("float64 result for float32 input", _GIVEN + '''
def logistic_grad(w, X, y):
    X = np.asarray(X, dtype=np.float64)
    return X.T @ (sigmoid(X @ w) - y) / len(X)
'''),
]

# --- per_example_grads -------------------------------------------------------------------

_PER_EXAMPLE = [
    ("averaged: the batch gradient", '''
def per_example_grads(w, X, y):
    return X.T @ (sigmoid(X @ w) - y.astype(X.dtype)) / X.dtype.type(len(X))
'''),
    # visible: N = D = 2 broadcasts along the wrong axis
    ("missing [:, None]", '''
def per_example_grads(w, X, y):
    return (sigmoid(X @ w) - y.astype(X.dtype)) * X
'''),
    ("sign flipped", '''
def per_example_grads(w, X, y):
    return (y.astype(X.dtype) - sigmoid(X @ w))[:, None] * X
'''),
    ("transposed: (D, N)", '''
def per_example_grads(w, X, y):
    return ((sigmoid(X @ w) - y.astype(X.dtype))[:, None] * X).T
'''),
]

# --- gradient_noise ----------------------------------------------------------------------

_NOISE = [
    ("divides by draws - 1", '''
def gradient_noise(grad_fn, params, X, y, B, draws, rng=None, replace=False):
    rng = np.random.default_rng(rng)
    g = np.asarray(grad_fn(params, X, y), dtype=np.float64)
    total = 0.0
    for _ in range(draws):
        rows = rng.choice(len(X), size=B, replace=replace)
        total += float(np.sum((np.asarray(grad_fn(params, X[rows], y[rows])) - g) ** 2))
    return total / (draws - 1)
'''),
    # visible: B = N without replacement must be exactly 0
    ("always with replacement", '''
def gradient_noise(grad_fn, params, X, y, B, draws, rng=None, replace=False):
    rng = np.random.default_rng(rng)
    g = np.asarray(grad_fn(params, X, y), dtype=np.float64)
    total = 0.0
    for _ in range(draws):
        rows = rng.choice(len(X), size=B, replace=True)
        total += float(np.sum((np.asarray(grad_fn(params, X[rows], y[rows])) - g) ** 2))
    return total / draws
'''),
    ("the norm, not its square", '''
def gradient_noise(grad_fn, params, X, y, B, draws, rng=None, replace=False):
    rng = np.random.default_rng(rng)
    g = np.asarray(grad_fn(params, X, y), dtype=np.float64)
    total = 0.0
    for _ in range(draws):
        rows = rng.choice(len(X), size=B, replace=replace)
        total += float(np.sqrt(np.sum((np.asarray(grad_fn(params, X[rows], y[rows])) - g) ** 2)))
    return total / draws
'''),
    ("a fresh generator from the seed at every draw: one batch repeated", '''
def gradient_noise(grad_fn, params, X, y, B, draws, rng=None, replace=False):
    g = np.asarray(grad_fn(params, X, y), dtype=np.float64)
    total = 0.0
    for _ in range(draws):
        rows = np.random.default_rng(rng).choice(len(X), size=B, replace=replace)
        total += float(np.sum((np.asarray(grad_fn(params, X[rows], y[rows])) - g) ** 2))
    return total / draws
'''),
]

# --- gradient_noise_exact ----------------------------------------------------------------

_EXACT = [
    ("sigma^2 divided by N - 1", '''
def gradient_noise_exact(per_example_grads, B, replace=False):
    g = np.asarray(per_example_grads, dtype=np.float64).reshape(len(per_example_grads), -1)
    N = len(g)
    sigma2 = float(np.sum((g - g.mean(axis=0)) ** 2)) / max(N - 1, 1)
    if replace:
        return sigma2 / B
    return 0.0 if N == 1 else sigma2 / B * (N - B) / (N - 1)
'''),
    ("no finite-population factor", '''
def gradient_noise_exact(per_example_grads, B, replace=False):
    g = np.asarray(per_example_grads, dtype=np.float64).reshape(len(per_example_grads), -1)
    return float(np.sum((g - g.mean(axis=0)) ** 2)) / len(g) / B
'''),
    ("factor 1 - B/N instead of (N - B)/(N - 1)", '''
def gradient_noise_exact(per_example_grads, B, replace=False):
    g = np.asarray(per_example_grads, dtype=np.float64).reshape(len(per_example_grads), -1)
    N = len(g)
    sigma2 = float(np.sum((g - g.mean(axis=0)) ** 2)) / N
    return sigma2 / B if replace else sigma2 / B * (1 - B / N)
'''),
    # visible: rows of shape (3, 2)
    ("rows not flattened: the variance of the first entry only", '''
def gradient_noise_exact(per_example_grads, B, replace=False):
    g = np.asarray(per_example_grads, dtype=np.float64)
    N = len(g)
    first = g.reshape(N, -1)[:, 0]
    sigma2 = float(np.sum((first - first.mean()) ** 2)) / N
    if replace:
        return sigma2 / B
    return 0.0 if N == 1 else sigma2 / B * (N - B) / (N - 1)
'''),
]

# --- train -------------------------------------------------------------------------------

_TRAIN = [
    # visible: assert_not_mutated on the N = 10 run
    ("w0 updated in place", '''
def train(X, y, w0, lr, B, epochs, rng=None):
    rng = np.random.default_rng(rng)
    w = w0
    history = {"updates": [], "loss": []}
    done = 0
    for _ in range(epochs):
        for rows in minibatch_indices(len(X), B, True, rng):
            w -= lr * logistic_grad(w, X[rows], y[rows])
            done += 1
        history["updates"].append(done)
        history["loss"].append(logistic_loss(w, X, y))
    return w, history
'''),
    # visible: the 3-epoch run from one generator
    ("the seed passed every epoch: the same order each epoch", '''
def train(X, y, w0, lr, B, epochs, rng=None):
    w = np.array(w0, dtype=np.float64)
    history = {"updates": [], "loss": []}
    done = 0
    for _ in range(epochs):
        for rows in minibatch_indices(len(X), B, True, rng):
            w = w - lr * logistic_grad(w, X[rows], y[rows])
            done += 1
        history["updates"].append(done)
        history["loss"].append(logistic_loss(w, X, y))
    return w, history
'''),
    ("updates per epoch, not cumulative", '''
def train(X, y, w0, lr, B, epochs, rng=None):
    rng = np.random.default_rng(rng)
    w = np.array(w0, dtype=np.float64)
    history = {"updates": [], "loss": []}
    for _ in range(epochs):
        batches = minibatch_indices(len(X), B, True, rng)
        for rows in batches:
            w = w - lr * logistic_grad(w, X[rows], y[rows])
        history["updates"].append(len(batches))
        history["loss"].append(logistic_loss(w, X, y))
    return w, history
'''),
    ("loss of the last batch, not the training set", '''
def train(X, y, w0, lr, B, epochs, rng=None):
    rng = np.random.default_rng(rng)
    w = np.array(w0, dtype=np.float64)
    history = {"updates": [], "loss": []}
    done = 0
    for _ in range(epochs):
        for rows in minibatch_indices(len(X), B, True, rng):
            w = w - lr * logistic_grad(w, X[rows], y[rows])
            done += 1
        history["updates"].append(done)
        history["loss"].append(logistic_loss(w, X[rows], y[rows]))
    return w, history
'''),
    ("drop_last: the partial batch skipped", '''
def train(X, y, w0, lr, B, epochs, rng=None):
    rng = np.random.default_rng(rng)
    w = np.array(w0, dtype=np.float64)
    history = {"updates": [], "loss": []}
    done = 0
    for _ in range(epochs):
        for rows in minibatch_indices(len(X), B, True, rng, True):
            w = w - lr * logistic_grad(w, X[rows], y[rows])
            done += 1
        history["updates"].append(done)
        history["loss"].append(logistic_loss(w, X, y))
    return w, history
'''),
]

MUTANTS = {
    "minibatch_indices": _BATCHES,
    "num_updates": _UPDATES,
    "logistic_grad": _GRAD,
    "per_example_grads": _PER_EXAMPLE,
    "gradient_noise": _NOISE,
    "gradient_noise_exact": _EXACT,
    "noise_slope": [
        ("the standard deviation's slope", "NOISE_SLOPE = -0.5\n"),
        ("sign dropped", "NOISE_SLOPE = 1.0\n"),
        ("twice the slope", "NOISE_SLOPE = -2.0\n"),
    ],
    "train": _TRAIN,
    "best_batch_per_epoch": [
        ("the next batch size", "BEST_BATCH_PER_EPOCH = 16\n"),
        ("the full batch", "BEST_BATCH_PER_EPOCH = 1079\n"),
        ("B = 128", "BEST_BATCH_PER_EPOCH = 128\n"),
    ],
}
