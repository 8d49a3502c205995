"""Planted wrong answers for notebook 04 (regularization).

Each entry maps an answer cell's ``grade_id`` to plausible wrong answers a student could
submit: ``(name, complete replacement source of the answer cell)``. ``tests/test_mutants.py``
runs the setup cell and every solution answer in one kernel, then for each mutant runs its
source followed by the exercise's test cells (hidden tests included), and requires at least
one of those test cells to fail; the solution is restored before the next mutant.

Every mutant of a function exercise fails a *visible* test; comments say which visible case
catches the subtle ones. The interpretation questions are checked hidden only (their
visible test checks the form). Every mutant is also caught by the grader's comparison of
``graded_values`` outside the kernel; the forbidden-call mutants because no value reaches
the grader (torch and dl_helpers cannot be imported in its verification kernel).
"""

NOTEBOOK = "04_regularization"

# --- l2_penalty ----------------------------------------------------------------------------

_L2 = [
    ("no factor 1/2 (Keras's convention)", '''
def l2_penalty(params, lam):
    weights = [params] if isinstance(params, np.ndarray) else params
    return lam * sum(float(np.sum(np.asarray(w, dtype=np.float64) ** 2)) for w in weights)
'''),
    ("the norm, not its square", '''
def l2_penalty(params, lam):
    weights = [params] if isinstance(params, np.ndarray) else params
    return 0.5 * lam * sum(float(np.sqrt(np.sum(np.asarray(w) ** 2))) for w in weights)
'''),
    ("a mean instead of a sum", '''
def l2_penalty(params, lam):
    weights = [params] if isinstance(params, np.ndarray) else params
    return 0.5 * lam * sum(float(np.mean(np.asarray(w, dtype=np.float64) ** 2)) for w in weights)
'''),
    ("L1 instead of L2", '''
def l2_penalty(params, lam):
    weights = [params] if isinstance(params, np.ndarray) else params
    return 0.5 * lam * sum(float(np.sum(np.abs(w))) for w in weights)
'''),
    ("only the first array of a list", '''
def l2_penalty(params, lam):
    w = params if isinstance(params, np.ndarray) else params[0]
    return 0.5 * lam * float(np.sum(np.asarray(w, dtype=np.float64) ** 2))
'''),
]

# --- l2_penalty_backward -------------------------------------------------------------------

_L2B = [
    ("2 * lam * W (the gradient of Keras's penalty)", '''
def l2_penalty_backward(params, lam, upstream=1.0):
    if isinstance(params, np.ndarray):
        return 2 * upstream * lam * params
    return [2 * upstream * lam * np.asarray(w) for w in params]
'''),
    ("upstream ignored", '''
def l2_penalty_backward(params, lam, upstream=1.0):
    if isinstance(params, np.ndarray):
        return lam * params
    return [lam * np.asarray(w) for w in params]
'''),
    # visible: float32 case
    ("float64 result for float32 weights", '''
def l2_penalty_backward(params, lam, upstream=1.0):
    if isinstance(params, np.ndarray):
        return upstream * lam * params.astype(np.float64)
    return [upstream * lam * np.asarray(w, dtype=np.float64) for w in params]
'''),
    ("scales the weights in place", '''
def l2_penalty_backward(params, lam, upstream=1.0):
    if isinstance(params, np.ndarray):
        params *= upstream * lam
        return params
    out = []
    for w in params:
        w *= upstream * lam
        out.append(w)
    return out
'''),
]

# --- sgd_weight_decay_step -----------------------------------------------------------------

_DECAY = [
    ("decay not multiplied by lr", '''
def sgd_weight_decay_step(w, grad, lr, lam):
    return (1 - lam) * w - lr * grad
'''),
    ("decay applied after the step", '''
def sgd_weight_decay_step(w, grad, lr, lam):
    return (1 - lr * lam) * (w - lr * grad)
'''),
    ("decay with the wrong sign", '''
def sgd_weight_decay_step(w, grad, lr, lam):
    return (1 + lr * lam) * w - lr * grad
'''),
    ("updates w in place", '''
def sgd_weight_decay_step(w, grad, lr, lam):
    w *= 1 - lr * lam
    w -= lr * grad
    return w
'''),
    ("calls torch", '''
def sgd_weight_decay_step(w, grad, lr, lam):
    p = torch.nn.Parameter(torch.tensor(w))
    p.grad = torch.tensor(grad)
    torch.optim.SGD([p], lr=lr, weight_decay=lam).step()
    return p.detach().numpy()
'''),
]

# --- dropout_forward -----------------------------------------------------------------------

_DROPOUT = [
    ("p read as the keep probability", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x.copy(), np.ones_like(x)
    keep = rng.random(x.shape) < p
    mask = (keep / p if p > 0 else keep * 0.0).astype(x.dtype)
    return x * mask, mask
'''),
    ("no 1/(1-p) scaling (vanilla dropout)", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x.copy(), np.ones_like(x)
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask, mask
'''),
    ("scaled by 1/p", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x.copy(), np.ones_like(x)
    keep = rng.random(x.shape) >= p
    mask = (keep / p if p > 0 else keep * 1.0).astype(x.dtype)
    return x * mask, mask
'''),
    ("eval mode scales by (1 - p)", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x * (1 - p), np.full_like(x, 1 - p)
    keep = rng.random(x.shape) >= p
    mask = (keep * (0.0 if p == 1 else 1 / (1 - p))).astype(x.dtype)
    return x * mask, mask
'''),
    # visible: p = 1 under assert_no_warnings
    ("divides by zero at p = 1", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x.copy(), np.ones_like(x)
    keep = rng.random(x.shape) >= p
    mask = (keep / (1 - p)).astype(x.dtype)
    return x * mask, mask
'''),
    # visible: the seeded-generator case (strict > is the same only where u == p)
    ("a different draw (the numbers in another order)", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x.copy(), np.ones_like(x)
    u = rng.random(x.shape[::-1]).T  # the right numbers, in the wrong order
    mask = ((u >= p) * (0.0 if p == 1 else 1 / (1 - p))).astype(x.dtype)
    return x * mask, mask
'''),
    ("float64 mask for float32 x", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x.copy(), np.ones_like(x)
    keep = rng.random(x.shape) >= p
    mask = keep * (0.0 if p == 1 else 1 / (1 - p))
    return x * mask, mask
'''),
    ("multiplies x in place", '''
def dropout_forward(x, p, train, rng=None):
    if not train:
        return x, np.ones_like(x)
    keep = rng.random(x.shape) >= p
    mask = (keep * (0.0 if p == 1 else 1 / (1 - p))).astype(x.dtype)
    x *= mask
    return x, mask
'''),
]

# --- dropout_backward ----------------------------------------------------------------------

_DROPOUTB = [
    ("gradient not scaled (mask > 0 only)", '''
def dropout_backward(cache, upstream):
    return upstream * (cache > 0)
'''),
    ("gradient passed unchanged", '''
def dropout_backward(cache, upstream):
    return upstream.copy()
'''),
    ("divides by the mask", '''
def dropout_backward(cache, upstream):
    return np.where(cache > 0, upstream / np.where(cache > 0, cache, 1), 0).astype(cache.dtype)
'''),
    ("float64 for float32", '''
def dropout_backward(cache, upstream):
    return (upstream * cache).astype(np.float64)
'''),
]

# --- batchnorm_forward ---------------------------------------------------------------------

_BN_BODY = '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    n = len(x)
    if train:
        mean, var = x.mean(axis=0), {var}
        new_mean = {new_mean}
        new_var = {new_var}
    else:
        mean, var = {eval_stats}
        new_mean, new_var = running_mean.copy(), running_var.copy()
    inv_std = {inv_std}
    x_hat = (x - mean) * inv_std
    cache = (x_hat, gamma, inv_std, train)
    return gamma * x_hat + beta, cache, new_mean, new_var
'''
_BN_OK = {
    "var": "x.var(axis=0)",
    "new_mean": "(1 - momentum) * running_mean + momentum * mean",
    "new_var": "(1 - momentum) * running_var + momentum * var * n / (n - 1)",
    "eval_stats": "running_mean, running_var",
    "inv_std": "1 / np.sqrt(var + eps)",
}


_BIASED_RUN = "(1 - momentum) * running_var + momentum * var"


def _bn(**change: str) -> str:
    return _BN_BODY.format(**{**_BN_OK, **change})


_BN = [
    ("unbiased variance to normalise", _bn(var="x.var(axis=0, ddof=1)", new_var=_BIASED_RUN)),
    ("biased variance in running_var", _bn(new_var=_BIASED_RUN)),
    ("momentum as the weight of the past", _bn(
        new_mean="momentum * running_mean + (1 - momentum) * mean",
        new_var="momentum * running_var + (1 - momentum) * var * n / (n - 1)")),
    ("batch statistics in eval mode", _bn(eval_stats="x.mean(axis=0), x.var(axis=0)")),
    ("eps outside the square root", _bn(inv_std="1 / (np.sqrt(var) + eps)")),
    ("running statistics updated in place", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    n = len(x)
    if train:
        mean, var = x.mean(axis=0), x.var(axis=0)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, train), running_mean, running_var
'''),
    ("float64 for float32 input", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    x = x.astype(np.float64)
    n = len(x)
    if train:
        mean, var = x.mean(axis=0), x.var(axis=0)
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, train), new_mean, new_var
'''),
]

# --- batchnorm_backward --------------------------------------------------------------------

_BNB = [
    ("no gradient through the batch statistics", '''
def batchnorm_backward(cache, upstream):
    x_hat, gamma, inv_std, train = cache
    return inv_std * gamma * upstream, (upstream * x_hat).sum(axis=0), upstream.sum(axis=0)
'''),
    ("only the mean's term", '''
def batchnorm_backward(cache, upstream):
    x_hat, gamma, inv_std, train = cache
    d = gamma * upstream
    if train:
        d = d - d.mean(axis=0)
    return inv_std * d, (upstream * x_hat).sum(axis=0), upstream.sum(axis=0)
'''),
    ("training formula in eval mode too", '''
def batchnorm_backward(cache, upstream):
    x_hat, gamma, inv_std, train = cache
    d = gamma * upstream
    d = d - d.mean(axis=0) - x_hat * (d * x_hat).mean(axis=0)
    return inv_std * d, (upstream * x_hat).sum(axis=0), upstream.sum(axis=0)
'''),
    ("dgamma without x_hat", '''
def batchnorm_backward(cache, upstream):
    x_hat, gamma, inv_std, train = cache
    d = gamma * upstream
    if train:
        d = d - d.mean(axis=0) - x_hat * (d * x_hat).mean(axis=0)
    return inv_std * d, upstream.sum(axis=0), upstream.sum(axis=0)
'''),
    ("gamma forgotten in dx", '''
def batchnorm_backward(cache, upstream):
    x_hat, gamma, inv_std, train = cache
    d = upstream
    if train:
        d = d - d.mean(axis=0) - x_hat * (d * x_hat).mean(axis=0)
    return inv_std * d, (upstream * x_hat).sum(axis=0), upstream.sum(axis=0)
'''),
    # caught by the visible float32 case
    ("dx computed in float64 whatever the input", '''
def batchnorm_backward(cache, upstream):
    x_hat, gamma, inv_std, train = cache
    d = np.asarray(gamma * upstream, dtype=np.float64)
    if train:
        d = d - d.mean(axis=0) - x_hat * (d * x_hat).mean(axis=0)
    return inv_std * d, (upstream * x_hat).sum(axis=0), upstream.sum(axis=0)
'''),
]

# --- EarlyStopping -------------------------------------------------------------------------

_ES_BODY = '''
import copy


class EarlyStopping:
    def __init__(self, patience, min_delta=0.0, mode="min", restore_best=True):
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.restore_best = restore_best
        self.best = np.inf if mode == "min" else -np.inf
        self.best_epoch, self.epoch, self.bad_epochs, self.best_state = None, 0, 0, None

    def step(self, metric, model=None):
        self.epoch += 1
        if self.mode == "min":
            improved = {improved_min}
        else:
            improved = {improved_max}
        if improved:
            self.best, self.best_epoch, self.bad_epochs = metric, self.epoch, {reset}
            if self.restore_best:
                self.best_state = {copy}
            return False
        self.bad_epochs += 1
        stop = {stop}
        if stop and self.restore_best:
            {restore}
        return stop

    def restore(self, model):
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
'''
_ES_OK = {
    "improved_min": "metric < self.best - self.min_delta",
    "improved_max": "metric > self.best + self.min_delta",
    "reset": "0",
    "copy": "copy.deepcopy(model.state_dict())",
    "stop": "self.bad_epochs >= self.patience",
    "restore": "self.restore(model)",
}


def _es(**change: str) -> str:
    return _ES_BODY.format(**{**_ES_OK, **change})


_ES = [
    ("state_dict() not deep-copied", _es(copy="model.state_dict()")),
    ("a shallow dict copy (the tensors still shared)", _es(copy="dict(model.state_dict())")),
    ("best weights not restored when stopping", _es(restore="pass")),
    ("patience off by one", _es(stop="self.bad_epochs > self.patience")),
    ("an equal metric counts as an improvement", _es(
        improved_min="metric <= self.best - self.min_delta",
        improved_max="metric >= self.best + self.min_delta")),
    ("min_delta ignored", _es(improved_min="metric < self.best",
                              improved_max="metric > self.best")),
    ("mode ignored (always min)", _es(improved_max="metric < self.best - self.min_delta")),
    ("bad epochs not reset on improvement", _es(reset="self.bad_epochs")),
]

# --- interpretation questions --------------------------------------------------------------

_GAP = [
    ("the validation accuracy instead of the gap", "GAP_NO_REG = 0.9\n"),
    ("the gap with regularization ruled out as 0", "GAP_NO_REG = 0.0\n"),
    ("a percentage", "GAP_NO_REG = 10.0\n"),
]

_SCALES = [
    ("the count with batch norm", "SCALES_TRAINED_WITHOUT_BN = 5\n"),
    ("none", "SCALES_TRAINED_WITHOUT_BN = 0\n"),
    ("the three middle scales", "SCALES_TRAINED_WITHOUT_BN = 3\n"),
]

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "l2_penalty": _L2,
    "l2_penalty_backward": _L2B,
    "sgd_weight_decay_step": _DECAY,
    "dropout_forward": _DROPOUT,
    "dropout_backward": _DROPOUTB,
    "batchnorm_forward": _BN,
    "batchnorm_backward": _BNB,
    "early_stopping": _ES,
    "gap_no_reg": _GAP,
    "scales_trained_without_bn": _SCALES,
}
