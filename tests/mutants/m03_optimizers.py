"""Planted wrong answers for notebook 03 (optimizers).

Each entry maps an answer cell's ``grade_id`` to plausible wrong answers a student could
submit: ``(name, complete replacement source of the answer cell)``. ``tests/test_mutants.py``
runs the setup cell and every solution answer in one kernel, then for each mutant runs its
source followed by the exercise's test cells (hidden tests included), and requires at least
one of those test cells to fail; the solution is restored before the next mutant.

Every mutant of a function exercise fails a *visible* test: the visible tests compare
several steps with ``torch.optim`` in configurations that expose each convention (weight
decay, the first momentum buffer, ``eps = 0.1`` for its place, bias correction at t = 1,
float32, the state passed in left unmodified). Only the interpretation questions are
checked hidden: their visible test checks the form of the answer.

Every mutant is also caught by the grader's own comparison of values outside the kernel
(each test cell's ``graded_values``): the step functions' values include the ``w``, ``g``
and ``state`` passed in, read after the run (in-place updates show there). The optimizer
classes' probes run with torch (``allow=("torch",)``) and make ``torch.optim``'s own
``step`` refuse to run, so a class that delegates to it gives no values.
"""

NOTEBOOK = "03_optimizers"

# --- sgd_step ------------------------------------------------------------------------------

_SGD = [
    (
        "weight decay ignored",
        """
def sgd_step(w, g, state, lr, weight_decay=0.0):
    return w - lr * g, {}
""",
    ),
    (
        "decay not scaled by lr",
        """
def sgd_step(w, g, state, lr, weight_decay=0.0):
    return w - lr * g - weight_decay * w, {}
""",
    ),
    # visible: the float32 configuration
    (
        "float64 result for float32 input",
        """
def sgd_step(w, g, state, lr, weight_decay=0.0):
    w = np.asarray(w, dtype=np.float64)
    return w - lr * (g + weight_decay * w), {}
""",
    ),
    (
        "updates w in place",
        """
def sgd_step(w, g, state, lr, weight_decay=0.0):
    w -= lr * (g + weight_decay * w)
    return w, {}
""",
    ),
    (
        "calls torch",
        """
def sgd_step(w, g, state, lr, weight_decay=0.0):
    t = torch.from_numpy(w)
    return (t - lr * (torch.from_numpy(g) + weight_decay * t)).numpy(), {}
""",
    ),
]

# --- momentum_step -------------------------------------------------------------------------

_MOMENTUM = [
    (
        "textbook (1 - momentum) * g",
        """
def momentum_step(w, g, state, lr, momentum=0.9, weight_decay=0.0):
    g = g + weight_decay * w
    buf = momentum * state["momentum_buffer"] + (1 - momentum) * g if state else g
    return w - lr * buf, {"momentum_buffer": buf}
""",
    ),
    (
        "first buffer (1 - momentum) * g, from zero",
        """
def momentum_step(w, g, state, lr, momentum=0.9, weight_decay=0.0):
    g = g + weight_decay * w
    buf = momentum * state.get("momentum_buffer", 0.0) + (1 - momentum) * g
    return w - lr * buf, {"momentum_buffer": buf}
""",
    ),
    (
        "weight decay outside the buffer",
        """
def momentum_step(w, g, state, lr, momentum=0.9, weight_decay=0.0):
    buf = momentum * state["momentum_buffer"] + g if state else g.copy()
    return w - lr * (buf + weight_decay * w), {"momentum_buffer": buf}
""",
    ),
    (
        "buffer updated in place",
        """
def momentum_step(w, g, state, lr, momentum=0.9, weight_decay=0.0):
    g = g + weight_decay * w
    if state:
        buf = state["momentum_buffer"]
        buf *= momentum
        buf += g
    else:
        buf = g
    return w - lr * buf, {"momentum_buffer": buf}
""",
    ),
    (
        "nesterov update",
        """
def momentum_step(w, g, state, lr, momentum=0.9, weight_decay=0.0):
    g = g + weight_decay * w
    buf = momentum * state["momentum_buffer"] + g if state else g
    return w - lr * (g + momentum * buf), {"momentum_buffer": buf}
""",
    ),
]

# --- rmsprop_step --------------------------------------------------------------------------

_RMSPROP = [
    # visible: the eps = 0.1 configuration
    (
        "eps inside the square root",
        """
def rmsprop_step(w, g, state, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
    g = g + weight_decay * w
    v = alpha * state.get("square_avg", 0.0) + (1 - alpha) * g * g
    return w - lr * g / np.sqrt(v + eps), {"square_avg": v}
""",
    ),
    (
        "average started at g**2",
        """
def rmsprop_step(w, g, state, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
    g = g + weight_decay * w
    v = alpha * state["square_avg"] + (1 - alpha) * g * g if state else g * g
    return w - lr * g / (np.sqrt(v) + eps), {"square_avg": v}
""",
    ),
    (
        "alpha and 1 - alpha swapped",
        """
def rmsprop_step(w, g, state, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
    g = g + weight_decay * w
    v = (1 - alpha) * state.get("square_avg", 0.0) + alpha * g * g
    return w - lr * g / (np.sqrt(v) + eps), {"square_avg": v}
""",
    ),
    (
        "weight decay only in the step",
        """
def rmsprop_step(w, g, state, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
    v = alpha * state.get("square_avg", 0.0) + (1 - alpha) * g * g
    return w - lr * (g + weight_decay * w) / (np.sqrt(v) + eps), {"square_avg": v}
""",
    ),
    (
        "average updated in place",
        """
def rmsprop_step(w, g, state, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
    g = g + weight_decay * w
    if state:
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
    else:
        v = (1 - alpha) * g * g
    return w - lr * g / (np.sqrt(v) + eps), {"square_avg": v}
""",
    ),
]

# --- ewma ----------------------------------------------------------------------------------

_EWMA = [
    (
        "bias_correction ignored",
        """
def ewma(values, beta, bias_correction=True):
    out = np.empty_like(values)
    v = np.zeros_like(values[0])
    for t in range(len(values)):
        v = beta * v + (1 - beta) * values[t]
        out[t] = v / (1 - beta ** (t + 1))
    return out
""",
    ),
    (
        "starts at the first value, not 0",
        """
def ewma(values, beta, bias_correction=True):
    out = np.empty_like(values)
    v = values[0]
    for t in range(len(values)):
        v = beta * v + (1 - beta) * values[t] if t else v
        out[t] = v / (1 - beta ** (t + 1)) if bias_correction else v
    return out
""",
    ),
    (
        "correction with t counted from 2",
        """
def ewma(values, beta, bias_correction=True):
    out = np.empty_like(values)
    v = np.zeros_like(values[0])
    for t in range(len(values)):
        v = beta * v + (1 - beta) * values[t]
        out[t] = v / (1 - beta ** (t + 2)) if bias_correction else v
    return out
""",
    ),
    # visible: the float32 case
    (
        "float64 result for float32 input",
        """
def ewma(values, beta, bias_correction=True):
    out = np.empty(np.shape(values))
    v = np.zeros(np.shape(values)[1:])
    for t in range(len(values)):
        v = beta * v + (1 - beta) * values[t]
        out[t] = v / (1 - beta ** (t + 1)) if bias_correction else v
    return out
""",
    ),
    # visible: the (T, D) case
    (
        "averages along the last axis",
        """
def ewma(values, beta, bias_correction=True):
    x = np.moveaxis(values, -1, 0)
    out = np.empty_like(x)
    v = np.zeros_like(x[0])
    for t in range(len(x)):
        v = beta * v + (1 - beta) * x[t]
        out[t] = v / (1 - beta ** (t + 1)) if bias_correction else v
    return np.moveaxis(out, 0, -1)
""",
    ),
]

# --- adam_step -----------------------------------------------------------------------------


def _adam(
    m_hat="m / (1 - beta1**t)",
    v_hat="v / (1 - beta2**t)",
    denom="np.sqrt(v_hat) + eps",
    decay="g = g + weight_decay * w",
    w_in="w",
    m_line=None,
):
    m_line = m_line or 'm = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g'
    return f"""
def adam_step(w, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    beta1, beta2 = betas
    {decay}
    t = state.get("step", 0) + 1
    {m_line}
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    m_hat = {m_hat}
    v_hat = {v_hat}
    new_w = {w_in} - lr * m_hat / ({denom})
    return new_w, {{"step": t, "exp_avg": m, "exp_avg_sq": v}}
"""


_ADAM = [
    ("no bias correction", _adam(m_hat="m", v_hat="v")),
    ("bias correction of m only", _adam(v_hat="v")),
    ("eps inside the square root", _adam(denom="np.sqrt(v_hat + eps)")),
    (
        "decoupled weight decay (AdamW) instead of L2",
        _adam(decay="", w_in="w * (1 - lr * weight_decay)"),
    ),
    ("betas swapped", _adam(m_line='m = beta2 * state.get("exp_avg", 0.0) + (1 - beta2) * g')),
    (
        "first moment updated in place",
        """
def adam_step(w, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    beta1, beta2 = betas
    g = g + weight_decay * w
    t = state.get("step", 0) + 1
    if state:
        m = state["exp_avg"]
        m *= beta1
        m += (1 - beta1) * g
    else:
        m = (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    new_w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return new_w, {"step": t, "exp_avg": m, "exp_avg_sq": v}
""",
    ),
]

# --- adamw_step ----------------------------------------------------------------------------

_ADAMW = [
    (
        "decay after the Adam step",
        """
def adamw_step(w, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    new_w, new_state = adam_step(w, g, state, lr, betas, eps, weight_decay=0.0)
    return new_w * (1 - lr * weight_decay), new_state
""",
    ),
    (
        "coupled L2, as Adam",
        """
def adamw_step(w, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    return adam_step(w, g, state, lr, betas, eps, weight_decay=weight_decay)
""",
    ),
    (
        "decay not scaled by lr",
        """
def adamw_step(w, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    return adam_step(w * (1 - weight_decay), g, state, lr, betas, eps, weight_decay=0.0)
""",
    ),
    # visible: "the default weight_decay is 0.01"
    (
        "default weight_decay 0",
        """
def adamw_step(w, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    return adam_step(w * (1 - lr * weight_decay), g, state, lr, betas, eps, weight_decay=0.0)
""",
    ),
]

# --- MySGD ---------------------------------------------------------------------------------


def _my_sgd(body):
    return (
        """
class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
"""
        + body
    )


_MY_SGD = [
    (
        "the defaults' lr, not each group's",
        _my_sgd("""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                w, g = p.detach().numpy(), p.grad.numpy()
                new_w, self.state[p] = momentum_step(w, g, self.state[p], self.defaults["lr"],
                                                     group["momentum"], group["weight_decay"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "parameters without .grad not skipped",
        _my_sgd("""
        for group in self.param_groups:
            for p in group["params"]:
                w, g = p.detach().numpy(), p.grad.numpy()
                new_w, self.state[p] = momentum_step(w, g, self.state[p], group["lr"],
                                                     group["momentum"], group["weight_decay"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "momentum state never stored",
        _my_sgd("""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                w, g = p.detach().numpy(), p.grad.numpy()
                new_w, _ = momentum_step(w, g, {}, group["lr"], group["momentum"],
                                         group["weight_decay"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "weight decay dropped",
        _my_sgd("""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                w, g = p.detach().numpy(), p.grad.numpy()
                new_w, self.state[p] = momentum_step(w, g, self.state[p], group["lr"],
                                                     group["momentum"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "delegates to torch.optim.SGD",
        _my_sgd("""
        if not hasattr(self, "_inner"):
            self._inner = torch.optim.SGD(self.param_groups)
        self._inner.step()
"""),
    ),
]

# --- MyAdam --------------------------------------------------------------------------------


def _my_adam(body):
    return (
        """
class MyAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled=False):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "decoupled": decoupled}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
"""
        + body
    )


_MY_ADAM = [
    (
        "decoupled ignored: always Adam",
        _my_adam("""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                new_w, self.state[p] = adam_step(p.detach().numpy(), p.grad.numpy(), self.state[p],
                                                 group["lr"], group["betas"], group["eps"],
                                                 group["weight_decay"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "the defaults' hyperparameters, not each group's",
        _my_adam("""
        d = self.defaults
        step_fn = adamw_step if d["decoupled"] else adam_step
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                new_w, self.state[p] = step_fn(p.detach().numpy(), p.grad.numpy(), self.state[p],
                                               d["lr"], d["betas"], d["eps"], d["weight_decay"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "state restarted every step (bias correction always at t = 1)",
        _my_adam("""
        for group in self.param_groups:
            step_fn = adamw_step if group["decoupled"] else adam_step
            for p in group["params"]:
                if p.grad is None:
                    continue
                new_w, _ = step_fn(p.detach().numpy(), p.grad.numpy(), {}, group["lr"],
                                   group["betas"], group["eps"], group["weight_decay"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "parameters without .grad not skipped",
        _my_adam("""
        for group in self.param_groups:
            step_fn = adamw_step if group["decoupled"] else adam_step
            for p in group["params"]:
                new_w, self.state[p] = step_fn(p.detach().numpy(), p.grad.numpy(), self.state[p],
                                               group["lr"], group["betas"], group["eps"],
                                               group["weight_decay"])
                p.copy_(torch.from_numpy(new_w))
"""),
    ),
    (
        "delegates to torch.optim.Adam / AdamW",
        _my_adam("""
        if not hasattr(self, "_inner"):
            groups = [{k: v for k, v in g.items() if k != "decoupled"} for g in self.param_groups]
            cls = torch.optim.AdamW if self.defaults["decoupled"] else torch.optim.Adam
            self._inner = cls(groups)
        self._inner.step()
"""),
    ),
]

MUTANTS = {
    "sgd_step": _SGD,
    "momentum_step": _MOMENTUM,
    "rmsprop_step": _RMSPROP,
    "ewma": _EWMA,
    "adam_step": _ADAM,
    "adamw_step": _ADAMW,
    "my_sgd": _MY_SGD,
    "my_adam": _MY_ADAM,
    "gd_x1_after_20": [
        ("the row of lr = 0.05", "GD_X1_AFTER_20 = -4.09\n"),
        ("x2 instead of x1", "GD_X1_AFTER_20 = -7.3e-05\n"),
        ("the row of lr = 0.6", "GD_X1_AFTER_20 = -0.39\n"),
        ("an int", "GD_X1_AFTER_20 = -1\n"),
    ],
    "slowest_on_moons": [
        ("Adam", 'SLOWEST_ON_MOONS = "Adam"\n'),
        ("momentum", 'SLOWEST_ON_MOONS = "momentum"\n'),
        ("lower case", 'SLOWEST_ON_MOONS = "sgd"\n'),
    ],
    "l2_shrinks_more": [
        ("large", 'L2_SHRINKS_MORE = "large"\n'),
        ("a letter", 'L2_SHRINKS_MORE = "A"\n'),
        ("capitalised", 'L2_SHRINKS_MORE = "Small"\n'),
    ],
}
