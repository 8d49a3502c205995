"""Planted wrong answers for notebook 00 (neural networks).

Each entry maps an answer cell's ``grade_id`` to plausible wrong answers a student could
submit: ``(name, complete replacement source of the answer cell)``. ``tests/test_mutants.py``
runs the setup cell and every solution answer in one kernel, then for each mutant runs its
source followed by the exercise's test cells (hidden tests included), and requires at least
one of those test cells to fail; the solution is restored before the next mutant.

Every mutant of a function exercise fails a *visible* test (each property a hidden test
checks is stated in the exercise and probed by a visible case); comments say which visible
case catches the subtle ones. Only the interpretation questions are checked hidden: their
visible test checks the form of the answer, and the exercise text says so.

Every mutant is also caught by the grader's own comparison of values outside the kernel
(each test cell's ``graded_values``). The forbidden-call mutants (torch, the reference) are
caught there because no value reaches the grader: torch and dl_helpers cannot be imported in
its verification kernel.
"""

NOTEBOOK = "00_neural_networks"

# The answer cell of exercise 1 also defines the activations the later exercises use; its
# mutants keep them, so only neuron_forward changes.
_ACTIVATIONS = '''
ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 0.5 * (1 + np.tanh(z / 2)),
    "relu": lambda z: np.maximum(z, 0),
    "identity": lambda z: z,
}
ACTIVATION_GRADS = {
    "tanh": lambda z: 1 - np.tanh(z) ** 2,
    "sigmoid": lambda z: 0.25 * (1 - np.tanh(z / 2) ** 2),
    "relu": lambda z: (z > 0).astype(z.dtype),
    "identity": lambda z: np.ones_like(z),
}
'''

# --- neuron_forward ----------------------------------------------------------------------

_NEURON = [
    ("bias subtracted", _ACTIVATIONS + '''
def neuron_forward(x, w, b, activation="tanh"):
    return ACTIVATIONS[activation](np.asarray(x) @ np.asarray(w) - b)
'''),
    ("activation name ignored: always tanh", _ACTIVATIONS + '''
def neuron_forward(x, w, b, activation="tanh"):
    return np.tanh(np.asarray(x) @ np.asarray(w) + b)
'''),
    # visible: the float32 sigmoid case
    ("float64 result for float32 input", _ACTIVATIONS + '''
def neuron_forward(x, w, b, activation="tanh"):
    z = np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64) + b
    return ACTIVATIONS[activation](z)
'''),
    # visible: assert_no_warnings at z = +-1e4; the grader's value is the FloatingPointError
    ("textbook sigmoid overflows", _ACTIVATIONS + '''
def neuron_forward(x, w, b, activation="tanh"):
    z = np.asarray(x) @ np.asarray(w) + b
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return ACTIVATIONS[activation](z)
'''),
    ("sums over the batch axis instead of the features", _ACTIVATIONS + '''
def neuron_forward(x, w, b, activation="tanh"):
    x = np.asarray(x)
    return ACTIVATIONS[activation]((x * w).sum(axis=0) + b)
'''),
    ("calls the reference", _ACTIVATIONS + '''
def neuron_forward(x, w, b, activation="tanh"):
    from dl_helpers import networks
    return networks.neuron_forward(x, w, b, activation)
'''),
]

# --- dense_forward -----------------------------------------------------------------------

_DENSE = [
    ("bias forgotten", '''
def dense_forward(x, W, b):
    return np.asarray(x) @ np.asarray(W)
'''),
    ("W transposed", '''
def dense_forward(x, W, b):
    return np.asarray(x) @ np.asarray(W).T + b
'''),
    ("float64 result for float32 input", '''
def dense_forward(x, W, b):
    return np.asarray(x, dtype=np.float64) @ np.asarray(W, dtype=np.float64) + b
'''),
    ("bias added to the columns' sum", '''
def dense_forward(x, W, b):
    return np.asarray(x) @ np.asarray(W) + np.sum(b)
'''),
    ("calls torch", '''
def dense_forward(x, W, b):
    return torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(W.T.copy()),
                                      torch.from_numpy(b)).numpy()
'''),
]

# --- mlp_forward -------------------------------------------------------------------------

_MLP_FORWARD = [
    ("activation after the last layer too", '''
def mlp_forward(x, params, activation="tanh"):
    f = ACTIVATIONS[activation]
    a, inputs, pre_activations = np.asarray(x), [], []
    for W, b in params:
        inputs.append(a)
        z = dense_forward(a, W, b)
        pre_activations.append(z)
        a = f(z)
    return a, (inputs, pre_activations, params, activation)
'''),
    ("caches the activations instead of the pre-activations", '''
def mlp_forward(x, params, activation="tanh"):
    f = ACTIVATIONS[activation]
    a, inputs, pre_activations = np.asarray(x), [], []
    for layer, (W, b) in enumerate(params, start=1):
        inputs.append(a)
        z = dense_forward(a, W, b)
        a = z if layer == len(params) else f(z)
        pre_activations.append(a)
    return a, (inputs, pre_activations, params, activation)
'''),
    ("caches each layer's output, not its input", '''
def mlp_forward(x, params, activation="tanh"):
    f = ACTIVATIONS[activation]
    a, inputs, pre_activations = np.asarray(x), [], []
    for layer, (W, b) in enumerate(params, start=1):
        z = dense_forward(a, W, b)
        pre_activations.append(z)
        a = z if layer == len(params) else f(z)
        inputs.append(a)
    return a, (inputs, pre_activations, params, activation)
'''),
    ("activation name ignored: always tanh", '''
def mlp_forward(x, params, activation="tanh"):
    a, inputs, pre_activations = np.asarray(x), [], []
    for layer, (W, b) in enumerate(params, start=1):
        inputs.append(a)
        z = dense_forward(a, W, b)
        pre_activations.append(z)
        a = z if layer == len(params) else np.tanh(z)
    return a, (inputs, pre_activations, params, activation)
'''),
    # visible: the float32 3 -> 5 -> 2 case
    ("float64 result for float32 input", '''
def mlp_forward(x, params, activation="tanh"):
    f = ACTIVATIONS[activation]
    a, inputs, pre_activations = np.asarray(x, dtype=np.float64), [], []
    for layer, (W, b) in enumerate(params, start=1):
        inputs.append(a)
        z = a @ np.asarray(W, dtype=np.float64) + np.asarray(b, dtype=np.float64)
        pre_activations.append(z)
        a = z if layer == len(params) else f(z)
    return a, (inputs, pre_activations, params, activation)
'''),
]

# --- collapse ----------------------------------------------------------------------------

_COLLAPSE = [
    ("biases added without passing through the later layers", '''
def collapse(params):
    W, b = np.asarray(params[0][0]), np.asarray(params[0][1])
    for W_l, b_l in params[1:]:
        W, b = W @ W_l, b + b_l if b.shape == b_l.shape else b_l
    return W, b
'''),
    ("only the last bias", '''
def collapse(params):
    W = np.asarray(params[0][0])
    for W_l, _ in params[1:]:
        W = W @ W_l
    return W, np.asarray(params[-1][1])
'''),
    ("the first layer's bias forgotten", '''
def collapse(params):
    W, b = np.asarray(params[0][0]), np.zeros_like(params[0][1])
    for W_l, b_l in params[1:]:
        W, b = W @ W_l, b @ W_l + b_l
    return W, b
'''),
    # visible: the float32 network 3 -> 4 -> 2 (assert_close checks the dtype)
    ("float64 result for float32 parameters", '''
def collapse(params):
    W, b = np.asarray(params[0][0], dtype=np.float64), np.asarray(params[0][1], dtype=np.float64)
    for W_l, b_l in params[1:]:
        W, b = W @ W_l.astype(np.float64), b @ W_l.astype(np.float64) + b_l
    return W, b
'''),
    # visible: assert_not_mutated on the 3 -> 4 -> 2 network
    ("folds the layers into the first layer's arrays in place", '''
def collapse(params):
    W, b = params[0]
    for W_l, b_l in params[1:]:
        W, b = W @ W_l, b @ W_l + b_l
    params[0][1][...] = 0
    return W, b
'''),
]

# --- dense_backward ----------------------------------------------------------------------

_DENSE_BACKWARD = [
    ("dW transposed: G^T x", '''
def dense_backward(x, W, b, upstream):
    x, W, g = np.asarray(x), np.asarray(W), np.asarray(upstream)
    return g @ W.T, g.T @ x, g.sum(axis=0)
'''),
    ("db averaged over the batch", '''
def dense_backward(x, W, b, upstream):
    x, W, g = np.asarray(x), np.asarray(W), np.asarray(upstream)
    return g @ W.T, x.T @ g, g.mean(axis=0)
'''),
    ("dx without the transpose, W's shape permitting", '''
def dense_backward(x, W, b, upstream):
    x, W, g = np.asarray(x), np.asarray(W), np.asarray(upstream)
    dx = g @ W if W.shape[0] == W.shape[1] else g @ W.T
    return dx, x.T @ g, g.sum(axis=0)
'''),
    ("db summed over the wrong axis", '''
def dense_backward(x, W, b, upstream):
    x, W, g = np.asarray(x), np.asarray(W), np.asarray(upstream)
    return g @ W.T, x.T @ g, g.sum(axis=1)
'''),
    # visible: the float32 case
    ("float64 gradients for float32 input", '''
def dense_backward(x, W, b, upstream):
    x, W = np.asarray(x, dtype=np.float64), np.asarray(W, dtype=np.float64)
    g = np.asarray(upstream, dtype=np.float64)
    return g @ W.T, x.T @ g, g.sum(axis=0)
'''),
]

# --- mlp_backward ------------------------------------------------------------------------

_MLP_BACKWARD = [
    ("activation derivative at the last layer too", '''
def mlp_backward(cache, upstream):
    inputs, pre_activations, params, activation = cache
    g, grads = np.asarray(upstream), []
    for layer in reversed(range(len(params))):
        g = g * ACTIVATION_GRADS[activation](pre_activations[layer])
        W, b = params[layer]
        g, dW, db = dense_backward(inputs[layer], W, b, g)
        grads.append((dW, db))
    return grads[::-1]
'''),
    ("derivative taken at the activation's output, not at z", '''
def mlp_backward(cache, upstream):
    inputs, pre_activations, params, activation = cache
    g, grads = np.asarray(upstream), []
    for layer in reversed(range(len(params))):
        if layer < len(params) - 1:
            g = g * ACTIVATION_GRADS[activation](inputs[layer + 1])
        W, b = params[layer]
        g, dW, db = dense_backward(inputs[layer], W, b, g)
        grads.append((dW, db))
    return grads[::-1]
'''),
    ("gradients returned last layer first", '''
def mlp_backward(cache, upstream):
    inputs, pre_activations, params, activation = cache
    g, grads = np.asarray(upstream), []
    for layer in reversed(range(len(params))):
        if layer < len(params) - 1:
            g = g * ACTIVATION_GRADS[activation](pre_activations[layer])
        W, b = params[layer]
        g, dW, db = dense_backward(inputs[layer], W, b, g)
        grads.append((dW, db))
    return grads
'''),
    ("the gradient is not passed down: every layer gets the top's upstream", '''
def mlp_backward(cache, upstream):
    inputs, pre_activations, params, activation = cache
    grads = []
    for layer in range(len(params)):
        W, b = params[layer]
        g = np.asarray(upstream) @ np.ones((upstream.shape[1], W.shape[1]), dtype=upstream.dtype)
        if layer < len(params) - 1:
            g = g * ACTIVATION_GRADS[activation](pre_activations[layer])
        _, dW, db = dense_backward(inputs[layer], W, b, g)
        grads.append((dW, db))
    return grads
'''),
    # visible: the float32 relu case
    ("float64 gradients for a float32 network", '''
def mlp_backward(cache, upstream):
    inputs, pre_activations, params, activation = cache
    g, grads = np.asarray(upstream, dtype=np.float64), []
    for layer in reversed(range(len(params))):
        if layer < len(params) - 1:
            g = g * ACTIVATION_GRADS[activation](pre_activations[layer].astype(np.float64))
        W, b = params[layer]
        g, dW, db = dense_backward(inputs[layer].astype(np.float64), W.astype(np.float64),
                                   b.astype(np.float64), g)
        grads.append((dW, db))
    return grads[::-1]
'''),
]

# --- train_step --------------------------------------------------------------------------

_TRAIN_STEP_TAIL = '''
    grads = mlp_backward(cache, dz[:, None])
    new_params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]
    return new_params, float(loss)
'''

_TRAIN_STEP = [
    # visible: logits of order 1000 (assert_no_warnings); the grader's value is the error
    ("textbook loss log(1 + e^z) overflows", '''
def train_step(params, x, y, lr):
    out, cache = mlp_forward(x, params, "tanh")
    z, y = out[:, 0], np.asarray(y, dtype=float)
    loss = np.mean(np.log(1 + np.exp(z)) - y * z)
    dz = (ACTIVATIONS["sigmoid"](z) - y) / len(z)
''' + _TRAIN_STEP_TAIL),
    ("gradient not divided by N", '''
def train_step(params, x, y, lr):
    out, cache = mlp_forward(x, params, "tanh")
    z, y = out[:, 0], np.asarray(y, dtype=float)
    loss = np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z))))
    dz = ACTIVATIONS["sigmoid"](z) - y
''' + _TRAIN_STEP_TAIL),
    ("gradient ascent: the step goes up the gradient", '''
def train_step(params, x, y, lr):
    out, cache = mlp_forward(x, params, "tanh")
    z, y = out[:, 0], np.asarray(y, dtype=float)
    loss = np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z))))
    dz = (y - ACTIVATIONS["sigmoid"](z)) / len(z)
''' + _TRAIN_STEP_TAIL),
    ("returns the loss after the step", '''
def train_step(params, x, y, lr):
    out, cache = mlp_forward(x, params, "tanh")
    z, y = out[:, 0], np.asarray(y, dtype=float)
    dz = (ACTIVATIONS["sigmoid"](z) - y) / len(z)
    grads = mlp_backward(cache, dz[:, None])
    new_params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]
    z = mlp_forward(x, new_params, "tanh")[0][:, 0]
    return new_params, float(np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))))
'''),
    # visible: assert_not_mutated on the 2 -> 5 -> 1 network
    ("updates the parameters in place", '''
def train_step(params, x, y, lr):
    out, cache = mlp_forward(x, params, "tanh")
    z, y = out[:, 0], np.asarray(y, dtype=float)
    loss = np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z))))
    dz = (ACTIVATIONS["sigmoid"](z) - y) / len(z)
    grads = mlp_backward(cache, dz[:, None])
    for (W, b), (dW, db) in zip(params, grads):
        W -= lr * dW
        b -= lr * db
    return [(W, b) for W, b in params], float(loss)
'''),
    ("mean squared error of the probabilities instead of cross-entropy", '''
def train_step(params, x, y, lr):
    out, cache = mlp_forward(x, params, "tanh")
    z, y = out[:, 0], np.asarray(y, dtype=float)
    p = ACTIVATIONS["sigmoid"](z)
    loss = np.mean((p - y) ** 2)
    dz = 2 * (p - y) * p * (1 - p) / len(z)
''' + _TRAIN_STEP_TAIL),
]

# --- count_params and count_flops (one answer cell, two test cells) ------------------------

_COUNT_FLOPS = '''

def count_flops(layer_sizes):
    sizes = list(layer_sizes)
    return int(sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))
'''
_COUNT_PARAMS = '''
def count_params(layer_sizes):
    sizes = list(layer_sizes)
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))

'''

_COUNT = [
    ("count_params forgets the biases", '''
def count_params(layer_sizes):
    sizes = list(layer_sizes)
    return int(sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))
''' + _COUNT_FLOPS),
    ("count_params: one bias per input instead of per output", '''
def count_params(layer_sizes):
    sizes = list(layer_sizes)
    return int(sum(a * b + a for a, b in zip(sizes[:-1], sizes[1:])))
''' + _COUNT_FLOPS),
    ("count_params returns a float", '''
def count_params(layer_sizes):
    sizes = np.asarray(layer_sizes, dtype=float)
    return float(np.sum(sizes[:-1] * sizes[1:] + sizes[1:]))
''' + _COUNT_FLOPS),
    ("count_flops counts a multiply and an add separately", _COUNT_PARAMS + '''
def count_flops(layer_sizes):
    sizes = list(layer_sizes)
    return int(sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:])))
'''),
    ("count_flops includes the biases", _COUNT_PARAMS + '''
def count_flops(layer_sizes):
    sizes = list(layer_sizes)
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))
'''),
    ("count_flops skips the first layer", _COUNT_PARAMS + '''
def count_flops(layer_sizes):
    sizes = list(layer_sizes)
    return int(sum(a * b for a, b in zip(sizes[1:-1], sizes[2:])))
'''),
]

# --- interpretation questions (numeric and choice answers, checked hidden) ---------------

_XOR_LINEAR = [
    ("the MLP's accuracy", "XOR_LINEAR_ACCURACY = 0.99\n"),
    ("the best any line can do (0.75)", "XOR_LINEAR_ACCURACY = 0.75\n"),
    ("logistic regression with x1*x2", "XOR_LINEAR_ACCURACY = 0.98\n"),
    ("a percentage", "XOR_LINEAR_ACCURACY = 50.0\n"),
    ("a string", 'XOR_LINEAR_ACCURACY = "0.5"\n'),
]

_CLOSEST = [
    ("XOR", 'CLOSEST_DATASET = "XOR"\n'),
    ("spirals", 'CLOSEST_DATASET = "spirals"\n'),
    ("capitalised", 'CLOSEST_DATASET = "Moons"\n'),
]

_DIGITS_N = [
    ("the smallest size", "DIGITS_N_FOR_90 = 25\n"),
    ("the full set", "DIGITS_N_FOR_90 = 1258\n"),
    ("two steps early", "DIGITS_N_FOR_90 = 100\n"),
    ("a float", "DIGITS_N_FOR_90 = 400.0\n"),
]

_FLOPS_RATIO = [
    ("linear in the width", "FLOPS_RATIO_WIDTH = 2.0\n"),
    ("the inverse ratio", "FLOPS_RATIO_WIDTH = 0.26\n"),
    ("cubic in the width", "FLOPS_RATIO_WIDTH = 8.0\n"),
    ("an int", "FLOPS_RATIO_WIDTH = 4\n"),
]

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "neuron_forward": _NEURON,
    "dense_forward": _DENSE,
    "mlp_forward": _MLP_FORWARD,
    "collapse": _COLLAPSE,
    "dense_backward": _DENSE_BACKWARD,
    "mlp_backward": _MLP_BACKWARD,
    "train_step": _TRAIN_STEP,
    "count_params": _COUNT,
    "xor_linear_accuracy": _XOR_LINEAR,
    "closest_dataset": _CLOSEST,
    "digits_n_for_90": _DIGITS_N,
    "flops_ratio_width": _FLOPS_RATIO,
}
