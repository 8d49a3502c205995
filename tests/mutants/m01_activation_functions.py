"""Planted wrong answers for notebook 01 (activation functions).

Each entry maps an answer cell's ``grade_id`` to plausible wrong answers a student could
submit: ``(name, complete replacement source of the answer cell)``. ``tests/test_mutants.py``
runs the setup cell and every solution answer in one kernel, then for each mutant runs its
source followed by the exercise's test cells (hidden tests included), and requires at least
one of those test cells to fail; the solution is restored before the next mutant.

Every mutant of a function exercise fails a *visible* test (the course rule: each property
a hidden test checks is stated in the exercise and probed by a visible case), so a student
sees the failure before submitting; comments say which visible case catches the subtle
ones. Only the choice exercises (``output_activation`` and the interpretation questions)
are checked hidden: their visible test checks the form of the answer, since showing the
answer would give it away, and the exercise text says so.

Every mutant is also caught by the grader's own comparison of values outside the kernel
(each test cell's ``graded_values``; see ``tests/test_mutants.py``). The forbidden-call
mutants (torch, scipy, ``np.tanh``) are caught there because no value reaches the grader:
torch and scipy cannot be imported in its verification kernel, and ``test_tanh``'s
``graded_values`` makes ``np.tanh`` raise while it calls ``tanh``.
"""

NOTEBOOK = "01_activation_functions"

# --- sigmoid ---------------------------------------------------------------------------

_SIGMOID = [
    ("no minus sign in exp", '''
def sigmoid(x):
    x = np.asarray(x)
    z = np.exp(np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))
'''),
    ("naive form overflows at -1e4", '''
def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x)))
'''),
    ("both branches of np.where overflow", '''
def sigmoid(x):
    x = np.asarray(x)
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
'''),
    ("returns float64 for float32 input", '''
def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))
'''),
    # the visible test reads the function's code (assert_no_forbidden_calls)
    ("calls torch.sigmoid", '''
def sigmoid(x):
    x = np.asarray(x)
    return torch.sigmoid(torch.from_numpy(np.array(x))).numpy()
'''),
    # the visible test reads the function's code (assert_no_forbidden_calls)
    ("calls scipy's expit", '''
def sigmoid(x):
    from scipy.special import expit
    return expit(np.asarray(x))
'''),
    ("mutates its input in place", '''
def sigmoid(x):
    x = np.asarray(x)
    positive = x >= 0
    np.negative(np.abs(x, out=x), out=x)  # x now holds -|x|: the caller's array is changed
    z = np.exp(x)
    return np.where(positive, 1 / (1 + z), z / (1 + z))
'''),
    ("wrong branch for negatives", '''
def sigmoid(x):
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), 1 / (1 + 1 / z) + z)
'''),
    # sigmoid(-40) = 4.2e-18 comes out as 0: the visible left-tail case (atol=0)
    ("1 - sigmoid(-x) for negatives (the left tail cancels to 0)", '''
def sigmoid(x):
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), 1 - 1 / (1 + z))
'''),
    # no overflow even in float32, but sigmoid(-100) becomes sigmoid(-88): visible tail case
    ("clips x to [-88, 88], then the naive formula", '''
def sigmoid(x):
    x = np.clip(np.asarray(x), -88, 88)
    return 1 / (1 + np.exp(-x))
'''),
    # the left tail cancels to 0, as with 1 - sigmoid(-x): visible tail case
    ("0.5 * (1 + tanh(x / 2))", '''
def sigmoid(x):
    return 0.5 * (1 + np.tanh(np.asarray(x) / 2))
'''),
]

# --- sigmoid_grad -----------------------------------------------------------------------

_SIGMOID_GRAD = [
    ("tanh's derivative formula", '''
def sigmoid_grad(x):
    s = sigmoid(x)
    return 1 - s * s
'''),
    ("derivative evaluated at x instead of sigmoid(x)", '''
def sigmoid_grad(x):
    x = np.asarray(x)
    return x * (1 - x)
'''),
    ("returns the sigmoid itself", '''
def sigmoid_grad(x):
    return sigmoid(x)
'''),
    ("naive quotient overflows", '''
def sigmoid_grad(x):
    x = np.asarray(x)
    e = np.exp(-x)
    return e / (1 + e) ** 2
'''),
    ("returns float64 for float32 input", '''
def sigmoid_grad(x):
    s = sigmoid(np.asarray(x, dtype=np.float64))
    return s * (1 - s)
'''),
]

# --- tanh (tanh and tanh_grad) ----------------------------------------------------------

_TANH_GRAD_OK = '''

def tanh_grad(x):
    t = tanh(x)
    return 1 - t * t
'''
_TANH_OK = '''
def tanh(x):
    x = np.asarray(x)
    z = np.exp(-2 * np.abs(x))
    return np.sign(x) * (1 - z) / (1 + z)
'''

_TANH = [
    ("uses np.tanh", '''
def tanh(x):
    return np.tanh(np.asarray(x))
''' + _TANH_GRAD_OK),
    ("textbook quotient overflows (nan at 1e4)", '''
def tanh(x):
    x = np.asarray(x)
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
''' + _TANH_GRAD_OK),
    ("identity without the factor 2 inside", '''
def tanh(x):
    return 2 * sigmoid(x) - 1
''' + _TANH_GRAD_OK),
    ("loses the sign for negative inputs", '''
def tanh(x):
    x = np.asarray(x)
    z = np.exp(-2 * np.abs(x))
    return (1 - z) / (1 + z)
''' + _TANH_GRAD_OK),
    ("tanh_grad without the square", _TANH_OK + '''

def tanh_grad(x):
    return 1 - tanh(x)
'''),
    ("tanh_grad: 4 sigmoid'(x) instead of 4 sigmoid'(2x)", _TANH_OK + '''

def tanh_grad(x):
    return 4 * sigmoid_grad(x)
'''),
    ("returns float64 for float32 input", '''
def tanh(x):
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(-2 * np.abs(x))
    return np.sign(x) * (1 - z) / (1 + z)
''' + _TANH_GRAD_OK),
]

# --- relu (relu and relu_grad) ----------------------------------------------------------

_RELU_OK = '''
def relu(x):
    return np.maximum(np.asarray(x), 0)
'''
_RELU_GRAD_OK = '''

def relu_grad(x):
    x = np.asarray(x)
    return (x > 0).astype(x.dtype)
'''

_RELU = [
    ("relu_grad(0) = 1", _RELU_OK + '''

def relu_grad(x):
    x = np.asarray(x)
    return (x >= 0).astype(x.dtype)
'''),
    ("relu_grad returns booleans", _RELU_OK + '''

def relu_grad(x):
    return np.asarray(x) > 0
'''),
    ("clips the wrong side", '''
def relu(x):
    return np.minimum(np.asarray(x), 0)
''' + _RELU_GRAD_OK),
    ("absolute value instead of max(x, 0)", '''
def relu(x):
    return np.abs(np.asarray(x))
''' + _RELU_GRAD_OK),
    ("zeroes the negatives of its input in place", '''
def relu(x):
    x = np.asarray(x)
    x[x < 0] = 0
    return x
''' + _RELU_GRAD_OK),
    ("returns float64 for float32 input", '''
def relu(x):
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)
''' + _RELU_GRAD_OK),
    # the visible test reads the function's code (assert_no_forbidden_calls)
    ("calls torch.relu", '''
def relu(x):
    return torch.relu(torch.from_numpy(np.array(x))).numpy()
''' + _RELU_GRAD_OK),
]

# --- layer_grad_norms -------------------------------------------------------------------

_LGN = [
    ("forgets the activation derivative", '''
def layer_grad_norms(x, weights, act, act_grad):
    hs = [np.asarray(x)]
    for W in weights:
        hs.append(act(hs[-1] @ W))
    upstream = np.ones_like(hs[-1])
    norms = np.zeros(len(weights))
    for layer in reversed(range(len(weights))):
        delta = upstream
        norms[layer] = np.linalg.norm(hs[layer].T @ delta)
        upstream = delta @ weights[layer].T
    return norms
'''),
    ("derivative at the post-activation instead of the pre-activation", '''
def layer_grad_norms(x, weights, act, act_grad):
    hs = [np.asarray(x)]
    for W in weights:
        hs.append(act(hs[-1] @ W))
    upstream = np.ones_like(hs[-1])
    norms = np.zeros(len(weights))
    for layer in reversed(range(len(weights))):
        delta = upstream * act_grad(hs[layer + 1])
        norms[layer] = np.linalg.norm(hs[layer].T @ delta)
        upstream = delta @ weights[layer].T
    return norms
'''),
    ("returns the top layer first", '''
def layer_grad_norms(x, weights, act, act_grad):
    hs, zs = [np.asarray(x)], []
    for W in weights:
        zs.append(hs[-1] @ W)
        hs.append(act(zs[-1]))
    upstream = np.ones_like(hs[-1])
    norms = []
    for layer in reversed(range(len(weights))):
        delta = upstream * act_grad(zs[layer])
        norms.append(np.linalg.norm(hs[layer].T @ delta))
        upstream = delta @ weights[layer].T
    return np.array(norms)
'''),
    ("does not propagate through the weights", '''
def layer_grad_norms(x, weights, act, act_grad):
    hs, zs = [np.asarray(x)], []
    for W in weights:
        zs.append(hs[-1] @ W)
        hs.append(act(zs[-1]))
    upstream = np.ones_like(hs[-1])
    norms = np.zeros(len(weights))
    for layer in reversed(range(len(weights))):
        delta = upstream * act_grad(zs[layer])
        norms[layer] = np.linalg.norm(hs[layer].T @ delta)
        upstream = np.ones_like(hs[layer])
    return norms
'''),
    ("squared norm (no square root)", '''
def layer_grad_norms(x, weights, act, act_grad):
    hs, zs = [np.asarray(x)], []
    for W in weights:
        zs.append(hs[-1] @ W)
        hs.append(act(zs[-1]))
    upstream = np.ones_like(hs[-1])
    norms = np.zeros(len(weights))
    for layer in reversed(range(len(weights))):
        delta = upstream * act_grad(zs[layer])
        norms[layer] = np.sum((hs[layer].T @ delta) ** 2)
        upstream = delta @ weights[layer].T
    return norms
'''),
    ("uses torch autograd instead of backprop by hand", '''
def layer_grad_norms(x, weights, act, act_grad):
    torch_act = getattr(torch, act.__name__)  # sigmoid -> torch.sigmoid, ...
    Ws = [torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True) for W in weights]
    h = torch.tensor(np.asarray(x, dtype=np.float64))
    for W in Ws:
        h = torch_act(h @ W)
    h.sum().backward()
    return np.array([W.grad.norm().item() for W in Ws])
'''),
]

# --- dead_fraction ----------------------------------------------------------------------

_DEAD = [
    ("counts zeros over all entries", '''
def dead_fraction(h):
    return float(np.mean(np.asarray(h) == 0))
'''),
    ("per input instead of per unit", '''
def dead_fraction(h):
    return float(np.mean(np.all(np.asarray(h) == 0, axis=1)))
'''),
    ("any instead of all", '''
def dead_fraction(h):
    return float(np.mean(np.any(np.asarray(h) == 0, axis=0)))
'''),
    ("returns a count, not a fraction", '''
def dead_fraction(h):
    return float(np.sum(np.all(np.asarray(h) == 0, axis=0)))
'''),
    ("looks for negative outputs (there are none after ReLU)", '''
def dead_fraction(h):
    return float(np.mean(np.all(np.asarray(h) < 0, axis=0)))
'''),
    # a unit whose only activation is 1e-9 is alive: the visible weak-units case
    ("np.isclose(h, 0) instead of exactly 0", '''
def dead_fraction(h):
    return float(np.mean(np.all(np.isclose(np.asarray(h), 0), axis=0)))
'''),
    # a unit whose only activation is 1e-9 is alive: the visible weak-units case
    ("a threshold h < 1e-6 instead of exactly 0", '''
def dead_fraction(h):
    return float(np.mean(np.all(np.asarray(h) < 1e-6, axis=0)))
'''),
    # a unit that fires only weakly is alive: the visible weak-units case
    ("a small mean activation counted as dead", '''
def dead_fraction(h):
    return float(np.mean(np.asarray(h).mean(axis=0) < 1e-3))
'''),
    ("returns a 0-d array, not a float", '''
def dead_fraction(h):
    return np.asarray(np.mean(np.all(np.asarray(h) == 0, axis=0)))
'''),
]

# --- leaky_relu (leaky_relu and leaky_relu_grad) ----------------------------------------

_LEAKY_OK = '''
def leaky_relu(x, alpha=0.01):
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * x)
'''
_LEAKY_GRAD_OK = '''

def leaky_relu_grad(x, alpha=0.01):
    x = np.asarray(x)
    return np.where(x > 0, 1.0, alpha).astype(x.dtype)
'''

_LEAKY = [
    ("slope on the wrong side", '''
def leaky_relu(x, alpha=0.01):
    x = np.asarray(x)
    return np.where(x > 0, alpha * x, x)
''' + _LEAKY_GRAD_OK),
    ("ignores alpha (hard-coded 0.01)", '''
def leaky_relu(x, alpha=0.01):
    x = np.asarray(x)
    return np.where(x > 0, x, 0.01 * x)
''' + _LEAKY_GRAD_OK),
    ("leaky_relu_grad is ReLU's derivative", _LEAKY_OK + '''

def leaky_relu_grad(x, alpha=0.01):
    x = np.asarray(x)
    return (x > 0).astype(x.dtype)
'''),
    ("leaky_relu_grad returns 1 at x = 0", _LEAKY_OK + '''

def leaky_relu_grad(x, alpha=0.01):
    x = np.asarray(x)
    return np.where(x >= 0, 1.0, alpha).astype(x.dtype)
'''),
    ("leaky_relu_grad returns float64 for float32 input", _LEAKY_OK + '''

def leaky_relu_grad(x, alpha=0.01):
    return np.where(np.asarray(x) > 0, 1.0, alpha)
'''),
    ("scales the negatives of its input in place", '''
def leaky_relu(x, alpha=0.01):
    x = np.asarray(x)
    x[x < 0] *= alpha
    return x
''' + _LEAKY_GRAD_OK),
    # the visible case leaky_relu_grad(x, 0.5) passes alpha by position
    ("leaky_relu_grad takes alpha as keyword-only", _LEAKY_OK + '''

def leaky_relu_grad(x, *, alpha=0.01):
    x = np.asarray(x)
    return np.where(x > 0, 1.0, alpha).astype(x.dtype)
'''),
]

# --- prelu (prelu and prelu_grad) -------------------------------------------------------

_PRELU_OK = '''
def prelu(x, a):
    x = np.asarray(x)
    return np.where(x > 0, x, np.asarray(a, dtype=x.dtype) * x)
'''

_PRELU = [
    ("prelu_grad: dy_dx in the slope's dtype (float64 for float32 x)", _PRELU_OK + '''
def prelu_grad(x, a):
    x = np.asarray(x)
    positive = x > 0
    return np.where(positive, 1.0, a), np.where(positive, 0.0, x)
'''),
    ("dy_da with the wrong sign", _PRELU_OK + '''

def prelu_grad(x, a):
    x = np.asarray(x)
    a = np.asarray(a, dtype=x.dtype)
    return np.where(x > 0, np.ones_like(x), a), np.where(x > 0, np.zeros_like(x), -x)
'''),
    ("dy_da = a (confused with dy_dx)", _PRELU_OK + '''

def prelu_grad(x, a):
    x = np.asarray(x)
    a = np.asarray(a, dtype=x.dtype)
    dy_dx = np.where(x > 0, np.ones_like(x), a)
    return dy_dx, np.where(x > 0, np.zeros_like(x), a)
'''),
    ("dy_dx is ReLU's derivative", _PRELU_OK + '''

def prelu_grad(x, a):
    x = np.asarray(x)
    return (x > 0).astype(x.dtype), np.where(x > 0, np.zeros_like(x), x)
'''),
    ("slope applied to the positive side", '''
def prelu(x, a):
    x = np.asarray(x)
    return np.where(x > 0, np.asarray(a, dtype=x.dtype) * x, x)


def prelu_grad(x, a):
    x = np.asarray(x)
    a = np.asarray(a, dtype=x.dtype)
    return np.where(x > 0, np.ones_like(x), a), np.where(x > 0, np.zeros_like(x), x)
'''),
    ("dy_da summed over the batch (shape of a, not of x)", _PRELU_OK + '''

def prelu_grad(x, a):
    x = np.asarray(x)
    a = np.asarray(a, dtype=x.dtype)
    dy_dx = np.where(x > 0, np.ones_like(x), a)
    return dy_dx, np.where(x > 0, 0, x).sum(axis=0)
'''),
    ("per-channel slopes broadcast over the first axis", '''
def prelu(x, a):
    x = np.asarray(x)
    a = np.asarray(a, dtype=x.dtype)
    if a.ndim == 1 and x.ndim > 1:
        a = a.reshape((-1,) + (1,) * (x.ndim - 1))
    return np.where(x > 0, x, a * x)


def prelu_grad(x, a):
    x = np.asarray(x)
    a = np.asarray(a, dtype=x.dtype)
    if a.ndim == 1 and x.ndim > 1:
        a = a.reshape((-1,) + (1,) * (x.ndim - 1))
    dy_dx = np.where(x > 0, np.ones_like(x), a)
    return dy_dx, np.where(x > 0, np.zeros_like(x), x)
'''),
    # max(x, a * x) is PReLU only for a <= 1: the visible case a = 1.5
    ("np.maximum(x, a * x) (wrong for slopes above 1)", '''
def prelu(x, a):
    x = np.asarray(x)
    return np.maximum(x, np.asarray(a, dtype=x.dtype) * x)


def prelu_grad(x, a):
    x = np.asarray(x)
    a = np.asarray(a, dtype=x.dtype)
    return np.where(x > 0, np.ones_like(x), a), np.where(x > 0, np.zeros_like(x), x)
'''),
]

# --- softmax ----------------------------------------------------------------------------

_SOFTMAX = [
    ("no max subtraction (overflows)", '''
def softmax(x, axis=-1):
    e = np.exp(np.asarray(x))
    return e / e.sum(axis=axis, keepdims=True)
'''),
    ("normalised over the wrong axis", '''
def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
'''),
    ("no keepdims", '''
def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis))
    return e / e.sum(axis=axis)
'''),
    ("ignores the axis argument", '''
def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
'''),
    ("subtracts the global max instead of the max along the axis", '''
def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max())
    return e / e.sum(axis=axis, keepdims=True)
'''),
    ("returns float64 for float32 input", '''
def softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''),
    ("subtracts the max from its input in place", '''
def softmax(x, axis=-1):
    x = np.asarray(x)
    x -= x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)
'''),
]

# --- softmax_backward -----------------------------------------------------------------------

_SOFTMAX_BACKWARD = [
    ("missing the -s * sum(g * s) term", '''
def softmax_backward(x, upstream, axis=-1):
    return softmax(x, axis=axis) * upstream
'''),
    ("diagonal of the Jacobian only", '''
def softmax_backward(x, upstream, axis=-1):
    s = softmax(x, axis=axis)
    return s * (1 - s) * upstream
'''),
    ("sign flipped", '''
def softmax_backward(x, upstream, axis=-1):
    s = softmax(x, axis=axis)
    return s * ((upstream * s).sum(axis=axis, keepdims=True) - upstream)
'''),
    ("sum over every axis instead of along `axis`", '''
def softmax_backward(x, upstream, axis=-1):
    s = softmax(x, axis=axis)
    return s * (upstream - (upstream * s).sum())
'''),
    ("ignores the axis argument", '''
def softmax_backward(x, upstream, axis=-1):
    s = softmax(x)
    return s * (upstream - (upstream * s).sum(axis=-1, keepdims=True))
'''),
]

# --- output_activation ------------------------------------------------------------------

_OUTPUT_OK = {
    "binary classification": "sigmoid",
    "multi-class classification": "softmax",
    "multi-label classification": "sigmoid",
    "regression": "identity",
    "bounding-box coordinates (normalised to [0, 1])": "sigmoid",
    "binary segmentation mask": "sigmoid",
    "multi-class segmentation mask": "softmax",
    "attention weights": "softmax",
}
_STAGE_OK = {
    "input layer": None,
    "hidden layer of a CNN or MLP": "relu",
    "hidden state of a vanilla RNN": "tanh",
    "feed-forward layer of a transformer": "relu",
}


def _choice(output_changes: dict, stage_changes: dict) -> str:
    output = {**_OUTPUT_OK, **output_changes}
    stage = {**_STAGE_OK, **stage_changes}
    return f"OUTPUT_ACTIVATION = {output!r}\nSTAGE_ACTIVATION = {stage!r}\n"


# A choice exercise: caught by the hidden test (the visible one checks keys and allowed values).
_OUTPUT = [
    ("softmax for multi-label classification",
     _choice({"multi-label classification": "softmax"}, {})),
    ("identity for bounding-box coordinates",
     _choice({"bounding-box coordinates (normalised to [0, 1])": "identity"}, {})),
    ("sigmoid for regression", _choice({"regression": "sigmoid"}, {})),
    ("sigmoid for multi-class segmentation",
     _choice({"multi-class segmentation mask": "sigmoid"}, {})),
    ("relu at the input layer", _choice({}, {"input layer": "relu"})),
    ("softmax in a hidden layer", _choice({}, {"hidden layer of a CNN or MLP": "softmax"})),
    ("sigmoid for attention weights", _choice({"attention weights": "sigmoid"}, {})),
]

# --- interpretation questions (choice and numeric answers, checked hidden) ---------------

_LAYER_BELOW = [
    ("three layers off (layer 7)", "SIGMOID_LAYER_BELOW_1E6 = 7\n"),
    ("the top layer (20)", "SIGMOID_LAYER_BELOW_1E6 = 20\n"),
    ("the exponent read as a layer (6)", "SIGMOID_LAYER_BELOW_1E6 = 6\n"),
    ("a float, not an int", "SIGMOID_LAYER_BELOW_1E6 = 10.0\n"),
]

_SATURATED = [
    ("a percentage, not a fraction", "SIGMOID_SATURATED_LAYER1 = 47.6\n"),
    ("the third layer's fraction", "SIGMOID_SATURATED_LAYER1 = 0.65\n"),
    ("tanh's first layer", "SIGMOID_SATURATED_LAYER1 = 0.006\n"),
    ("a string", 'SIGMOID_SATURATED_LAYER1 = "0.48"\n'),
]

_SLOPE_RANGE = [
    ("the small slopes (a)", 'BEST_SLOPE_RANGE = "a"\n'),
    ("the linear network (c)", 'BEST_SLOPE_RANGE = "c"\n'),
    ("a slope instead of a letter", "BEST_SLOPE_RANGE = 0.3\n"),
]

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "sigmoid": _SIGMOID,
    "sigmoid_grad": _SIGMOID_GRAD,
    "tanh": _TANH,
    "relu": _RELU,
    "layer_grad_norms": _LGN,
    "dead_fraction": _DEAD,
    "leaky_relu": _LEAKY,
    "prelu": _PRELU,
    "softmax": _SOFTMAX,
    "softmax_backward": _SOFTMAX_BACKWARD,
    "output_activation": _OUTPUT,
    "sigmoid_layer_below_1e6": _LAYER_BELOW,
    "best_slope_range": _SLOPE_RANGE,
    "sigmoid_saturated_layer1": _SATURATED,
}
