"""Planted wrong answers for notebook 02 (loss functions).

Each entry maps an answer cell's ``grade_id`` to plausible wrong answers a student could
submit: ``(name, complete replacement source of the answer cell)``. ``tests/test_mutants.py``
runs the setup cell and every solution answer in one kernel, then for each mutant runs its
source followed by the exercise's test cells (hidden tests included), and requires at least
one of those test cells to fail, and the grader's comparison of ``graded_values`` to catch it.

Every mutant of a function exercise fails a *visible* test; comments say which visible case
catches the subtle ones. The interpretation questions are checked hidden only: their visible
test checks the form of the answer, and the exercise text says so.
"""

NOTEBOOK = "02_loss_functions"


def _reduced(body: str, name: str, args: str) -> str:
    """An answer cell defining ``name(args)`` whose per-element losses come from ``body``
    and whose reductions are right."""
    return f"""
def {name}({args}):
    pred = np.asarray(pred)
    target = np.asarray(target, dtype=pred.dtype)
{body}
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
"""


# --- mse ---------------------------------------------------------------------------------

_MSE_ARGS = 'pred, target, reduction="mean"'
_MSE = [
    ("no square: the mean residual", _reduced("    losses = pred - target", "mse", _MSE_ARGS)),
    (
        "root mean squared error",
        """
def mse(pred, target, reduction="mean"):
    pred = np.asarray(pred)
    losses = (pred - np.asarray(target, dtype=pred.dtype)) ** 2
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else np.sqrt(losses.mean())
""",
    ),
    # visible: the (2, 3) mean case divides by 6
    (
        "mean over rows only (divides by N)",
        """
def mse(pred, target, reduction="mean"):
    pred = np.asarray(pred)
    losses = (pred - np.asarray(target, dtype=pred.dtype)) ** 2
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / len(losses)
""",
    ),
    (
        "'sum' and 'none' swapped",
        """
def mse(pred, target, reduction="mean"):
    pred = np.asarray(pred)
    losses = (pred - np.asarray(target, dtype=pred.dtype)) ** 2
    if reduction == "sum":
        return losses
    return losses.sum() if reduction == "none" else losses.mean()
""",
    ),
    # visible: float32 pred against a float64 target
    (
        "target not cast: float64 result",
        """
def mse(pred, target, reduction="mean"):
    losses = (np.asarray(pred) - np.asarray(target, dtype=np.float64)) ** 2
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
""",
    ),
    (
        "calls torch",
        """
def mse(pred, target, reduction="mean"):
    import torch
    p = torch.from_numpy(np.asarray(pred))
    t = torch.from_numpy(np.asarray(target, dtype=np.asarray(pred).dtype))
    return torch.nn.functional.mse_loss(p, t, reduction=reduction).numpy()
""",
    ),
]

# --- mae ---------------------------------------------------------------------------------

_MAE_ARGS = 'pred, target, reduction="mean"'
_MAE = [
    ("no absolute value", _reduced("    losses = pred - target", "mae", _MAE_ARGS)),
    (
        "squares instead of absolute values",
        _reduced("    losses = (pred - target) ** 2", "mae", _MAE_ARGS),
    ),
    (
        "mean over rows only (divides by N)",
        """
def mae(pred, target, reduction="mean"):
    pred = np.asarray(pred)
    losses = np.abs(pred - np.asarray(target, dtype=pred.dtype))
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / len(losses)
""",
    ),
    (
        "target not cast: float64 result",
        """
def mae(pred, target, reduction="mean"):
    losses = np.abs(np.asarray(pred) - np.asarray(target, dtype=np.float64))
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
""",
    ),
]

# --- huber -------------------------------------------------------------------------------

_HUBER_ARGS = 'pred, target, delta=1.0, reduction="mean"'
_HUBER = [
    # visible: delta = 2 and delta = 0.5
    (
        "SmoothL1Loss(beta): divided by delta",
        _reduced(
            "    r = np.abs(pred - target)\n"
            "    losses = np.where(r <= delta, 0.5 * r * r / delta, r - 0.5 * delta)",
            "huber",
            _HUBER_ARGS,
        ),
    ),
    (
        "linear piece without the -delta/2 offset",
        _reduced(
            "    r = np.abs(pred - target)\n"
            "    losses = np.where(r <= delta, 0.5 * r * r, delta * r)",
            "huber",
            _HUBER_ARGS,
        ),
    ),
    (
        "quadratic piece not halved",
        _reduced(
            "    r = np.abs(pred - target)\n"
            "    losses = np.where(r <= delta, r * r, delta * (r - 0.5 * delta))",
            "huber",
            _HUBER_ARGS,
        ),
    ),
    (
        "delta ignored: always 1",
        _reduced(
            "    r = np.abs(pred - target)\n    losses = np.where(r <= 1.0, 0.5 * r * r, r - 0.5)",
            "huber",
            _HUBER_ARGS,
        ),
    ),
    # visible: the float32 case (np.where with a Python float keeps float32 here, so cast)
    (
        "float64 result for float32 input",
        _reduced(
            "    r = np.abs(pred - target).astype(np.float64)\n"
            "    losses = np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta))",
            "huber",
            _HUBER_ARGS,
        ),
    ),
]

# --- huber_backward ----------------------------------------------------------------------

_HB_HEAD = """
def huber_backward(pred, target, upstream=1.0, delta=1.0, reduction="mean"):
    pred = np.asarray(pred)
    r = pred - np.asarray(target, dtype=pred.dtype)
    g = np.asarray(upstream, dtype=pred.dtype)
"""
_HUBER_BACKWARD = [
    (
        "sign only (MAE's gradient)",
        _HB_HEAD
        + """
    if reduction == "mean":
        g = g / pred.size
    return (np.sign(r) * g).astype(pred.dtype)
""",
    ),
    (
        "not clipped (MSE-like)",
        _HB_HEAD
        + """
    if reduction == "mean":
        g = g / pred.size
    return (r * g).astype(pred.dtype)
""",
    ),
    # visible: the default (2, 3) case divides by 6
    (
        "mean divides by N rows",
        _HB_HEAD
        + """
    if reduction == "mean":
        g = g / len(pred)
    return (np.clip(r, -delta, delta) * g).astype(pred.dtype)
""",
    ),
    (
        "upstream ignored",
        _HB_HEAD
        + """
    n = pred.size if reduction == "mean" else 1
    return (np.clip(r, -delta, delta) / n).astype(pred.dtype)
""",
    ),
    (
        "clipped to [-1, 1] whatever delta",
        _HB_HEAD
        + """
    if reduction == "mean":
        g = g / pred.size
    return (np.clip(r, -1.0, 1.0) * g).astype(pred.dtype)
""",
    ),
]

# --- bce_with_logits ---------------------------------------------------------------------

_BCE_ARGS = 'z, y, reduction="mean"'


def _bce(body: str) -> str:
    return f"""
def bce_with_logits(z, y, reduction="mean"):
    z = np.asarray(z)
    y = np.asarray(y, dtype=z.dtype)
{body}
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
"""


_BCE = [
    # visible: assert_no_warnings and the finite 1e4 losses
    (
        "textbook form: log of sigmoid",
        _bce("    p = 1 / (1 + np.exp(-z))\n    losses = -y * np.log(p) - (1 - y) * np.log(1 - p)"),
    ),
    # visible: the float32 case at z = 10, y = 1 with atol=0
    (
        "log instead of log1p",
        _bce("    losses = np.maximum(z, 0) - z * y + np.log(1 + np.exp(-np.abs(z)))"),
    ),
    (
        "sign error: + z y",
        _bce("    losses = np.maximum(z, 0) + z * y + np.log1p(np.exp(-np.abs(z)))"),
    ),
    (
        "exp(-z) instead of exp(-|z|)",
        _bce("    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-z))"),
    ),
    (
        "mean over rows only (divides by N)",
        """
def bce_with_logits(z, y, reduction="mean"):
    z = np.asarray(z)
    y = np.asarray(y, dtype=z.dtype)
    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / len(losses)
""",
    ),
]

# --- bce_with_logits_backward ------------------------------------------------------------


def _bce_back(sig: str, tail: str = "") -> str:
    return f"""
def bce_with_logits_backward(z, y, upstream=1.0, reduction="mean"):
    z = np.asarray(z)
    {sig}
    local = sig - np.asarray(y, dtype=z.dtype)
    g = np.asarray(upstream, dtype=z.dtype)
    if reduction == "mean":
        g = g / {tail or "z.size"}
    return (local * g).astype(z.dtype)
"""


_STABLE_SIG = "e = np.exp(-np.abs(z))\n    sig = np.where(z >= 0, 1 / (1 + e), e / (1 + e))"
_BCE_BACKWARD = [
    # visible: assert_no_warnings at z = -1e4
    ("sigmoid overflows at z = -1e4", _bce_back("sig = 1 / (1 + np.exp(-z))")),
    (
        "y - sigmoid (sign flipped)",
        """
def bce_with_logits_backward(z, y, upstream=1.0, reduction="mean"):
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    sig = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    g = np.asarray(upstream, dtype=z.dtype)
    if reduction == "mean":
        g = g / z.size
    return ((np.asarray(y, dtype=z.dtype) - sig) * g).astype(z.dtype)
""",
    ),
    ("mean divides by N rows", _bce_back(_STABLE_SIG, "len(z)")),
    ("no division for the mean", _bce_back(_STABLE_SIG, "1")),
    (
        "sigmoid derivative instead of sigmoid",
        _bce_back(_STABLE_SIG + "\n    sig = sig * (1 - sig)"),
    ),
]

# --- cross_entropy -----------------------------------------------------------------------


def _ce(body: str, mean: str = "losses.mean()") -> str:
    return f"""
def cross_entropy(logits, labels, reduction="mean"):
    z = np.asarray(logits)
    labels = np.asarray(labels)
{body}
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else {mean}
"""


_CE_OK = (
    "    s = z - z.max(axis=1, keepdims=True)\n"
    "    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))\n"
    "    losses = -lp[np.arange(len(z)), labels]"
)
_CE = [
    # visible: assert_no_warnings and the 1e4 case
    (
        "no max subtraction: overflow",
        _ce(
            "    lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
            "    losses = -lp[np.arange(len(z)), labels]"
        ),
    ),
    (
        "log of a rounded softmax",
        _ce(
            "    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
            "    p = e / e.sum(axis=1, keepdims=True)\n"
            "    losses = -np.log(p[np.arange(len(z)), labels])"
        ),
    ),
    # visible: the default mean over N = 4 samples
    ("mean over all N*C logits", _ce(_CE_OK, "losses.sum() / z.size")),
    (
        "true class taken from the first row's label for every row",
        _ce(
            "    s = z - z.max(axis=1, keepdims=True)\n"
            "    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))\n"
            "    losses = -lp[:, labels[0]]"
        ),
    ),
    (
        "sign error: +log softmax",
        _ce(
            "    s = z - z.max(axis=1, keepdims=True)\n"
            "    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))\n"
            "    losses = lp[np.arange(len(z)), labels]"
        ),
    ),
]

# --- cross_entropy_backward --------------------------------------------------------------


def _ce_back(
    softmax: str,
    mean: str = "len(z)",
    none: str = "g[:, None]",
    onehot: str = "grad[np.arange(len(z)), np.asarray(labels)] -= 1",
) -> str:
    return f"""
def cross_entropy_backward(logits, labels, upstream=1.0, reduction="mean"):
    z = np.asarray(logits)
    {softmax}
    {onehot}
    g = np.asarray(upstream, dtype=z.dtype)
    if reduction == "mean":
        g = g / {mean}
    elif reduction == "none":
        g = {none}
    return (grad * g).astype(z.dtype)
"""


_SOFTMAX_OK = (
    "e = np.exp(z - z.max(axis=1, keepdims=True))\n    grad = e / e.sum(axis=1, keepdims=True)"
)
_CE_BACKWARD = [
    (
        "softmax without max subtraction: overflow",
        _ce_back("e = np.exp(z)\n    grad = e / e.sum(axis=1, keepdims=True)"),
    ),
    # visible: upstream -2 with the mean over N = 4 samples
    ("mean divides by N*C", _ce_back(_SOFTMAX_OK, mean="z.size")),
    (
        "onehot minus softmax (sign flipped)",
        _ce_back(
            _SOFTMAX_OK + "\n    grad = -grad",
            onehot="grad[np.arange(len(z)), np.asarray(labels)] += 1",
        ),
    ),
    # visible: the reduction='none' case with upstream (N,)
    (
        "'none' upstream ignored (ones)",
        _ce_back(_SOFTMAX_OK, none="np.ones((len(z), 1), dtype=z.dtype)"),
    ),
    (
        "softmax over the wrong axis",
        _ce_back(
            "e = np.exp(z - z.max(axis=0, keepdims=True))\n"
            "    grad = e / e.sum(axis=0, keepdims=True)"
        ),
    ),
    (
        "input modified in place",
        """
def cross_entropy_backward(logits, labels, upstream=1.0, reduction="mean"):
    z = np.asarray(logits)
    z -= z.max(axis=1, keepdims=True)
    grad = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    grad[np.arange(len(z)), np.asarray(labels)] -= 1
    g = np.asarray(upstream, dtype=z.dtype)
    if reduction == "mean":
        g = g / len(z)
    elif reduction == "none":
        g = g[:, None]
    return (grad * g).astype(z.dtype)
""",
    ),
]

# --- interpretation questions ------------------------------------------------------------

_DECADES = [
    ("one decade", "GRADIENT_DECADES = 1.0\n"),
    ("the ratio itself, not its log10", "GRADIENT_DECADES = 11014.0\n"),
    ("two decades", "GRADIENT_DECADES = 2.0\n"),
    ("an int", "GRADIENT_DECADES = 4\n"),
]
_LOWEST = [
    ("the sharpened model", 'LOWEST_LOSS_MODEL = "sharpened 4 z"\n'),
    ("the softened model", 'LOWEST_LOSS_MODEL = "softened z / 4"\n'),
    ("a name not in the table", 'LOWEST_LOSS_MODEL = "trained"\n'),
]
_MOST_HURT = [
    ("MAE", 'MOST_HURT_LOSS = "mae"\n'),
    ("Huber", 'MOST_HURT_LOSS = "huber"\n'),
    ("upper case", 'MOST_HURT_LOSS = "MSE"\n'),
]

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "mse": _MSE,
    "mae": _MAE,
    "huber": _HUBER,
    "huber_backward": _HUBER_BACKWARD,
    "bce_with_logits": _BCE,
    "bce_with_logits_backward": _BCE_BACKWARD,
    "cross_entropy": _CE,
    "cross_entropy_backward": _CE_BACKWARD,
    "gradient_decades": _DECADES,
    "lowest_loss_model": _LOWEST,
    "most_hurt_loss": _MOST_HURT,
}
